/**
 * The server's receive fast path (issue 16): the frames a client sends in the common shape (final,
 * binary, masked, no RSV bit, 1 … 65,535 bytes within maxPayload) are read straight from the
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
/** FIN, no RSV bit, opcode 2 (binary): how a Lifeline client sends every Envelope (WIRE-1). */
const FINAL_BINARY = 0x82;

/** Node's Buffer class without Buffer.from's checks, as ws makes its views (`Buffer[Symbol.species]`). */
const FastBuffer = (Buffer as unknown as { [Symbol.species]: new (b: ArrayBufferLike, off: number, len: number) => Buffer })[Symbol.species];

/** Word-wise unmasking needs the platform's byte order: little-endian, as every Node target today. */
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * From this many bytes an aligned word view pays for itself (CPU time per call, one process: 84 B
 * 42 ns by bytes, 54 by words; 200 B 83 / 84; 1,050 B 421 / 297; ws's byte loop 92 / 211 / 1,053).
 */
const WORDS_FROM_BYTES = 256;

/**
 * RFC 6455 §5.3: XOR `n` bytes at `buf[start]` with the 4-byte key at `buf[keyAt]`, in place (as ws
 * does). Four bytes per step; long payloads through an aligned Int32Array view.
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
    while (end - pos >= 7) {
      if (chunk[pos] !== FINAL_BINARY) break;
      const b1 = chunk[pos + 1] as number;
      if (b1 < 0x80) break; // unmasked: ws refuses it (RFC 6455 §5.1)
      let n = b1 & 0x7f;
      let keyAt = pos + 2;
      if (n === 126) {
        n = ((chunk[pos + 2] as number) << 8) | (chunk[pos + 3] as number); // ws takes any 16-bit length here
        keyAt = pos + 4;
      } else if (n === 127) break;
      // An empty message (ws emits its shared empty Buffer) or one over maxPayload (ws closes 1009, WIRE-4): ws's.
      if (n === 0 || (max > 0 && n > max)) break;
      const start = keyAt + 4;
      if (start + n > end) break; // the rest of the frame is in a later chunk: ws buffers it
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
