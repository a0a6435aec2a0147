/**
 * Reading the plain frames of RFC 6455 §5.2 straight from a received chunk (issue 16), for both
 * ends' receive fast paths (server/transports/ws-receive.ts, client/transports/ws-receive.ts): a
 * final binary frame, no RSV bit, 1 … 65,535 payload bytes, whole in the chunk, masked exactly when
 * it travels client → server (§5.3). Anything else is ws's to read, so these functions only say
 * "not plain" and never judge a frame. Pure Uint8Array code: no Node or ws API (CONVENTIONS), the
 * glue to ws's Receiver lives on each side.
 */

/** FIN, no RSV bit, opcode 2 (binary): how Lifeline sends every Envelope (WIRE-1). */
const FINAL_BINARY = 0x82;

/**
 * The payload length of the frame at `chunk[pos]` when it is plain (above) and at most `maxPayload`
 * bytes (0: no limit, as ws reads it); -1 otherwise. Its payload starts at
 * `pos + (n < 126 ? 2 : 4) + (masked ? 4 : 0)`, the masking key just before it. A 16-bit length
 * under 126 (legal to ws, never written by either end) is not plain: the start then follows from `n`.
 */
export function plainFrameLength(chunk: Uint8Array, pos: number, end: number, masked: boolean, maxPayload: number): number {
  if (end - pos < 2 || chunk[pos] !== FINAL_BINARY) return -1;
  const b1 = chunk[pos + 1] as number;
  if (b1 >= 0x80 !== masked) return -1; // the wrong mask bit for this direction: ws fails the connection (§5.1)
  let n = b1 & 0x7f;
  let head = 2;
  if (n === 126) {
    if (end - pos < 4) return -1;
    n = ((chunk[pos + 2] as number) << 8) | (chunk[pos + 3] as number);
    if (n < 126) return -1;
    head = 4;
  } else if (n === 127) return -1;
  // An empty message (ws emits its shared empty Buffer) or one over maxPayload (ws closes 1009, WIRE-4): ws's.
  if (n === 0 || (maxPayload > 0 && n > maxPayload)) return -1;
  if (masked) head += 4;
  return pos + head + n <= end ? n : -1; // the rest of the frame is in a later chunk: ws buffers it
}

/** Little-endian platforms (every Node target today) may unmask word-wise. */
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * From this many bytes an aligned word view pays for itself (CPU time per call, one process: 84 B
 * 42 ns by bytes, 54 by words; 200 B 83 / 84; 1,050 B 421 / 297; ws's byte loop 92 / 211 / 1,053).
 */
const WORDS_FROM_BYTES = 256;

/**
 * RFC 6455 §5.3: XOR `n` bytes at `buf[start]` with the 4-byte key at `buf[keyAt]`, in place (as ws
 * does). Four bytes per step; long payloads through an aligned Int32Array view. Masking is the same
 * XOR, so the client's frame writer (client/transports/ws-frames.ts) masks with it too.
 */
export function unmaskInPlace(buf: Uint8Array, keyAt: number, start: number, n: number): void {
  let k0 = buf[keyAt] as number;
  let k1 = buf[keyAt + 1] as number;
  let k2 = buf[keyAt + 2] as number;
  let k3 = buf[keyAt + 3] as number;
  if ((k0 | k1 | k2 | k3) === 0) return;
  let p = start;
  const end = start + n;
  if (n >= WORDS_FROM_BYTES && IS_LITTLE_ENDIAN) {
    // Bytes up to a 4-byte boundary of the underlying buffer, then the key rotated to match.
    const lead = (4 - ((buf.byteOffset + start) & 3)) & 3;
    for (let j = 0; j < lead; j++) {
      buf[p] = (buf[p] as number) ^ k0;
      p++;
      const t = k0;
      k0 = k1;
      k1 = k2;
      k2 = k3;
      k3 = t;
    }
    const words = (end - p) >>> 2;
    const key = (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) | 0;
    const w = new Int32Array(buf.buffer, buf.byteOffset + p, words);
    for (let j = 0; j < words; j++) w[j] = (w[j] as number) ^ key;
    p += words * 4;
  }
  const end4 = p + ((end - p) & ~3);
  for (; p < end4; p += 4) {
    buf[p] = (buf[p] as number) ^ k0;
    buf[p + 1] = (buf[p + 1] as number) ^ k1;
    buf[p + 2] = (buf[p + 2] as number) ^ k2;
    buf[p + 3] = (buf[p + 3] as number) ^ k3;
  }
  if (p < end) buf[p] = (buf[p] as number) ^ k0;
  if (p + 1 < end) buf[p + 1] = (buf[p + 1] as number) ^ k1;
  if (p + 2 < end) buf[p + 2] = (buf[p + 2] as number) ^ k2;
}
