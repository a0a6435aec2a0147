/**
 * The Node client's receive fast path (issue 16, saturating fan-out): the frames a server sends in
 * the common shape (final, binary, unmasked, no RSV bit, 1 … 65,535 bytes within maxPayload:
 * spec/protocol/frame-read.ts) are read straight from the socket's chunk and emitted as ws would
 * emit them; everything else (control frames, text, fragments, compressed messages, a frame split
 * across chunks, anything ws refuses, e.g. a masked frame) goes to ws's own Receiver, from the first
 * byte it does not take, so ws keeps every rule and every error (WIRE-4).
 *
 * Why: ws's Receiver is a Writable stream that parses a frame in four states, each consume() making
 * Buffer views and a fragment array per message: ~1 µs of a subscriber's ~4–5 µs per delivery
 * (bench/probes/client-inbound.md). The server's twin is server/transports/ws-receive.ts (masked
 * frames); the two share the frame reading, and keep their own ws glue because server/ and client/
 * never import each other and spec/ uses no ws API. ws-receive.test.ts proves the events equal to
 * ws alone for any frames cut into any chunks. Node only: imported by client/node.ts.
 *
 * It relies on ws 8's Receiver fields (`_state`, `_bufferedBytes`, …): that test fails if an update
 * of ws changes them in a way that matters.
 */
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { plainFrameLength } from '../../spec/protocol/frame-read.js';

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
 * Route a client `ws`'s received chunks through the fast path: its Receiver's write(), which ws's
 * socket listener calls per chunk, reads the plain frames itself and hands ws the rest. Call once,
 * right after ws.setSocket() (on upgrade, before any data).
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
      const n = plainFrameLength(chunk, pos, end, false, max);
      if (n < 0) break;
      const start = pos + (n < 126 ? 2 : 4);
      pos = start + n;
      // What ws's receiverOnMessage does: a view of the chunk, as ws's consume() makes one.
      ws.emit('message', new FastBuffer(chunk.buffer, chunk.byteOffset + start, n), true);
    }
    if (pos === end) return true;
    return write.call(this, pos === 0 ? chunk : new FastBuffer(chunk.buffer, chunk.byteOffset + pos, end - pos));
  };
}

/**
 * ws's client WebSocket with the fast path: ws calls setSocket (not in its types) on the upgrade,
 * before any frame is read; the fast path then hooks the Receiver setSocket made.
 */
export class FastReceiveWebSocket extends WebSocket {
  setSocket(socket: Duplex, head: Buffer, options: object): void {
    (WebSocket.prototype as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket.call(this, socket, head, options);
    receiveFast(this);
  }
}
