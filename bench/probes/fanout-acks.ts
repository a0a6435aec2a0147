/**
 * What the client ack delay the server states (SEQ-12, Welcome.client_ack_delay_ms) does to a gentle
 * fan-out (issue 12, issue 16): the fan-out scenario's rows (bench/scenarios/fanout.ts, both Lifeline
 * clients) at one size and rate, once per stated delay, delays interleaved rep by rep, each run with
 * fresh processes. Prints server CPU µs per delivery, the server's read and write system calls per
 * delivery and the load generator's writes per delivery (its Acks and heartbeats): counts do not move
 * with the machine's load, CPU µs and latency do. Run by hand, compiled as the bench runs:
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/fanout-acks.js \
 *     [--delays=0,250] [--n=2000] [--rate=20] [--seconds=2.5] [--reps=3] [--clients=lean,reference] [--ws] [--tail-ms=5000] [--payload=64] [--profile=DIR]
 *
 * The saturating fan-out (bench/scenarios/saturation.ts) is `--n=2000 --rate=100 --seconds=3 --payload=100 --tail-ms=15000`.
 *
 * `--ws`: raw ws as a row too (the same run once per delay; the delay means nothing to it), the floor of
 * one write per socket per message. A delay of 0 = the server states none (each client uses its own 50 ms). `--profile=DIR`: node --cpu-prof
 * of every child (connects included), for bench/lib/profile-summary.ts.
 */
import { isClientAvailable } from '../contenders/lifeline-client.js';
import type { Child } from '../lib/proc.js';
import { contendersOf, type ClientKind, type RunContext } from '../lib/scenario.js';
import { fmt, median, table } from '../lib/stats.js';
import { measureFanout, type FanoutCell } from '../scenarios/fanout.js';

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

const delays = arg('delays', '0,250').split(',').map(Number);
const n = Number(arg('n', '2000'));
const rate = Number(arg('rate', '20'));
const seconds = Number(arg('seconds', '2.5'));
const reps = Number(arg('reps', '3'));
const clients = arg('clients', 'lean,reference').split(',') as ClientKind[];
const profileDir = arg('profile', '');
const withWs = process.argv.includes('--ws');
const tailMs = Number(arg('tail-ms', '5000'));
const payloadBytes = Number(arg('payload', '64'));

const t0 = performance.now();
const children = new Set<Child>();
const base: RunContext = {
  quick: false,
  kinds: withWs ? ['ws', 'lifeline'] : ['lifeline'],
  children,
  ...(profileDir ? { profileDir } : {}),
  placement: 'pinned',
  log: (msg) => process.stderr.write(`[probe ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`),
};
process.on('SIGINT', () => {
  for (const c of children) c.proc.kill('SIGKILL');
  process.exit(130);
});

const rows = (contendersOf(base, { isBatched: false, lifelineClients: clients, hasReferenceClient: await isClientAvailable() })).filter(
  (c) => c.kind === 'lifeline' || (withWs && c.kind === 'ws'),
);
const cells = new Map<string, FanoutCell[]>(); // `${delay}/${row key}`
for (let r = 0; r < reps; r++) {
  const order = r % 2 === 0 ? delays : [...delays].reverse();
  for (const delay of order) {
    const ctx: RunContext = {
      ...base,
      ...(profileDir ? { profileDir: `${profileDir}/delay-${delay}` } : {}),
      fanoutClientAckDelayMs: delay,
      log: (m) => base.log(`[delay ${delay}] ${m}`),
    };
    const byKey = new Map<string, FanoutCell[]>();
    const plan = { name: `fan-out rep ${r + 1}`, rowsOf: rows, subscribers: n, rate, total: Math.round(rate * seconds), payloadBytes, reps: 1, tailMs };
    const failed = await measureFanout(ctx, plan, byKey);
    for (const [label, why] of failed) base.log(`[delay ${delay}] ${label} failed: ${why}`);
    for (const [k, v] of byKey) cells.set(`${delay}/${k}`, [...(cells.get(`${delay}/${k}`) ?? []), ...v]);
  }
}

const out: string[][] = [];
for (const c of rows) {
  for (const delay of delays) {
    const list = cells.get(`${delay}/${c.key}`) ?? [];
    const med = (f: (x: FanoutCell) => number) => median(list.map(f));
    out.push([
      c.label, delay === 0 ? '0 (client\'s own 50)' : String(delay), String(list.length),
      fmt(med((x) => x.cpuUsPerDelivery), 2), fmt(med((x) => x.serverReadsPerDelivery), 3), fmt(med((x) => x.serverWritesPerDelivery), 3),
      fmt(med((x) => x.loadWritesPerDelivery), 3), `${fmt(100 * med((x) => x.loadCpuShare))} %`,
      fmt(med((x) => x.p50Ms), 1), fmt(med((x) => x.p99Ms), 1), fmt(med((x) => x.p99SentMs), 1), `${fmt(med((x) => x.lossPct), 2)} %`,
    ]);
  }
}
console.log(`\n${n.toLocaleString('en-US')} subscribers, ${rate}/s × ${payloadBytes} B for ${seconds} s, ${reps} rep(s) per delay, interleaved, medians:\n`);
console.log(
  table(
    ['client', 'stated ack delay ms', 'runs', 'server CPU µs/delivery', 'server reads/delivery', 'server writes/delivery', 'load-gen writes/delivery', 'load-gen CPU', 'p50 ms', 'p99 ms', 'p99 from send ms', 'lost'],
    out,
  ),
);
