/**
 * WIRE-12: v1 has no field for the client's frame limit, so a server never sends a client a frame
 * larger than the default limit (1 MiB). Oversized application messages are refused where the
 * application hands them over (send, publish), so it learns at once and no session is touched;
 * the connection's write refuses whatever still gets through (a snapshot the hook made too large).
 */
import { defaults } from '../spec/protocol/defaults.js';
import type { PublishMessage, PublishPatch } from './options.js';

/** The largest frame a server sends a client (WIRE-12). */
export const CLIENT_FRAME_LIMIT_BYTES = defaults.maxPayloadBytes;

/**
 * Room for everything but the payload: Envelope and body tags and lengths, seq, versions, digest,
 * dropped_before (all varints, at most 10 bytes each). Strings are counted separately.
 */
const FIXED_OVERHEAD_BYTES = 96;

const utf8 = new TextEncoder();
const byteLengthOf = (s: string | undefined) => (s ? utf8.encode(s).byteLength : 0);

function assertFits(what: string, variableBytes: number): void {
  if (variableBytes + FIXED_OVERHEAD_BYTES > CLIENT_FRAME_LIMIT_BYTES) {
    throw new RangeError(`WIRE-12: ${what} of ${variableBytes} bytes would not fit in a ${CLIENT_FRAME_LIMIT_BYTES}-byte frame to a client`);
  }
}

/** Throws RangeError when a Message with this content could exceed the client's frame limit. */
export function assertMessageFits(channel: string, m: Omit<PublishMessage, 'channel'>): void {
  assertFits('a message', m.payload.byteLength + byteLengthOf(channel) + byteLengthOf(m.key) + byteLengthOf(m.messageId));
}

/** Throws RangeError when a StatePatch with this content could exceed the client's frame limit. */
export function assertPatchFits(channel: string, p: PublishPatch): void {
  assertFits('a state patch', p.delta.byteLength + byteLengthOf(channel) + byteLengthOf(p.messageId));
}

/** The last guard, at the socket: a frame over the limit is never written. */
export function assertFrameFits(bytes: Uint8Array): void {
  if (bytes.byteLength > CLIENT_FRAME_LIMIT_BYTES) {
    throw new RangeError(`WIRE-12: a ${bytes.byteLength}-byte frame exceeds the client's ${CLIENT_FRAME_LIMIT_BYTES}-byte limit`);
  }
}
