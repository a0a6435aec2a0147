/**
 * ws's Receiver vs the client's receive fast path (client/transports/ws-receive.ts), in process:
 * bursts of 20 unmasked 110 B binary frames (a fan-out's Messages) fed to a client-side ws as its
 * socket's 'data' events, CPU ns per message, rounds interleaved. Each chunk is copied first, as a
 * socket read makes a fresh Buffer; the copy is in both figures. Run compiled as the bench runs:
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/client-receive.js
 */
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { FastReceiveWebSocket } from '../../client/transports/ws-receive.js';

function subscriber(fast: boolean): { sock: Duplex; count: () => number } {
  const sock = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const ws = new (fast ? FastReceiveWebSocket : WebSocket)(null as unknown as string, undefined, {} as never);
  (ws as unknown as { _isServer: boolean })._isServer = false; // the client end, set up as ws's upgrade does
  (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(sock, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 1 << 20 });
  let n = 0;
  ws.on('message', () => n++);
  return { sock, count: () => n };
}

const frame = Buffer.concat([Buffer.from([0x82, 110]), Buffer.alloc(110, 7)]);
const burst = Buffer.concat(Array.from({ length: 20 }, () => frame));
const ITERS = 20_000;
const ns: Record<'ws' | 'fast', number[]> = { ws: [], fast: [] };
for (let round = 0; round < 6; round++) {
  for (const fast of [false, true]) {
    const { sock, count } = subscriber(fast);
    const t0 = process.cpuUsage();
    for (let i = 0; i < ITERS; i++) sock.emit('data', Buffer.from(burst));
    const t = process.cpuUsage(t0);
    if (count() !== ITERS * 20) throw new Error(`${count()} messages, ${ITERS * 20} sent`);
    ns[fast ? 'fast' : 'ws'].push(((t.user + t.system) * 1000) / (ITERS * 20));
  }
}
const median = (a: number[]): string => ([...a].sort((x, y) => x - y)[a.length >> 1] ?? NaN).toFixed(0);
console.log(`CPU ns per 110 B message, 20 per chunk, median of 6 interleaved rounds: ws ${median(ns.ws)}, fast path ${median(ns.fast)}`);
console.log(JSON.stringify(ns, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)));
