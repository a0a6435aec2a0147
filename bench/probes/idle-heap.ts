/**
 * Heap per idle session (issue 12: the session store must not grow it). The server runs here; the
 * clients run in a child process, so only the server's heap is measured. Each client says Hello
 * with one channel and then stays idle. Run with --expose-gc:
 *
 *   node --expose-gc --import tsx bench/probes/idle-heap.ts 3000
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import WebSocket from 'ws';
import { EnvelopeSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { createServer } from '../../server/server.js';

const n = Number(process.argv[2] ?? 3000);

async function clients(url: string, count: number): Promise<void> {
  const hello = encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, channels: ['feed'] }) } }));
  const open: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, SUBPROTOCOL);
      ws.once('open', () => ws.send(hello));
      ws.once('message', () => resolve()); // the Welcome
      ws.once('error', reject);
      open.push(ws);
    });
  }
  process.send?.('ready');
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const off = Number.POSITIVE_INFINITY; // as the bench's contender: thousands of upgrades from 127.0.0.1
  const srv = createServer({ heartbeatIntervalMs: 60_000, upgradeRatePerSecond: off, messageRatePerSecond: off, controlRatePerSecond: off, maxSessions: off, maxPendingUpgradesPerIp: off });
  await srv.listen();
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage();
  };
  const before = await settle();
  const child = fork(fileURLToPath(import.meta.url), ['--child', srv.url(), String(n)], { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  await new Promise((r) => setTimeout(r, 500));
  const after = await settle();
  if (srv.stats().sessions !== n) throw new Error(`expected ${n} sessions, have ${srv.stats().sessions}`);
  console.log(JSON.stringify({ sessions: n, heapPerSessionBytes: Math.round((after.heapUsed - before.heapUsed) / n), rssPerSessionBytes: Math.round((after.rss - before.rss) / n) }));
  child.kill();
  await srv.close();
}

if (process.argv[2] === '--child') void clients(process.argv[3] as string, Number(process.argv[4]));
else void main();
