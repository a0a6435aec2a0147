/**
 * The wire protocol as a library (`lifeline/protocol`), for anyone writing another implementation
 * or a tool that reads Lifeline frames: the Envelope messages (generated from proto/), the codec
 * (spec §4), the close-code registry (spec §14), the protocol's defaults (spec §17) and the pure
 * helpers both ends share. Browser-safe: nothing here uses a Node API.
 *
 * @module lifeline/protocol
 */
// `create(EnvelopeSchema, …)` builds an Envelope; only the codec below turns it into bytes.
export { create } from '@bufbuild/protobuf';
export * from '../../gen/lifeline/v1/envelope_pb.js';
export { decode, decodeOrThrow, encode, validate, type BodyCase, type DecodeOptions, type DecodeResult, type Role } from './codec.js';
export {
  adviceForCode,
  adviceForHttpStatus,
  clampCloseReason,
  closeCodeName,
  closeCodes,
  codeOf,
  httpStatusName,
  MAX_CLOSE_REASON_BYTES,
  type Advice,
  type CloseCodeName,
  type CloseRow,
  type Retry,
  type Sender,
  type WsCloseCodeName,
} from './close-codes.js';
export { isProtocolError, ProtocolError } from './errors.js';
export { defaults, PROTOCOL_VERSION, SUBPROTOCOL, type Defaults } from './defaults.js';
export { crc32c, stateDigest } from './digest.js';
export { backoffCeilingMs, backoffDelayMs, type BackoffOptions } from './backoff.js';
export { backgroundTimers, systemClock, type Clock, type TimerHandle } from './clock.js';
