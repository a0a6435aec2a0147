/**
 * Scenario 5 (issue 7): fan-out. One channel, 2,000 and 10,000 subscribers; the
 * server publishes at a steady rate; each delivery's latency is measured from
 * the message's *scheduled* send time (so a backlog shows), plus how far each
 * publisher fell behind its schedule and whether anything was lost.
 *
 * raw ws broadcasts the same bytes to every socket; Socket.IO uses io.emit;
 * Lifeline uses server.publish(channel) (per-session seq, queue, replay buffer,
 * acks). Clock: process.hrtime (CLOCK_MONOTONIC, shared by both processes).
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, ratio, rotate, Samples, sortedQuantile, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { openMany } from './memory.js';

const CHANNEL = 'bench.fanout';

/** ms on the system-wide monotonic clock. */
/** Fan-out p99 ÷ raw ws before issue 12's core redesign, by subscriber count (bench/RESULTS.md, 2026-11-25). */
const BEFORE_CORE_REDESIGN_P99_RATIO: Readonly<Record<number, number>> = { 2000: 1.74, 10000: 1.54 };

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function makePayload(bytes: number, k: number, scheduledMs: number): Uint8Array {
  const b = new Uint8Array(Math.max(16, bytes));
  const v = new DataView(b.buffer);
  v.setFloat64(0, k, true);
  v.setFloat64(8, scheduledMs, true);
  return b;
}

// ---------------------------------------------------------------------------
// server role
// ---------------------------------------------------------------------------

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
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
  } else if (kind === 'socketio') {
    const s = await startIoServer(() => undefined);
    port = s.port;
    count = () => s.io.engine.clientsCount;
    broadcast = (b) => void s.io.emit('m', b);
  } else {
    const s = await startLifeline({ heartbeatIntervalMs: 25_000, clientAckDelayMs: cfg['clientAckDelayMs'] as number });
    port = s.port;
    count = () => s.srv.stats().sessions;
    broadcast = (b) => void s.srv.publish(CHANNEL, { payload: b });
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
          maxLagMs = Math.max(maxLagMs, nowMs() - scheduled);
          broadcast(makePayload(bytes, k, scheduled));
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
  let lat = new Samples(4_000_000);
  let received = 0;
  let gaps = 0;
  let lastK: Float64Array = new Float64Array(0);
  const onPayload = (i: number, b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const k = v.getFloat64(0, true);
    lat.push(nowMs() - v.getFloat64(8, true));
    received++;
    if (k !== (lastK[i] as number) + 1) gaps++;
    lastK[i] = k;
  };
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const n = a['n'] as number;
    lastK = new Float64Array(n).fill(-1);
    const t0 = performance.now();
    if (kind === 'ws') {
      await openMany(n, 100, async (i): Promise<WebSocket> => {
        const ws = await connectWs(port);
        ws.on('message', (d: Buffer) => onPayload(i, d));
        return ws;
      });
    } else if (kind === 'socketio') {
      await openMany(n, 100, async (i): Promise<IoClientSocket> => {
        const s = await connectIo(port);
        s.on('m', (d: Buffer) => onPayload(i, d));
        return s;
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
    received = 0;
    gaps = 0;
    lastK.fill(-1);
  });
  rpc.on('stats', () => {
    const s = lat.sorted();
    return { received, gaps, p50Ms: sortedQuantile(s, 0.5), p99Ms: sortedQuantile(s, 0.99), maxMs: sortedQuantile(s, 1) };
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

interface Cell {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxLagMs: number;
  readonly endLagMs: number;
  readonly lossPct: number;
  readonly gaps: number;
  readonly cpuUsPerDelivery: number;
}

export async function runFanout(ctx: RunContext): Promise<Section> {
  const sizes = ctx.quick ? [1_000] : [2_000, 10_000];
  const reps = ctx.quick ? 1 : 2;
  const deliveriesPerSec = ctx.quick ? 20_000 : 40_000;
  const seconds = ctx.quick ? 1.5 : 2.5;
  const payloadBytes = 64;
  const cells = new Map<string, Cell[]>();
  const rates = new Map<number, number>();
  for (const n of sizes) {
    const rate = Math.max(1, Math.round(deliveriesPerSec / n));
    rates.set(n, rate);
    const total = Math.round(rate * seconds);
    const servers = new Map<Kind, Awaited<ReturnType<typeof launch>>>();
    const loads = new Map<Kind, Awaited<ReturnType<typeof launch>>>();
    try {
      await Promise.all(
        ctx.kinds.map(async (kind) => {
          const [srv, ld] = await Promise.all([
            launch(ctx, { scenario: 'fanout', role: 'server', config: { kind, clientAckDelayMs: ctx.fanoutClientAckDelayMs }, cpu: SERVER_CPU }),
            launch(ctx, { scenario: 'fanout', role: 'load', config: { kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
          ]);
          servers.set(kind, srv);
          loads.set(kind, ld);
        }),
      );
      for (const kind of ctx.kinds) {
        const srv = servers.get(kind)!;
        const ld = loads.get(kind)!;
        const port = await srv.call<number>('port');
        const open = await ld.call<{ seconds: number }>('open', { port, n }, 300_000);
        const deadline = performance.now() + 60_000;
        while ((await srv.call<number>('count')) < n && performance.now() < deadline) await sleep(100);
        ctx.log(`fan-out ${LABEL[kind]}: ${n} subscribers in ${open.seconds.toFixed(1)} s`);
      }
      for (let r = 0; r < reps; r++) {
        for (const kind of rotate(ctx.kinds, r)) {
          const srv = servers.get(kind)!;
          const ld = loads.get(kind)!;
          await ld.call('reset');
          const cpu0 = await srv.call<{ cpuUs: number }>('cpu');
          const pub = await srv.call<{ maxLagMs: number; endLagMs: number }>('publish', { rate, total, payloadBytes }, 120_000);
          // Let the tail arrive: bounded wait until everything came or 5 s passed.
          const want = n * total;
          const until = performance.now() + 5_000;
          let st = await ld.call<{ received: number; gaps: number; p50Ms: number; p99Ms: number }>('stats');
          while (st.received < want && performance.now() < until) {
            await sleep(200);
            st = await ld.call('stats');
          }
          const cpu1 = await srv.call<{ cpuUs: number }>('cpu');
          const key = `${kind}/${n}`;
          const list = cells.get(key) ?? [];
          list.push({
            p50Ms: st.p50Ms, p99Ms: st.p99Ms, maxLagMs: pub.maxLagMs, endLagMs: pub.endLagMs,
            lossPct: (100 * (want - st.received)) / want, gaps: st.gaps, cpuUsPerDelivery: (cpu1.cpuUs - cpu0.cpuUs) / want,
          });
          cells.set(key, list);
          ctx.log(`fan-out ${LABEL[kind]} ${n} rep ${r + 1}: p99 ${fmt(st.p99Ms, 1)} ms, ${st.received}/${want} delivered`);
          await srv.call('mem');
        }
      }
    } finally {
      await stopAll(ctx, ...servers.values(), ...loads.values());
    }
  }
  const rows: string[][] = [];
  const targets: Section['targets'][number][] = [];
  for (const n of sizes) {
    const med = (kind: Kind, f: (c: Cell) => number) => median((cells.get(`${kind}/${n}`) ?? []).map(f));
    const base = med('ws', (c) => c.p99Ms);
    for (const kind of ctx.kinds) {
      const p99 = med(kind, (c) => c.p99Ms);
      rows.push([
        n.toLocaleString('en-US'), `${rates.get(n)}/s`, LABEL[kind], fmt(med(kind, (c) => c.p50Ms), 1), fmt(p99, 1), ratio(p99, base),
        fmt(med(kind, (c) => c.maxLagMs), 1), fmt(med(kind, (c) => c.endLagMs), 1), `${fmt(med(kind, (c) => c.lossPct), 2)} %`,
        fmt(med(kind, (c) => c.cpuUsPerDelivery), 2),
      ]);
    }
    const lf = ctx.kinds.includes('lifeline');
    const lp99 = med('lifeline', (c) => c.p99Ms);
    const loss = med('lifeline', (c) => c.lossPct);
    const measured = lf ? `${ratio(lp99, base)}, loss ${fmt(loss, 2)} %` : 'not run';
    targets.push({ what: `fan-out ${n.toLocaleString('en-US')}: Lifeline p99 ≤ 1.2× raw ws, no loss (issue 7)`, measured, isMet: lf ? lp99 / base <= 1.2 && loss === 0 : undefined });
    // Issue 12: no worse than before the core redesign (RESULTS.md of 2026-11-25: 1.74× at 2,000, 1.54× at 10,000).
    const before = BEFORE_CORE_REDESIGN_P99_RATIO[n];
    if (before !== undefined) {
      targets.push({ what: `fan-out ${n.toLocaleString('en-US')}: Lifeline p99 ≤ ${before}× raw ws (as before the core redesign), no loss (issue 12)`, measured, isMet: lf ? lp99 / base <= before && loss === 0 : undefined });
    }
  }
  return {
    title: 'Fan-out (one channel, steady publish rate)',
    table: table(
      ['subscribers', 'publish rate', 'contender', 'p50 ms', 'p99 ms', 'p99 × raw ws', 'publisher max lag ms', 'last publish late by ms', 'lost', 'server CPU µs/delivery'],
      rows,
    ),
    notes: [
      `${payloadBytes}-byte payloads, rate chosen for ~${deliveriesPerSec.toLocaleString('en-US')} deliveries/s, ${seconds} s per run; latency from each message's scheduled send time to its arrival at each subscriber.`,
      `Connections opened once per contender and size; ${reps} publish run(s) each, contenders interleaved (rotated), median.`,
      '"publisher max lag" = how late the publish loop ran against its schedule; "lost" = deliveries missing 5 s after the last publish.',
      ctx.fanoutClientAckDelayMs > 0
        ? `Lifeline subscribers ack so the server trims its replay buffer, with the ${ctx.fanoutClientAckDelayMs} ms delay the server states in Welcome (SEQ-12; their own is 50 ms).`
        : 'Lifeline subscribers ack (SEQ-5, their default 50 ms ack delay; the server states none, SEQ-12) so the server trims its replay buffer.',
      'Server CPU µs/delivery = server CPU from the first publish until the tail arrived (acks included) ÷ deliveries.',
    ],
    targets,
  };
}
