/**
 * WIRE-12: v1 has no field for the client's frame limit, so a server never sends a client a frame
 * larger than the default limit (1 MiB). Oversized application messages are refused where the
 * application hands them over (send, publish), so it learns at once and no session is touched;
 * the connection's write refuses whatever still gets through (a snapshot the hook made too large).
 */
import { defaults } from '../spec/protocol/defaults.js';
import type { PublishMessage, PublishPatch } from './types.js';

/** The largest frame a server sends a client (WIRE-12). */
export const CLIENT_FRAME_LIMIT_BYTES = defaults.maxPayloadBytes;

/**
 * Room for everything but the payload: Envelope and body tags and lengths, seq, versions, digest,
 * dropped_before (all varints, at most 10 bytes each). Strings are counted separately.
 */
const FIXED_OVERHEAD_BYTES = 96;

const utf8 = new TextEncoder();
const utf8Length = (s: string | undefined) => (s ? utf8.encode(s).byteLength : 0);

/**
 * `session.send` runs this per message, so nothing is encoded while the bound is clearly kept: a
 * UTF-16 code unit is at most 3 UTF-8 bytes. Only content near the limit is measured exactly.
 */
function assertFits(what: string, binaryBytes: number, s1: string, s2: string | undefined, s3?: string): void {
  const upper = binaryBytes + FIXED_OVERHEAD_BYTES + 3 * (s1.length + (s2?.length ?? 0) + (s3?.length ?? 0));
  if (upper <= CLIENT_FRAME_LIMIT_BYTES) return;
  const exact = binaryBytes + utf8Length(s1) + utf8Length(s2) + utf8Length(s3);
  if (exact + FIXED_OVERHEAD_BYTES > CLIENT_FRAME_LIMIT_BYTES) {
    throw new RangeError(`WIRE-12: ${what} of ${exact} bytes would not fit in a ${CLIENT_FRAME_LIMIT_BYTES}-byte frame to a client`);
  }
}

/** Throws RangeError when a Message with this content could exceed the client's frame limit. */
export function assertMessageFits(channel: string, m: Omit<PublishMessage, 'channel'>): void {
  assertFits('a message', m.payload.byteLength, channel, m.key, m.messageId);
}

/** Throws RangeError when a StatePatch with this content could exceed the client's frame limit. */
export function assertPatchFits(channel: string, p: PublishPatch): void {
  assertFits('a state patch', p.delta.byteLength, channel, p.messageId);
}

/** The last guard, at the socket: a frame over the limit is never written. */
export function assertFrameFits(bytes: Uint8Array): void {
  if (bytes.byteLength > CLIENT_FRAME_LIMIT_BYTES) {
    throw new RangeError(`WIRE-12: a ${bytes.byteLength}-byte frame exceeds the client's ${CLIENT_FRAME_LIMIT_BYTES}-byte limit`);
  }
}
