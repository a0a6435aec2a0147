/**
 * Server-side cost of one fan-out delivery, in µs, with and without the optional parts of the
 * hot path (metrics; see `--variant`). A quick in-process measurement for the report, not a
 * benchmark with baselines (bench/ has those): N loopback sessions subscribe to one channel;
 * each round publishes K messages and times only the synchronous `publish()` calls, which do
 * the whole server-side work of a delivery (queue, gate, seq, encode, metrics, ws.send).
 * Clients count frames and ack between rounds, so the window never binds.
 *
 *   npx tsx bench/perf/fanout-cost.ts [sessions=200] [perRound=100] [rounds=30] [payloadBytes=64]
 */
import { create } from '@bufbuild/protobuf';
import WebSocket from 'ws';
import { AckSchema, EnvelopeSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { createLifelineMetrics } from '../../server/observability/metrics.js';
import type { LifelineServerOptions } from '../../server/options.js';
import { createServer } from '../../server/server.js';
import { connectRaw } from '../../testkit/raw-client.js';

const [sessions = 200, perRound = 100, rounds = 30, payloadBytes = 64] = process.argv.slice(2).map(Number);
const CHANNEL = 'perf';

interface Counting {
  readonly ws: WebSocket;
  frames: number;
}

async function run(label: string, extra: LifelineServerOptions): Promise<number> {
  const window = perRound * 2;
  const srv = createServer({
    heartbeatIntervalMs: 60_000,
    upgradeRatePerSecond: Number.POSITIVE_INFINITY, // many sockets from 127.0.0.1 (issue 13 defaults)
    receiveWindow: window,
    replayWindowMessages: window,
    queueLimitMessages: window,
    ...extra,
  });
  await srv.listen(0, '127.0.0.1');
  const clients: Counting[] = [];
  for (let i = 0; i < sessions; i++) {
    const raw = await connectRaw(srv.url());
    await raw.handshake({ channels: [CHANNEL], receiveWindow: window });
    const c: Counting = { ws: raw.ws, frames: 0 };
    raw.ws.removeAllListeners('message'); // count only: no decoding on the client side
    raw.ws.on('message', () => c.frames++);
    clients.push(c);
  }
  const payload = new Uint8Array(payloadBytes).fill(7);
  const samples: number[] = [];
  let expected = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let k = 0; k < perRound; k++) void srv.publish(CHANNEL, { payload }); // the default broker queues before it returns
    const us = ((performance.now() - t0) * 1000) / (perRound * sessions);
    if (r >= 3) samples.push(us); // warm-up rounds out
    expected += perRound;
    while (clients.some((c) => c.frames < expected)) await new Promise((res) => setImmediate(res));
    const ack = encode(create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq: BigInt(expected) }) } }));
    for (const c of clients) c.ws.send(ack);
    await new Promise((res) => setTimeout(res, 5));
  }
  for (const c of clients) c.ws.terminate();
  await srv.close();
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)] as number;
  console.log(`${label.padEnd(14)} ${median.toFixed(2)} µs per delivery (median of ${samples.length} rounds of ${perRound} × ${sessions})`);
  return median;
}

const variants: [string, () => LifelineServerOptions][] = [
  ['metrics off', () => ({})],
  ['metrics on', () => ({ metrics: createLifelineMetrics() })],
];
const results = new Map<string, number[]>();
// Interleave the variants so a machine-wide slowdown hits both alike.
for (let rep = 0; rep < 5; rep++) {
  for (const [label, opts] of variants) {
    const v = await run(label, opts());
    results.set(label, [...(results.get(label) ?? []), v]);
  }
}
console.log(`node ${process.version}, ${sessions} sessions, ${payloadBytes} B payload`);
for (const [label, vs] of results) console.log(`${label.padEnd(14)} best ${Math.min(...vs).toFixed(2)} µs, all ${vs.map((v) => v.toFixed(2)).join(' / ')}`);
