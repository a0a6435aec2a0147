/**
 * "raw ws, batched" (issue 16): raw `ws` with the write batching Lifeline does on both ends
 * (server/transports/write-batch.ts, client/node.ts WriteBatch): the first frame a socket sends
 * during a burst corks its net.Socket, and the socket is uncorked on the next tick, so the burst
 * leaves in one writev. Copied rather than imported so the baselines run where server/ and client/
 * do not load; the same three steps (cork once per burst, list it, uncork all on nextTick).
 *
 * Without it the echo compares Lifeline's batched writes with one write syscall per frame: the
 * issue measured batched ws at 3.4× (64 B) and 2.5× (1 KiB) plain ws's round trips in the same setup.
 */
import type { WebSocket } from 'ws';

interface Corkable {
  cork(): void;
  uncork(): void;
}

const kCorked = Symbol('bench.corked');
type Tagged = Corkable & { [kCorked]?: boolean };

let corked: Tagged[] = [];

function flush(): void {
  const list = corked;
  corked = [];
  for (const s of list) {
    s[kCorked] = false;
    s.uncork();
  }
}

/** Hold this socket's writes until the current callback returns (one writev for the burst). */
export function holdWrites(ws: WebSocket): void {
  // ws keeps its net.Socket in `_socket` (stable across ws 7 and 8), as write-batch.ts relies on.
  const sock = (ws as unknown as { _socket?: Tagged })._socket;
  if (sock === undefined || sock[kCorked] === true || typeof sock.cork !== 'function') return;
  sock[kCorked] = true;
  sock.cork();
  if (corked.push(sock) === 1) process.nextTick(flush);
}
