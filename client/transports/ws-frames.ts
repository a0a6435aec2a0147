/**
 * Client frames built here, not by `ws.send()` (issue 16): the frames one socket is sent during one
 * tick are framed as RFC 6455 §5.2 binary frames (FIN, opcode 2, one Envelope each: WIRE-1) and
 * masked (§5.3: a client MUST mask every frame, with a fresh unpredictable key per frame) into one
 * buffer, written with one `socket.write()`.
 *
 * Per frame, `ws.send()` built two options objects (one with a computed symbol key), a header
 * Buffer, a masked copy of the bytes, and two corked stream writes; its byte-by-byte mask loop
 * (ws/lib/buffer-util.js without the native `bufferutil`) ran over every payload byte. That was
 * ~20 % of the echo load generator's CPU (ws sender 12 %, FastBuffer/toBuffer 3 %, writeBuffer 3 %),
 * see bench/probes/client-send.md. Here the mask is applied 32 bits at a time.
 *
 * Node only (client/node.ts): the browser's WebSocket frames and masks by itself.
 * ws-frames.test.ts proves the bytes equal to ws's own framing (Sender.frame) for the same keys.
 */
import { randomFillSync } from 'node:crypto';
import { unmaskInPlace } from '../../spec/protocol/frame-read.js';
import { frameHeaderSize, MASKED, writeFrameHeader } from '../../spec/protocol/websocket-frame.js';

/** Bytes of a masked frame's header for a payload of `n` bytes: 2, 4 or 10, plus the 4-byte key. */
export function maskedHeaderSize(n: number): number {
  return frameHeaderSize(n) + 4;
}

/**
 * Writes a 4-byte masking key at `out[at] … out[at + 3]`. The default draws it from a pool filled by
 * the CSPRNG, as ws does (RFC 6455 §5.3: unpredictable, from a strong source of entropy).
 */
export type MaskSource = (out: Uint8Array, at: number) => void;

const POOL_BYTES = 8 * 1024;
const pool = new Uint8Array(POOL_BYTES);
let poolPos = POOL_BYTES;

export const randomMask: MaskSource = (out, at) => {
  if (poolPos === POOL_BYTES) {
    randomFillSync(pool);
    poolPos = 0;
  }
  out[at] = pool[poolPos] as number;
  out[at + 1] = pool[poolPos + 1] as number;
  out[at + 2] = pool[poolPos + 2] as number;
  out[at + 3] = pool[poolPos + 3] as number;
  poolPos += 4;
};

/**
 * One masked final binary frame of `bytes` at `out[pos]`; returns the position after it. `out` must
 * have maskedHeaderSize(n) + n bytes from `pos`.
 */
export function writeMaskedFrame(out: Uint8Array, pos: number, bytes: Uint8Array, mask: MaskSource = randomMask): number {
  const n = bytes.byteLength;
  pos = writeFrameHeader(out, pos, n, MASKED);
  mask(out, pos); // §5.3: a fresh key per frame
  const start = pos + 4;
  out.set(bytes, start);
  unmaskInPlace(out, pos, start, n); // §5.3: masking and unmasking are the same XOR
  return start + n;
}

/** The frames of one socket's tick: their bytes on the wire (headers and keys included) and the frames. */
export class HeldFrames {
  frames: Uint8Array[] = [];
  bytes = 0;

  add(bytes: Uint8Array): void {
    this.frames.push(bytes);
    this.bytes += maskedHeaderSize(bytes.byteLength) + bytes.byteLength;
  }

  /** All held frames, framed and masked, in one buffer; then empty. */
  take(mask: MaskSource = randomMask): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let pos = 0;
    for (const f of this.frames) pos = writeMaskedFrame(out, pos, f, mask);
    this.frames.length = 0;
    this.bytes = 0;
    return out;
  }
}
