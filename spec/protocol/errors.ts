import { clampCloseReason, codeOf, type WsCloseCodeName } from './close-codes.js';

/**
 * A protocol failure named by its registry key. Adapters close the socket with
 * `error.code`; anything that is not a ProtocolError closes with 1011 (CC-5).
 */
export class ProtocolError extends Error {
  readonly closeName: WsCloseCodeName;
  readonly code: number;
  /** The spec id of the rule that was broken. */
  readonly spec: string;

  constructor(closeName: WsCloseCodeName, spec: string, detail: string) {
    super(clampCloseReason(`${spec}: ${detail}`));
    this.name = 'ProtocolError';
    this.closeName = closeName;
    this.code = codeOf(closeName);
    this.spec = spec;
  }

  /** The close reason to send: the message, ≤ 123 UTF-8 bytes (CC-1). */
  get reason(): string {
    return this.message;
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
