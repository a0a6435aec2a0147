/**
 * One write syscall per burst (issue 7): frames a socket sends while the server handles one
 * inbound chunk (echoes, acks, HeartbeatAcks) are held with `socket.cork()` and flushed together on
 * the next tick, so N frames cost one writev instead of N. Each frame stays its own WebSocket frame
 * with one Envelope (WIRE-1); only the TCP writes are coalesced. Nothing waits for a timer: the
 * flush runs as soon as the current callback returns, before any other I/O.
 *
 * Measured on the echo bench (100 × 16 in flight): writev was 26 % of the server's CPU, one call per
 * frame.
 */
import type { WebSocket } from 'ws';

/**
 * The part of net.Socket used here. Whether a socket is held is its own cork count, not a tag of
 * ours: a property added to every socket grew each one's property array (issue 16, memory per idle
 * session). Nothing else holds a server socket corked across calls (ws corks and uncorks within one
 * send), so a count above 0 here is this batch's cork.
 */
interface Corkable {
  cork(): void;
  uncork(): void;
  readonly writableCorked: number;
}

let corked: Corkable[] = [];

/**
 * How long a batch may hold writes (issue 16). A fan-out tick that publishes many messages (a
 * publisher behind its schedule) would otherwise hold every socket's frames until the whole tick is
 * done: one writev per socket for all of them, but the first message waits for the last. Past this
 * bound the held writes go out at once and a new batch starts, so a frame waits at most about this
 * long for its batch; an inbound burst's replies (≪ 1 ms) are never split.
 */
export const MAX_HOLD_MS = 10;
/** The clock is read once per this many batched writes, not per write. */
const CHECK_EVERY = 256;
let heldSinceMs = 0;
let sinceCheck = 0;

function flush(): void {
  const list = corked;
  corked = [];
  for (const s of list) release(s);
}

function release(s: Corkable): void {
  if (s.writableCorked === 0) return; // released early by flushWrites
  s.uncork();
}

/** Hold this socket's writes until the current callback returns (one writev for the burst). */
export function batchWrites(ws: WebSocket): void {
  // ws keeps its net.Socket in `_socket` (stable across ws 7 and 8); without one, do nothing.
  const sock = (ws as unknown as { _socket?: Corkable })._socket;
  if (sock === undefined || typeof sock.cork !== 'function') return;
  if (++sinceCheck >= CHECK_EVERY) {
    sinceCheck = 0;
    if (corked.length > 0 && performance.now() - heldSinceMs > MAX_HOLD_MS) flush(); // held long enough: out now, a new batch starts
  }
  if (sock.writableCorked > 0) return; // held already in this batch
  sock.cork();
  if (corked.push(sock) === 1) {
    heldSinceMs = performance.now();
    process.nextTick(flush);
  }
}

/**
 * Write what this socket's burst holds now. For a caller about to destroy the transport
 * (`ws.terminate()`, HB-3, DR-5): destroying a corked socket drops its pending writes, the
 * best-effort close frame included.
 */
export function flushWrites(ws: WebSocket): void {
  const sock = (ws as unknown as { _socket?: Corkable })._socket;
  if (sock !== undefined) release(sock);
}
