/**
 * Closes raised by `ws` itself (CC-11). `ws` checks each frame before Lifeline's codec sees it: an
 * invalid UTF-8 text frame (1007), RSV bits or an unmasked client frame (1002), a frame over
 * `maxPayload` (1009). It then sends its own close frame and emits `error`; the session machine
 * never heard of it, so without this the socket's close looked like a drop (1006) and the session
 * stayed resumable. Mapped here to the registry name the same error caught by the codec gets, so
 * both layers end the session by the registry's reset rule.
 */
import { closeCodeName, type WsCloseCodeName } from '../../spec/protocol/close-codes.js';

/** ws's error codes (ws/lib/receiver.js) and the close code ws sends for each. */
const byWsCode: Readonly<Record<string, number>> = {
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
};

/** The status code ws attached to a receiver error (its private `Symbol('status-code')`), if any. */
function attachedStatus(err: Error): number | undefined {
  const sym = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  const v = sym === undefined ? undefined : (err as unknown as Record<symbol, unknown>)[sym];
  return typeof v === 'number' ? v : undefined;
}

/**
 * The registry name of the close ws sent for this socket error, or undefined for errors that are
 * not a peer's protocol error (ECONNRESET, EPIPE: the transport died, RS-1 keeps the session).
 */
export function wsProtocolErrorName(err: Error): WsCloseCodeName | undefined {
  const code = (err as Error & { code?: unknown }).code;
  const status = attachedStatus(err) ?? (typeof code === 'string' ? byWsCode[code] : undefined);
  if (status === undefined) return undefined;
  const name = closeCodeName(status);
  return name !== undefined && name.startsWith('HTTP_') ? undefined : (name as WsCloseCodeName | undefined);
}
