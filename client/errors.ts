/**
 * Typed failures of `send()` (BP-13: a send that cannot be delivered fails visibly, never silently).
 * `kind` is a short stable word so adapters (CLI, conformance) can report it without instanceof.
 */
export type SendErrorKind = 'queue-full' | 'too-big' | 'invalid' | 'closed' | 'failed';

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

/** A field of the message is out of its bound (WIRE-5, e.g. a message id over 128 bytes): rejected locally. */
export class InvalidMessageError extends SendError {
  constructor(reason: string) {
    super('invalid', reason);
    this.name = 'InvalidMessageError';
  }
}

/**
 * close() was called first (RC-9): before the server acknowledged the message, or before what
 * `ready()` or `subscribe()` waited for.
 */
export class ClientClosedError extends SendError {
  /** @param what what was still awaited, for the message. */
  constructor(what = 'the server acknowledged the message') {
    super('closed', `RC-9: the client was closed before ${what}`);
    this.name = 'ClientClosedError';
  }
}

/**
 * The client entered `failed` (advice never, RC-6): delivery (or what `ready()` or `subscribe()`
 * waited for) can no longer be confirmed. `reconnect()` tries again.
 */
export class ClientFailedError extends SendError {
  /** The close code (or HTTP status) that ended the last attempt, if any. */
  readonly code: number | undefined;
  /** @param what what is unconfirmed, for the message. */
  constructor(code: number | undefined, reason: string, what = 'delivery unconfirmed') {
    super('failed', `RC-6: the connection failed for good (${code ?? 'no code'} ${reason}); ${what}`);
    this.name = 'ClientFailedError';
    this.code = code;
  }
}

/** Why a `subscribe()` promise rejected, other than close() or `failed`. */
export type SubscribeErrorKind = 'refused' | 'cancelled';

/**
 * A subscription that did not come into effect: the server left the channels out of its
 * `Subscribed` (refused, §12.2), or `unsubscribe()` was called before the confirmation (cancelled).
 */
export class SubscribeError extends Error {
  readonly kind: SubscribeErrorKind;
  /** The channels concerned. */
  readonly channels: readonly string[];
  constructor(kind: SubscribeErrorKind, channels: readonly string[]) {
    super(kind === 'refused' ? `the server refused channel(s) ${channels.join(', ')}` : `unsubscribe() before channel(s) ${channels.join(', ')} were confirmed`);
    this.name = 'SubscribeError';
    this.kind = kind;
    this.channels = channels;
  }
}
