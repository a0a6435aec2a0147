/**
 * Typed failures of `send()` (BP-13: a send that cannot be delivered fails visibly, never silently).
 * `kind` is a short stable word so adapters (CLI, conformance) can report it without instanceof.
 */
export type SendErrorKind = 'queue-full' | 'too-big' | 'closed' | 'failed';

export class SendError extends Error {
  readonly kind: SendErrorKind;
  constructor(kind: SendErrorKind, message: string) {
    super(message);
    this.name = 'SendError';
    this.kind = kind;
  }
}

/** The outbound queue holds `queueLimitMessages` unacknowledged messages already (BP-13). */
export class QueueFullError extends SendError {
  readonly limit: number;
  constructor(limit: number) {
    super('queue-full', `BP-13: outbound queue full (${limit} messages not yet acknowledged)`);
    this.name = 'QueueFullError';
    this.limit = limit;
  }
}

/** The encoded message is larger than the server accepts (WIRE-4: rejected locally). */
export class PayloadTooLargeError extends SendError {
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number) {
    super('too-big', `WIRE-4: message of ${bytes} B exceeds the server's ${maxBytes} B`);
    this.name = 'PayloadTooLargeError';
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** close() was called before the server acknowledged the message (RC-9). */
export class ClientClosedError extends SendError {
  constructor() {
    super('closed', 'RC-9: the client was closed before the server acknowledged the message');
    this.name = 'ClientClosedError';
  }
}

/** The client entered `failed` (advice none, RC-6): delivery can no longer be confirmed. */
export class ClientFailedError extends SendError {
  readonly code: number | undefined;
  constructor(code: number | undefined, reason: string) {
    super('failed', `RC-6: the connection failed for good (${code ?? 'no code'} ${reason}); delivery unconfirmed`);
    this.name = 'ClientFailedError';
    this.code = code;
  }
}
