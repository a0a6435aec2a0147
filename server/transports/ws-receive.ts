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

/** A Receiver seen through the symbol ws keys its WebSocket with (ws 8 sets `receiver[kWebSocket]`). */
type LinkedReceiver = Receiver & Record<symbol, unknown>;

/**
 * The fast `write` for receivers whose prototype is `base`, reaching their WebSocket through
 * `wsKey`. Made once per distinct Receiver prototype (in practice once per process), never per socket.
 */
function makeFastWrite(baseWrite: (this: Receiver, chunk: Buffer) => boolean, wsKey: symbol) {
  return function fastWrite(this: LinkedReceiver, chunk: Buffer): boolean {
    if (!isAtRest(this)) return baseWrite.call(this, chunk);
    const ws = this[wsKey] as WebSocket;
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
    return baseWrite.call(this, pos === 0 ? chunk : new FastBuffer(chunk.buffer, chunk.byteOffset + pos, end - pos));
  };
}

/** Per Receiver prototype: the prototype that adds the fast write to it, and the symbol it reaches its WebSocket by. */
const fastProtos = new WeakMap<object, { readonly proto: object; readonly wsKey: symbol }>();
/** The prototypes made here, so a second receiveFast on one receiver changes nothing. */
const madeHere = new WeakSet<object>();

/**
 * Route `ws`'s received chunks through the fast path: its Receiver's write(), which ws's socket
 * listener calls per chunk, reads the plain frames itself and hands ws the rest. Call once, right
 * after ws.setSocket() (before any data).
 *
 * Memory per idle session (issue 16, bench/probes/server-heap.md session 9): the receiver's
 * prototype is swapped for one, shared by every socket, that inherits ws's Receiver and overrides
 * write. A closure per socket assigned as an own `write` cost ~120 B a session (the closure, its
 * context, the receiver's grown property storage); a prototype costs a socket nothing, and V8 keeps
 * one map for all the swapped receivers. Returns whether the fast path is on: off (ws alone, every
 * rule still ws's) for a receiver of a shape this does not know (no write, no link to `ws`).
 */
export function receiveFast(ws: WebSocket): boolean {
  const r = (ws as unknown as { _receiver?: LinkedReceiver })._receiver;
  if (typeof r !== 'object' || r === null) return false;
  const base = Object.getPrototypeOf(r) as object | null;
  if (base === null) return false;
  if (madeHere.has(base)) return true;
  let fast = fastProtos.get(base);
  if (fast === undefined) {
    const baseWrite = (base as { write?: unknown }).write;
    const wsKey = Object.getOwnPropertySymbols(r).find((k) => r[k] === ws);
    if (typeof baseWrite !== 'function' || wsKey === undefined || Object.hasOwn(r, 'write')) return false;
    const write = makeFastWrite(baseWrite as (this: Receiver, chunk: Buffer) => boolean, wsKey);
    const proto = Object.create(base, { write: { value: write, writable: true, configurable: true } }) as object;
    madeHere.add(proto);
    fast = { proto, wsKey };
    fastProtos.set(base, fast);
  }
  if (r[fast.wsKey] !== ws || Object.hasOwn(r, 'write')) return false; // not linked as the first was: leave it to ws
  Object.setPrototypeOf(r, fast.proto);
  return true;
}
