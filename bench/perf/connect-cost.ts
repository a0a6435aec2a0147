/**
 * CPU per connect (issue 16: time to open 10,000 connections ≤ 1.5× raw ws). In one process, on
 * loopback, with the real ws transport: N clients each upgrade, send a Hello and wait for the
 * first frame back (Welcome), C at a time, then all close. Timed: process CPU (user + system) and
 * wall time of the open phase, for a Lifeline server (defaults, no upgrade rate limit) and for a
 * raw ws server that answers the first message with a Welcome-sized frame. The client side is the
 * same bare `ws` client in both rows, so the difference of the two rows is what Lifeline's server
 * adds per connect. Run under `node --cpu-prof` (through tsx) to see where it goes.
 *
 *   npx tsx bench/perf/connect-cost.ts [connections=2000] [concurrency=100] [rounds=3]
 */
import { create } from '@bufbuild/protobuf';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { EnvelopeSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { createServer } from '../../server/server.js';

const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;
const [connections = 2000, concurrency = 100, rounds = 3] = isMain ? process.argv.slice(2).map(Number) : [];

const hello = encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION }) } }));

/** One client: upgrade, Hello, first frame back; resolves with the open socket. */
function connectOne(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL]);
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => ws.send(hello));
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code} before the first frame`)));
  });
}

export interface ConnectCost {
  readonly cpuUsPerConnect: number;
  readonly wallMs: number;
}

/** Open `n` connections, `c` at a time; CPU and wall time of that phase. */
async function openAll(url: string, n: number, c: number): Promise<{ cost: ConnectCost; sockets: WebSocket[] }> {
  const sockets: WebSocket[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      sockets.push(await connectOne(url));
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { cost: { cpuUsPerConnect: (cpu.user + cpu.system) / n, wallMs: performance.now() - t0 }, sockets };
}

async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) => new Promise<void>((r) => { ws.once('close', () => r()); ws.terminate(); })));
}

/** One round against a Lifeline server with default options (upgrade rate limit off: one address). */
export async function lifelineRound(n: number, c: number): Promise<ConnectCost> {
  const srv = createServer({ upgradeRatePerSecond: Number.POSITIVE_INFINITY});
  await srv.listen(0, '127.0.0.1');
  try {
    const { cost, sockets } = await openAll(srv.url(), n, c);
    await closeAll(sockets);
    return cost;
  } finally {
    await srv.close();
  }
}

/** The same against a raw ws server that answers the first message with a frame of a Welcome's size. */
export async function wsRound(n: number, c: number): Promise<ConnectCost> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const reply = Buffer.alloc(80);
  wss.on('connection', (ws) => ws.once('message', () => ws.send(reply)));
  try {
    const { port } = wss.address() as AddressInfo;
    const { cost, sockets } = await openAll(`ws://127.0.0.1:${port}/`, n, c);
    await closeAll(sockets);
    return cost;
  } finally {
    await new Promise<void>((r) => wss.close(() => r()));
  }
}

if (isMain) {
  const only = process.env.ONLY; // 'lifeline' or 'ws': one row alone (for a profile)
  await lifelineRound(200, 20); // warm both paths (JIT)
  await wsRound(200, 20);
  const rows: { name: string; cpu: number[]; wall: number[] }[] = [
    { name: 'raw ws', cpu: [], wall: [] },
    { name: 'lifeline', cpu: [], wall: [] },
  ];
  for (let r = 0; r < rounds; r++) {
    for (const row of rows) {
      if (only && !row.name.includes(only)) continue;
      const cost = row.name === 'raw ws' ? await wsRound(connections, concurrency) : await lifelineRound(connections, concurrency);
      row.cpu.push(cost.cpuUsPerConnect);
      row.wall.push(cost.wallMs);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(`connect cost: ${connections} connections, ${concurrency} at a time, median of ${rounds} (client and server in one process)`);
  for (const row of rows) {
    if (row.cpu.length === 0) continue;
    console.log(`  ${row.name.padEnd(9)} CPU ${median(row.cpu).toFixed(0).padStart(5)} µs/connect   wall ${median(row.wall).toFixed(0).padStart(6)} ms   [${row.cpu.map((x) => x.toFixed(0)).join(', ')}]`);
  }
  const [ws, ll] = rows;
  if (ws && ll && ws.cpu.length && ll.cpu.length) {
    console.log(`  lifeline server extra ≈ ${(median(ll.cpu) - median(ws.cpu)).toFixed(0)} µs/connect; ratio of totals ${(median(ll.cpu) / median(ws.cpu)).toFixed(2)}×, wall ${(median(ll.wall) / median(ws.wall)).toFixed(2)}×`);
  }
}
