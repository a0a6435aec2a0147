/**
 * The server's receive fast path (issue 16): the frames a client sends in the common shape (final,
 * binary, masked, no RSV bit, 126-byte lengths in the shortest form, 1 … 65,535 bytes within
 * maxPayload: spec/protocol/frame-read.ts) are read straight from the
 * socket's chunk and emitted as ws would emit them; everything else (control frames, text,
 * fragments, a frame split across chunks, anything ws refuses) goes to ws's own Receiver, from
 * the first byte it does not take, so ws keeps every rule and every error (CC-11, WIRE-4).
 *
 * Why: ws's Receiver is a Writable stream that parses a frame in four states, each consume() making
 * Buffer views (header, mask, payload, rest of the chunk), a fragment array per message, and a
 * byte-by-byte unmask (no `bufferutil` here, Node 20 has no native one): ws's receive was ~1 µs of
 * the echo server's ~5 µs per 64 B round trip (bench/probes/echo-cpu.md). ws-receive.test.ts
 * proves the events (messages, their bytes, pings, pongs, errors, close frames and what ws writes
 * back) equal to ws alone, for any frames cut into any chunks.
 *
 * It relies on ws 8's Receiver fields (`_state`, `_bufferedBytes`, …): the test above fails if an
 * update of ws changes them in a way that matters.
 */
import type { WebSocket } from 'ws';
import { plainFrameLength, unmaskInPlace } from '../../spec/protocol/frame-read.js';

export { unmaskInPlace };

/** The parts of ws 8's Receiver read here. GET_INFO is its state 0: between frames. */
interface Receiver {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _errored: boolean;
  _loop: boolean;
  _opcode: number;
  _binaryType: string;
  _maxPayload: number;
  _allowSynchronousEvents: boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(chunk: Buffer): boolean;
}

const GET_INFO = 0;
const CLOSE_OPCODE = 0x08;

/** Node's Buffer class without Buffer.from's checks, as ws makes its views (`Buffer[Symbol.species]`). */
const FastBuffer = (Buffer as unknown as { [Symbol.species]: new (b: ArrayBufferLike, off: number, len: number) => Buffer })[Symbol.species];

/** ws's Receiver at rest between frames, with nothing of its own to finish first. */
function isAtRest(r: Receiver): boolean {
  return (
    r._state === GET_INFO && r._bufferedBytes === 0 && r._fragmented === 0 && !r._loop && !r._errored &&
    r._opcode !== CLOSE_OPCODE && r.writableLength === 0 && !r.destroyed &&
    r._binaryType === 'nodebuffer' && r._allowSynchronousEvents
  );
}

/**
 * Route `ws`'s received chunks through the fast path: its Receiver's write(), which ws's socket
 * listener calls per chunk, reads the plain frames itself and hands ws the rest. Call once, right
 * after ws.setSocket() (before any data).
 */
export function receiveFast(ws: WebSocket): void {
  const r = (ws as unknown as { _receiver?: Receiver })._receiver;
  if (r === undefined) return;
  const write = r.write;
  r.write = function fastWrite(this: Receiver, chunk: Buffer): boolean {
    if (!isAtRest(this)) return write.call(this, chunk);
    const max = this._maxPayload;
    const end = chunk.length;
    let pos = 0;
    for (;;) {
      const n = plainFrameLength(chunk, pos, end, true, max);
      if (n < 0) break;
      const keyAt = pos + (n < 126 ? 2 : 4);
      const start = keyAt + 4;
      unmaskInPlace(chunk, keyAt, start, n);
      pos = start + n;
      // What ws's receiverOnMessage does: a view of the chunk, as ws's consume() makes one.
      ws.emit('message', new FastBuffer(chunk.buffer, chunk.byteOffset + start, n), true);
    }
    if (pos === end) return true;
    return write.call(this, pos === 0 ? chunk : new FastBuffer(chunk.buffer, chunk.byteOffset + pos, end - pos));
  };
}
