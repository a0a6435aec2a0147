/**
 * RedisBroker figures (issue 14, deliverable 2, step 4): publishes per second and the end-to-end
 * latency of one 100 B publication to 2 nodes on a loopback redis-server. Run by hand, not in CI:
 *
 *   npx tsx bench/probes/redis-broker.ts [--n=20000] [--window=256] [--samples=2000]
 *
 * Two RedisBrokers (nodes A and B) in this one process, both joined to the channel, A publishing.
 * - throughput: n publications, at most `window` publishes in flight, until both nodes hold all;
 *   and the same one publish at a time (await each: the publish promise resolves once A's own
 *   reader has the entry back, see redis-broker.ts);
 * - latency: one publication at a time, the next after both nodes got it; the payload carries the
 *   send time (performance.now()), each node's delivery takes its own sample; p50 / p99 per node.
 * One process hosts both nodes and their 4 connections: the figures include that event loop.
 */
import { startRedis } from '../../test/support/redis.js';
import type { Publication } from '../../server/stores/broker.js';
import { RedisBroker } from '../../server/stores/redis-broker.js';

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const n = arg('n', 20_000);
const window = arg('window', 256);
const samples = arg('samples', 2_000);
const PAYLOAD_BYTES = 100;

const redis = await startRedis();
const a = new RedisBroker({ redis: redis.url, nodeId: 'A' });
const b = new RedisBroker({ redis: redis.url, nodeId: 'B' });
await Promise.all([a.ready(), b.ready()]);

type Sink = (p: Publication, at: number) => void;
let sinkA: Sink = () => {};
let sinkB: Sink = () => {};
a.bind((p) => (sinkA(p, performance.now()), 1));
b.bind((p) => (sinkB(p, performance.now()), 1));

const payload = (t: number) => {
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  new DataView(bytes.buffer).setFloat64(0, t);
  return bytes;
};
const sentAt = (p: Publication) => (p.kind === 'message' ? new DataView(p.message.payload.buffer, p.message.payload.byteOffset).getFloat64(0) : NaN);

async function joined(channel: string): Promise<void> {
  // each node's own publish is ordered after its join (see the join window in redis-broker.ts):
  // once each has its own marker back, every later publish reaches both
  sinkA = sinkB = () => {};
  a.join(channel);
  b.join(channel);
  await a.publish({ kind: 'message', channel, message: { payload: payload(0) } });
  await b.publish({ kind: 'message', channel, message: { payload: payload(0) } });
}

async function throughput(label: string, channel: string, inFlight: number): Promise<void> {
  await joined(channel);
  let gotA = 0;
  let gotB = 0;
  const all = new Promise<void>((resolve) => {
    sinkA = () => void (++gotA === n && gotB === n && resolve());
    sinkB = () => void (++gotB === n && gotA === n && resolve());
  });
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      await a.publish({ kind: 'message', channel, message: { payload: payload(0) } });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await all;
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(34)} ${String(Math.round(n / s)).padStart(8)} publishes/s  (${n} × ${PAYLOAD_BYTES} B to 2 nodes in ${s.toFixed(2)} s)`);
}

async function latency(channel: string): Promise<void> {
  await joined(channel);
  const la: number[] = [];
  const lb: number[] = [];
  for (let i = 0; i < samples; i++) {
    let left = 2;
    const both = new Promise<void>((resolve) => {
      sinkA = (p, at) => (la.push(at - sentAt(p)), --left === 0 && resolve());
      sinkB = (p, at) => (lb.push(at - sentAt(p)), --left === 0 && resolve());
    });
    await a.publish({ kind: 'message', channel, message: { payload: payload(performance.now()) } });
    await both;
  }
  const pct = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number;
  for (const [node, xs] of [['A (the publisher)', la], ['B', lb]] as const) {
    console.log(`latency to node ${node.padEnd(18)} p50 ${pct(xs, 0.5).toFixed(3)} ms   p99 ${pct(xs, 0.99).toFixed(3)} ms   (${xs.length} samples)`);
  }
}

try {
  console.log(`RedisBroker on loopback redis-server (${process.version}), ${PAYLOAD_BYTES} B payloads, 2 nodes in one process`);
  await throughput(`throughput, ${window} in flight`, 'bench-window', window);
  await throughput('throughput, one at a time', 'bench-serial', 1);
  await latency('bench-latency');
} finally {
  await a.close();
  await b.close();
  await redis.stop();
}
