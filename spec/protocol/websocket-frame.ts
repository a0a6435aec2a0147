/**
 * RFC 6455 §5.2 frame headers, as both ends frame their own bursts (issue 16: the server's
 * write-batch.ts and the Node client's ws-frames.ts write a tick's frames into one buffer instead
 * of a ws.send() each). Lifeline sends one Envelope per frame, never fragmented (WIRE-1): FIN set,
 * binary opcode. A client's frames carry the mask bit and a key after the header (§5.3); a
 * server's never do.
 */

/** The mask bit of the second header byte: set on every client frame (§5.3), never on a server's. */
export const MASKED = 0x80;

/** Header bytes of a final binary frame of `n` payload bytes, the masking key not included. */
export function frameHeaderSize(n: number): number {
  return n < 126 ? 2 : n < 65_536 ? 4 : 10;
}

/** Writes the header of a final binary frame of `n` bytes at `out[pos]`; returns the position after it. */
export function writeFrameHeader(out: Uint8Array, pos: number, n: number, maskBit: 0 | typeof MASKED): number {
  out[pos] = 0x82; // FIN, opcode 2 (binary): one Envelope per frame, never fragmented (WIRE-1)
  if (n < 126) {
    out[pos + 1] = maskBit | n;
    return pos + 2;
  }
  if (n < 65_536) {
    out[pos + 1] = maskBit | 126;
    out[pos + 2] = n >>> 8;
    out[pos + 3] = n & 0xff;
    return pos + 4;
  }
  // 64-bit length, most significant bit 0 (§5.2); frames here stay far below 2^53.
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  out[pos + 1] = maskBit | 127;
  out[pos + 2] = 0;
  out[pos + 3] = 0;
  out[pos + 4] = (hi >>> 8) & 0xff;
  out[pos + 5] = hi & 0xff;
  out[pos + 6] = lo >>> 24;
  out[pos + 7] = (lo >>> 16) & 0xff;
  out[pos + 8] = (lo >>> 8) & 0xff;
  out[pos + 9] = lo & 0xff;
  return pos + 10;
}
