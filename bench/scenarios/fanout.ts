/**
 * Scenario 5 (issue 7): fan-out. One channel, 2,000 and 10,000 subscribers; the
 * server publishes at a steady rate; each delivery's latency is measured from
 * the message's *scheduled* send time (so a backlog shows) and, since issue 16,
 * from the moment the server actually handed it to the library; plus how far each
 * publisher fell behind its schedule and whether anything was lost.
 *
 * raw ws broadcasts the same bytes to every socket; "raw ws, batched" does the
 * same with every socket corked for the publish tick (ws-batched.ts, issue 16);
 * Socket.IO uses io.emit; Lifeline uses server.publish(channel) (per-session seq,
 * queue, replay buffer, acks), once with the lean bench client and once with the
 * reference client. Clock: process.hrtime (CLOCK_MONOTONIC, shared by both processes).
 *
 * measureFanout() is shared with the saturating fan-out (saturation.ts).
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import type { Child } from '../lib/proc.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { defaults } from '../../spec/protocol/defaults.js';
import { connectReference, isClientAvailable } from '../contenders/lifeline-client.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { holdWrites } from '../contenders/ws-batched.js';
import { fmt, median, ratio, rotate, Samples, sortedQuantile, table } from '../lib/stats.js';
import {
  LOAD_CPU, SERVER_CPU, contendersOf, ioCarrier, launch, placementOf, sleep, stopAll, type Carrier, type ClientKind, type Contender, type RunContext,
  type Section,
} from '../lib/scenario.js';
import { openMany } from './memory.js';
import { installWriteProbe } from './write-probe.js';

const CHANNEL = 'bench.fanout';

/** Fan-out p99 ÷ raw ws before issue 12's core redesign, by subscriber count (bench/RESULTS.md, 2026-11-25). */
const BEFORE_CORE_REDESIGN_P99_RATIO: Readonly<Record<number, number>> = { 2000: 1.74, 10000: 1.54 };

/** ms on the system-wide monotonic clock. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Payload header: k, scheduled send time, actual send time (f64 each, little-endian). */
const HEADER_BYTES = 24;

function makePayload(bytes: number, k: number, scheduledMs: number, sentMs: number): Uint8Array {
  const b = new Uint8Array(Math.max(HEADER_BYTES, bytes));
  const v = new DataView(b.buffer);
  v.setFloat64(0, k, true);
  v.setFloat64(8, scheduledMs, true);
  v.setFloat64(16, sentMs, true);
  return b;
}

// ---------------------------------------------------------------------------
// server role
// ---------------------------------------------------------------------------

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const carrier = (cfg['carrier'] as Carrier | undefined) ?? 'websocket';
  let port: number;
  let count: () => number;
  let broadcast: (b: Uint8Array) => void;
  if (kind === 'ws') {
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
    broadcast = (b) => {
      for (const c of s.wss.clients) c.send(b, { binary: true });
    };
  } else if (kind === 'wsb') {
    // Issue 16: each socket corked from its first frame of a publish tick until the next tick, so
    // a tick that publishes several messages (a publisher behind schedule) writes them in one writev.
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
    broadcast = (b) => {
      for (const c of s.wss.clients) {
        holdWrites(c);
        c.send(b, { binary: true });
      }
    };
  } else if (kind === 'socketio') {
    const s = await startIoServer(() => undefined, ioCarrier(carrier));
    port = s.port;
    count = () => s.io.engine.clientsCount;
    broadcast = (b) => void s.io.emit('m', b);
  } else {
    const s = await startLifeline({ heartbeatIntervalMs: 25_000, clientAckDelayMs: cfg['clientAckDelayMs'] as number });
    port = s.port;
    count = () => s.srv.stats().sessions;
    broadcast = (b) => void s.srv.publish(CHANNEL, { payload: b });
    // BENCH_WRITE_PROBE=1 (issue 16): where a delivery's time from send goes, server side.
    if (process.env['BENCH_WRITE_PROBE'] === '1') await installWriteProbe(rpc);
  }
  rpc.on('port', () => port);
  rpc.on('count', () => count());
  rpc.on('publish', async (a) => {
    const rate = a['rate'] as number;
    const total = a['total'] as number;
    const bytes = a['payloadBytes'] as number;
    const periodMs = 1000 / rate;
    const start = nowMs() + 50;
    let k = 0;
    let maxLagMs = 0;
    const c0 = process.cpuUsage();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = nowMs();
        while (k < total && start + k * periodMs <= now) {
          const scheduled = start + k * periodMs;
          const sent = nowMs();
          maxLagMs = Math.max(maxLagMs, sent - scheduled);
          broadcast(makePayload(bytes, k, scheduled, sent));
          k++;
        }
        if (k >= total) resolve();
        else setTimeout(tick, Math.max(0, start + k * periodMs - nowMs()));
      };
      setTimeout(tick, 50);
    });
    const c = process.cpuUsage(c0);
    const endLagMs = nowMs() - (start + (total - 1) * periodMs);
    return { maxLagMs, endLagMs, cpuUs: c.user + c.system };
  });
}

// ---------------------------------------------------------------------------
// load role
// ---------------------------------------------------------------------------

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  const client = (cfg['client'] as ClientKind | undefined) ?? 'lean';
  const carrier = (cfg['carrier'] as Carrier | undefined) ?? 'websocket';
  let lat = new Samples(4_000_000);
  let latSent = new Samples(4_000_000);
  let received = 0;
  let gaps = 0;
  let lastK: Float64Array = new Float64Array(0);
  const onPayload = (i: number, b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const k = v.getFloat64(0, true);
    const now = nowMs();
    lat.push(now - v.getFloat64(8, true));
    latSent.push(now - v.getFloat64(16, true));
    received++;
    if (k !== (lastK[i] as number) + 1) gaps++;
    lastK[i] = k;
  };
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const n = a['n'] as number;
    lastK = new Float64Array(n).fill(-1);
    const t0 = performance.now();
    if (kind === 'ws' || kind === 'wsb') {
      await openMany(n, 100, async (i): Promise<WebSocket> => {
        const ws = await connectWs(port);
        ws.on('message', (d: Buffer) => onPayload(i, d));
        return ws;
      });
    } else if (kind === 'socketio') {
      await openMany(n, 100, async (i): Promise<IoClientSocket> => {
        const s = await connectIo(port, ioCarrier(carrier));
        s.on('m', (d: Buffer) => onPayload(i, d));
        return s;
      });
    } else if (client === 'reference') {
      // The reference client, public API, defaults (issue 16): subscribed from its Hello (RS-9).
      const url = `ws://127.0.0.1:${port}/lifeline`;
      await openMany(n, 100, async (i) => {
        const c = await connectReference(url, { channels: [CHANNEL], carrier: carrier === 'http' ? 'http' : 'ws' });
        c.on('message', (m) => onPayload(i, m.payload));
        return c;
      });
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      await openMany(n, 100, (i) =>
        WireClient.connect({ url, channels: [CHANNEL], ackDelayMs: 50, onMessage: (p) => onPayload(i, p) }),
      );
    }
    return { seconds: (performance.now() - t0) / 1000 };
  });
  rpc.on('reset', () => {
    lat = new Samples(4_000_000);
    latSent = new Samples(4_000_000);
    received = 0;
    gaps = 0;
    lastK.fill(-1);
  });
  rpc.on('stats', (a) => {
    if (a['isFinal'] !== true) return { received };
    const s = lat.sorted();
    const t = latSent.sorted();
    return {
      received, gaps, p50Ms: sortedQuantile(s, 0.5), p99Ms: sortedQuantile(s, 0.99), maxMs: sortedQuantile(s, 1),
      p50SentMs: sortedQuantile(t, 0.5), p99SentMs: sortedQuantile(t, 0.99),
    };
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

export interface FanoutCell {
  /** From the scheduled send time. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** From the moment the server handed the message to the library (issue 16). */
  readonly p50SentMs: number;
  readonly p99SentMs: number;
  readonly maxLagMs: number;
  readonly endLagMs: number;
  readonly lossPct: number;
  readonly gaps: number;
  readonly cpuUsPerDelivery: number;
  /** Load generator CPU over the run ÷ wall time (1 = its core was full: the clients were the limit). */
  readonly loadCpuShare: number;
  /** Subscribers the server still counted when the run started. */
  readonly present: number;
  /** Server read / write system calls ÷ deliveries over the same span as the CPU (NaN off Linux). */
  readonly serverReadsPerDelivery: number;
  readonly serverWritesPerDelivery: number;
  /** Load generator write system calls ÷ deliveries: its Acks and heartbeats (raw ws: none). */
  readonly loadWritesPerDelivery: number;
}

interface CpuReading {
  readonly cpuUs: number;
  readonly wallMs: number;
  /** null when JSON carried a NaN (no /proc/self/io). */
  readonly reads: number | null;
  readonly writes: number | null;
}

/** (b − a) ÷ per, NaN when either count is missing. */
function perDelivery(a: number | null, b: number | null, per: number): number {
  return a === null || b === null ? Number.NaN : (b - a) / per;
}

interface FinalStats {
  readonly received: number;
  readonly gaps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p50SentMs: number;
  readonly p99SentMs: number;
}

export interface FanoutPlan {
  /** Used in child labels and logs. */
  readonly name: string;
  readonly rowsOf: readonly Contender[];
  readonly subscribers: number;
  readonly rate: number;
  readonly total: number;
  readonly payloadBytes: number;
  readonly reps: number;
  /** Longest wait for the tail after the last publish; what is missing then is lost. */
  readonly tailMs: number;
}

/**
 * Open the subscribers of every row once, then `reps` publish runs per row, rows interleaved. Cells by
 * row key. A row whose run fails (a publish past its timeout on a starved machine) is stopped and
 * skipped from then on, its reason returned by row label, so the other rows still report.
 */
export async function measureFanout(ctx: RunContext, plan: FanoutPlan, cells: Map<string, FanoutCell[]>): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  const { subscribers: n, rate, total, payloadBytes } = plan;
  const servers = new Map<string, Awaited<ReturnType<typeof launch>>>();
  const loads = new Map<string, Awaited<ReturnType<typeof launch>>>();
  try {
    await Promise.all(
      plan.rowsOf.map(async (c) => {
        const [srv, ld] = await Promise.all([
          launch(ctx, { scenario: 'fanout', role: 'server', config: { kind: c.kind, carrier: c.carrier, clientAckDelayMs: ctx.fanoutClientAckDelayMs }, cpu: SERVER_CPU }),
          launch(ctx, { scenario: 'fanout', role: 'load', config: { kind: c.kind, client: c.client, carrier: c.carrier }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
        ]);
        servers.set(c.key, srv);
        loads.set(c.key, ld);
      }),
    );
    for (const c of plan.rowsOf) {
      const srv = servers.get(c.key)!;
      const ld = loads.get(c.key)!;
      const port = await srv.call<number>('port');
      const open = await ld.call<{ seconds: number }>('open', { port, n }, 300_000);
      const deadline = performance.now() + 60_000;
      while ((await srv.call<number>('count')) < n && performance.now() < deadline) await sleep(100);
      ctx.log(`${plan.name} ${c.label}: ${n} subscribers in ${open.seconds.toFixed(1)} s`);
    }
    for (let r = 0; r < plan.reps; r++) {
      for (const c of rotate(plan.rowsOf, r)) {
        const srv = servers.get(c.key);
        const ld = loads.get(c.key);
        if (!srv || !ld) continue;
        try {
          await publishRun(ctx, plan, c, srv, ld, r, cells);
        } catch (err) {
          const why = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
          failed.set(c.label, why);
          ctx.log(`${plan.name} ${c.label} rep ${r + 1} FAILED (row skipped from now on): ${why}`);
          servers.delete(c.key);
          loads.delete(c.key);
          await stopAll(ctx, srv, ld); // a server still publishing would bill the other rows' core
        }
      }
    }
  } finally {
    await stopAll(ctx, ...servers.values(), ...loads.values());
  }
  return failed;
}

async function publishRun(
  ctx: RunContext, plan: FanoutPlan, c: Contender, srv: Child, ld: Child, r: number, cells: Map<string, FanoutCell[]>,
): Promise<void> {
  const { subscribers: n, rate, total, payloadBytes } = plan;
  // A subscriber the server dropped (Socket.IO's ping timeout on a starved core, no reconnection) is loss, said by name.
  const present = await srv.call<number>('count');
  if (present < n) ctx.log(`${plan.name} ${c.label} rep ${r + 1}: only ${present}/${n} subscribers connected at the start`);
  await ld.call('reset');
  const cpu0 = await srv.call<CpuReading>('cpu');
  const load0 = await ld.call<CpuReading>('cpu');
  const pub = await srv.call<{ maxLagMs: number; endLagMs: number }>('publish', { rate, total, payloadBytes }, 300_000);
  // Let the tail arrive: bounded wait until everything came or tailMs passed.
  const want = n * total;
  const until = performance.now() + plan.tailMs;
  let got = (await ld.call<{ received: number }>('stats')).received;
  while (got < want && performance.now() < until) {
    await sleep(200);
    got = (await ld.call<{ received: number }>('stats')).received;
  }
  const cpu1 = await srv.call<CpuReading>('cpu');
  if (process.env['BENCH_WRITE_PROBE'] === '1' && c.kind === 'lifeline') ctx.log(`${plan.name} ${c.label} rep ${r + 1} write probe: ${await srv.call<string>('probe')}`);
  const load1 = await ld.call<CpuReading>('cpu');
  // JSON turns a NaN quantile (nothing received) into null: back to NaN, so it shows as '—', not 0.
  const raw = await ld.call<Record<keyof FinalStats, number | null>>('stats', { isFinal: true }, 120_000);
  const num = (x: number | null) => (typeof x === 'number' ? x : Number.NaN);
  const st: FinalStats = {
    received: num(raw.received), gaps: num(raw.gaps), p50Ms: num(raw.p50Ms), p99Ms: num(raw.p99Ms), p50SentMs: num(raw.p50SentMs), p99SentMs: num(raw.p99SentMs),
  };
  const list = cells.get(c.key) ?? [];
  list.push({
    p50Ms: st.p50Ms, p99Ms: st.p99Ms, p50SentMs: st.p50SentMs, p99SentMs: st.p99SentMs, maxLagMs: pub.maxLagMs, endLagMs: pub.endLagMs,
    lossPct: (100 * (want - st.received)) / want, gaps: st.gaps, cpuUsPerDelivery: (cpu1.cpuUs - cpu0.cpuUs) / want,
    loadCpuShare: (load1.cpuUs - load0.cpuUs) / 1000 / (load1.wallMs - load0.wallMs),
    present,
    serverReadsPerDelivery: perDelivery(cpu0.reads, cpu1.reads, want),
    serverWritesPerDelivery: perDelivery(cpu0.writes, cpu1.writes, want),
    loadWritesPerDelivery: perDelivery(load0.writes, load1.writes, want),
  });
  cells.set(c.key, list);
  ctx.log(`${plan.name} ${c.label} ${n} rep ${r + 1}: p99 ${fmt(st.p99Ms, 1)} ms (from send ${fmt(st.p99SentMs, 1)} ms), ${st.received}/${want} delivered`);
  await srv.call('mem');
}

/** The rows of both fan-out scenarios: raw ws, raw ws batched, Socket.IO, Lifeline with each client (issue 16). */
export async function fanoutContenders(ctx: RunContext): Promise<Contender[]> {
  return contendersOf(ctx, { isBatched: true, lifelineClients: ['lean', 'reference'], hasReferenceClient: await isClientAvailable() });
}

export async function runFanout(ctx: RunContext): Promise<Section> {
  const sizes = ctx.quick ? [1_000] : [2_000, 10_000];
  const reps = ctx.quick ? 1 : 2;
  const deliveriesPerSec = ctx.quick ? 20_000 : 40_000;
  const seconds = ctx.quick ? 1.5 : 2.5;
  const payloadBytes = 64;
  const rowsOf = await fanoutContenders(ctx);
  const cells = new Map<string, FanoutCell[]>();
  const rates = new Map<number, number>();
  const failures: string[] = [];
  for (const n of sizes) {
    const rate = Math.max(1, Math.round(deliveriesPerSec / n));
    rates.set(n, rate);
    const byKey = new Map<string, FanoutCell[]>();
    const failed = await measureFanout(ctx, { name: 'fan-out', rowsOf, subscribers: n, rate, total: Math.round(rate * seconds), payloadBytes, reps, tailMs: 5_000 }, byKey);
    for (const [k, v] of byKey) cells.set(`${k}/${n}`, v);
    for (const [label, why] of failed) failures.push(`${label} at ${n.toLocaleString('en-US')} subscribers did not finish (row skipped after it): ${why}`);
  }
  const rows: string[][] = [];
  const targets: Section['targets'][number][] = [];
  for (const n of sizes) {
    const med = (key: string, f: (c: FanoutCell) => number) => median((cells.get(`${key}/${n}`) ?? []).map(f));
    const base = med('ws', (c) => c.p99Ms);
    const baseBatched = med('wsb', (c) => c.p99Ms);
    for (const c of rowsOf) {
      const p99 = med(c.key, (x) => x.p99Ms);
      rows.push([
        n.toLocaleString('en-US'), `${rates.get(n)}/s`, c.label, fmt(med(c.key, (x) => x.p50Ms), 1), fmt(p99, 1), ratio(p99, base), ratio(p99, baseBatched),
        fmt(med(c.key, (x) => x.p99SentMs), 1), fmt(med(c.key, (x) => x.maxLagMs), 1), fmt(med(c.key, (x) => x.endLagMs), 1),
        `${fmt(med(c.key, (x) => x.lossPct), 2)} %`, fmt(med(c.key, (x) => x.cpuUsPerDelivery), 2), `${fmt(100 * med(c.key, (x) => x.loadCpuShare))} %`,
      ]);
    }
    // Issue 7 and 12 targets on the bench wire client's row, as they were measured.
    const lean = rowsOf.find((c) => c.kind === 'lifeline' && c.client === 'lean');
    const lp99 = lean ? med(lean.key, (c) => c.p99Ms) : Number.NaN;
    const loss = lean ? med(lean.key, (c) => c.lossPct) : Number.NaN;
    const measured = lean ? `${ratio(lp99, base)}, loss ${fmt(loss, 2)} %` : 'not run';
    targets.push({ what: `fan-out ${n.toLocaleString('en-US')}: Lifeline p99 ≤ 1.2× raw ws, no loss (issue 7)`, measured, isMet: lean ? lp99 / base <= 1.2 && loss === 0 : undefined });
    // Issue 12: no worse than before the core redesign (RESULTS.md of 2026-11-25: 1.74× at 2,000, 1.54× at 10,000).
    const before = BEFORE_CORE_REDESIGN_P99_RATIO[n];
    if (before !== undefined) {
      targets.push({ what: `fan-out ${n.toLocaleString('en-US')}: Lifeline p99 ≤ ${before}× raw ws (as before the core redesign), no loss (issue 12)`, measured, isMet: lean ? lp99 / base <= before && loss === 0 : undefined });
    }
  }
  return {
    title: 'Fan-out (one channel, steady publish rate)',
    placement: placementOf(ctx),
    table: table(
      [
        'subscribers', 'publish rate', 'contender', 'p50 ms', 'p99 ms', 'p99 × raw ws', 'p99 × batched ws', 'p99 from send ms', 'publisher max lag ms',
        'last publish late by ms', 'lost', 'server CPU µs/delivery', 'load-gen CPU',
      ],
      rows,
    ),
    notes: [
      `${payloadBytes}-byte payloads, rate chosen for ~${deliveriesPerSec.toLocaleString('en-US')} deliveries/s, ${seconds} s per run; latency from each message's scheduled send time to its arrival at each subscriber ("p99 from send": from when the server handed it to the library).`,
      `Connections opened once per row and size; ${reps} publish run(s) each, rows interleaved (rotated), median.`,
      '"publisher max lag" = how late the publish loop ran against its schedule; "lost" = deliveries missing 5 s after the last publish.',
      '"raw ws, batched" (issue 16): each socket is corked at its first frame of a publish tick and uncorked on the next tick (bench/contenders/ws-batched.ts, Lifeline\'s write batching); it differs from raw ws only when one tick publishes several messages (the publisher behind its schedule).',
      ctx.fanoutClientAckDelayMs === 0
        ? 'Lifeline subscribers ack (SEQ-5; the bench wire client after 50 ms, the reference client with its default; the server states none here, `--fanout-client-ack-delay-ms=0`, SEQ-12) so the server trims its replay buffer.'
        : `Lifeline subscribers ack so the server trims its replay buffer, with the ${ctx.fanoutClientAckDelayMs ?? defaults.clientAckDelayMs} ms delay the server states in Welcome (SEQ-12${ctx.fanoutClientAckDelayMs === undefined ? ', its default' : ''}; both clients obey it, at half the window sooner).`,
      'Two Lifeline rows (issue 16): the same server driven by the lean bench wire client (what issues 7 and 12 measured; their targets use this row) and by the reference client (`createNodeClient`, defaults). "load-gen CPU" = the subscribers\' process CPU ÷ wall time over the run: near 100 % the clients, not the server, set the latency.',
      'Server CPU µs/delivery = server CPU from the first publish until the tail arrived (acks included) ÷ deliveries.',
      ...failures,
    ],
    targets,
  };
}
