/**
 * One write per socket per burst (issue 7, issue 16): the frames a socket is sent while the server
 * handles one inbound chunk (echoes, acks, HeartbeatAcks) or one fan-out tick are held and written
 * together on the next tick. Each frame stays its own WebSocket frame with one Envelope (WIRE-1);
 * only the TCP writes are coalesced. Nothing waits for a timer: the flush runs as soon as the
 * current callback returns, before any other I/O.
 *
 * Issue 16: the held frames are framed here (RFC 6455 §5.2: FIN, binary opcode, length, server
 * frames unmasked) and copied into one buffer, instead of one `ws.send()` each under a corked
 * socket. Per frame, ws.send built an options object with a computed symbol key (a slow object
 * literal), a Buffer view of the bytes and a header Buffer, and the corked stream two buffered
 * writes: ~15 % of the echo server's CPU (bench/probes/echo-cpu.md). A frame larger than
 * COPY_MAX_BYTES is not copied: its header and bytes are written as they are, in the same writev.
 *
 * Measured on the echo bench before issue 16 (100 × 16 in flight): writev was 26 % of the server's
 * CPU, one call per frame, before any batching.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { frameHeaderSize, writeFrameHeader } from '../../spec/protocol/websocket-frame.js';
import { mayWriteDirect, socketOf } from './ws-internals.js';

/** The frames one socket holds until the flush, and the callbacks of those that wanted one (BP-4). */
export interface HeldFrames {
  readonly frames: Uint8Array[];
  /** On the wire: frame headers included (what bufferedAmount counts, BP-4). */
  bytes: number;
  /** Some frame is larger than COPY_MAX_BYTES: written without a copy. */
  hasLarge: boolean;
  callbacks: (() => void)[] | undefined;
}

/** What batching needs of a peer: its ws, and a field to hold frames in (WsPeer, ws.ts). */
export interface BatchedPeer {
  readonly ws: WebSocket;
  held: HeldFrames | undefined;
}

/**
 * How long a batch may hold writes (issue 16). A fan-out tick that publishes many messages (a
 * publisher behind its schedule) would otherwise hold every socket's frames until the whole tick is
 * done: one write per socket for all of them, but the first message waits for the last. Past this
 * bound the held writes go out at once and a new batch starts, so a frame waits at most about this
 * long for its batch; an inbound burst's replies (≪ 1 ms) are never split.
 */
export const MAX_HOLD_MS = 10;
/** The clock is read once per this many held frames, not per frame. */
const CHECK_EVERY = 256;
/** Frames up to this size are copied into the burst's one buffer; a larger one is written as it is. */
export const COPY_MAX_BYTES = 16 * 1024;

const OPEN = 1; // WebSocket.OPEN

/**
 * Instrumentation for the saturating fan-out bench (issue 16, bench/scenarios/write-probe.ts): told
 * of each burst as it goes to its socket, with the socket (its writableLength: what Node already
 * buffers in front of the kernel) and the age of its batch. Off unless a bench sets it: one check
 * per burst.
 */
export type WriteProbe = (frames: readonly Uint8Array[], sock: Socket, batchAgeMs: number) => void;
let probe: WriteProbe | undefined;

/** Bench only (issue 16): observe every burst written; undefined turns it off. */
export function setWriteProbe(p: WriteProbe | undefined): void {
  probe = p;
}

let pending: BatchedPeer[] = [];
let heldSinceMs = 0;
let sinceCheck = 0;

/** RFC 6455 §5.2: the header of an unmasked final binary frame of `n` bytes (server frames carry no mask). */
export const headerSize = frameHeaderSize;

function writeHeader(out: Uint8Array, pos: number, n: number): number {
  return writeFrameHeader(out, pos, n, 0);
}

function flushAll(): void {
  const list = pending;
  pending = [];
  for (const p of list) writeHeld(p);
}

/**
 * Hold a binary frame of `bytes` for this peer's burst; `onFlushed` runs once the socket has
 * written it (BP-4). False when it cannot be held (no net.Socket behind the ws, ws itself queues
 * frames, or ws's internals are not the shape ws-internals.ts knows): the caller sends it with
 * ws.send(), after writeHeld() so the order stays.
 */
export function holdFrame(p: BatchedPeer, bytes: Uint8Array, onFlushed?: () => void): boolean {
  if (!mayWriteDirect(p.ws)) return false;
  if (++sinceCheck >= CHECK_EVERY) {
    sinceCheck = 0;
    if (pending.length > 0 && performance.now() - heldSinceMs > MAX_HOLD_MS) flushAll(); // held long enough: out now, a new batch starts
  }
  const n = bytes.byteLength;
  let h = p.held;
  if (h === undefined) {
    h = p.held = { frames: [], bytes: 0, hasLarge: false, callbacks: undefined };
    if (pending.push(p) === 1) {
      heldSinceMs = performance.now();
      process.nextTick(flushAll);
    }
  }
  h.frames.push(bytes);
  h.bytes += headerSize(n) + n;
  if (n > COPY_MAX_BYTES) h.hasLarge = true;
  if (onFlushed !== undefined) (h.callbacks ??= []).push(onFlushed);
  return true;
}

/** Bytes this peer holds for its burst, headers included (BP-4 counts them as buffered). */
export function heldBytes(p: BatchedPeer): number {
  return p.held === undefined ? 0 : p.held.bytes;
}

/**
 * Write what this peer's burst holds, now: at the flush, and before anything that must follow it
 * (a close frame, `ws.terminate()`: destroying the socket would drop what was never written, HB-3,
 * DR-5). A socket no longer open gets none of it, as ws.send() refuses a frame after the close
 * (RFC 6455 §5.5.1: no data after a Close frame); the callbacks still run.
 */
export function writeHeld(p: BatchedPeer): void {
  const h = p.held;
  if (h === undefined) return;
  p.held = undefined;
  const cbs = h.callbacks;
  const done = cbs === undefined ? undefined : cbs.length === 1 ? cbs[0] : () => { for (const cb of cbs) cb(); };
  const ws = p.ws;
  const sock = socketOf(ws);
  if (ws.readyState !== OPEN || sock === undefined || sock.destroyed) {
    if (done !== undefined) process.nextTick(done);
    return;
  }
  if (probe !== undefined) probe(h.frames, sock, performance.now() - heldSinceMs);
  const frames = h.frames;
  if (!h.hasLarge) {
    // The common case: the burst in one buffer, one write.
    const out = Buffer.allocUnsafe(h.bytes);
    let pos = 0;
    for (const f of frames) {
      pos = writeHeader(out, pos, f.byteLength);
      out.set(f, pos);
      pos += f.byteLength;
    }
    sock.write(out, done);
    return;
  }
  // Large frames are written as they are, between copies of the small ones, in one writev.
  sock.cork();
  let i = 0;
  while (i < frames.length) {
    const f = frames[i] as Uint8Array;
    if (f.byteLength > COPY_MAX_BYTES) {
      const head = Buffer.allocUnsafe(headerSize(f.byteLength));
      writeHeader(head, 0, f.byteLength);
      sock.write(head);
      sock.write(f, i === frames.length - 1 ? done : undefined);
      i++;
      continue;
    }
    let size = 0;
    let j = i;
    for (; j < frames.length && (frames[j] as Uint8Array).byteLength <= COPY_MAX_BYTES; j++) size += headerSize((frames[j] as Uint8Array).byteLength) + (frames[j] as Uint8Array).byteLength;
    const out = Buffer.allocUnsafe(size);
    let pos = 0;
    for (; i < j; i++) {
      const s = frames[i] as Uint8Array;
      pos = writeHeader(out, pos, s.byteLength);
      out.set(s, pos);
      pos += s.byteLength;
    }
    sock.write(out, i === frames.length ? done : undefined);
  }
  sock.uncork();
}
