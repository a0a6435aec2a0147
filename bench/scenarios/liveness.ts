/**
 * Scenario 3 (issue 7): liveness cost. Event-loop time the heartbeat machinery
 * takes per interval, and the longest single block it causes:
 *  - 10,000 real sockets: raw ws with the canonical isAlive/ping sweep, Socket.IO
 *    (engine.io's per-socket ping timers), Lifeline (its shared sweep, default
 *    slices and sliced, plus the clients' application heartbeats HB-5/HB-6);
 *  - 50,000 sessions: the real Lifeline server over in-process fake sockets
 *    (bench/contenders/fake-socket.ts), since 50,000 descriptors per side do not
 *    fit the open-file limit; 10,000 fakes alongside to check linearity.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { FakePeers, FakeSocket } from '../contenders/fake-socket.js';
import { startLifeline, type LifelineServer } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, placementOf, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { openMany } from './memory.js';

// ---------------------------------------------------------------------------
// measurement inside the server process
// ---------------------------------------------------------------------------

/**
 * Times every call of a sweep function, in wall time (what the event loop
 * sees, preemption by other processes included) and in CPU time (what the
 * sweep costs; on a shared machine the steadier of the two).
 */
class SweepTimer {
  total = 0;
  max = 0;
  cpuTotal = 0;
  cpuMax = 0;
  calls = 0;
  wrap<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
    return (...a: A) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      fn(...a);
      const d = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const cpu = (c.user + c.system) / 1000;
      this.total += d;
      this.cpuTotal += cpu;
      this.calls++;
      if (d > this.max) this.max = d;
      if (cpu > this.cpuMax) this.cpuMax = cpu;
    };
  }
  reset(): void {
    this.total = 0;
    this.max = 0;
    this.cpuTotal = 0;
    this.cpuMax = 0;
    this.calls = 0;
  }
}

export interface LivenessMeasure {
  readonly intervals: number;
  /** Sweep time per interval, ms (median over intervals). */
  readonly sweepMsPerInterval: number;
  /** Longest single sweep call, ms (wall). */
  readonly sweepMaxMs: number;
  /** Sweep CPU per interval and longest call in CPU time, ms. */
  readonly sweepCpuMsPerInterval: number;
  readonly sweepCpuMaxMs: number;
  /** Whole-process CPU per interval, ms (pongs, heartbeats, acks included). */
  readonly cpuMsPerInterval: number;
  /** Longest event-loop delay seen by a 1 ms-resolution monitor, ms. */
  readonly loopDelayMaxMs: number;
  readonly members: number;
}

async function measure(timer: SweepTimer | undefined, intervalMs: number, intervals: number, members: () => number): Promise<LivenessMeasure> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const perInterval: number[] = [];
  const cpuPerInterval: number[] = [];
  let max = 0;
  let cpuMax = 0;
  h.enable();
  const c0 = process.cpuUsage();
  for (let i = 0; i < intervals; i++) {
    timer?.reset();
    await sleep(intervalMs);
    if (timer) {
      perInterval.push(timer.total);
      cpuPerInterval.push(timer.cpuTotal);
      max = Math.max(max, timer.max);
      cpuMax = Math.max(cpuMax, timer.cpuMax);
    }
  }
  const c = process.cpuUsage(c0);
  h.disable();
  return {
    intervals,
    sweepMsPerInterval: timer ? median(perInterval) : Number.NaN,
    sweepMaxMs: timer ? max : Number.NaN,
    sweepCpuMsPerInterval: timer ? median(cpuPerInterval) : Number.NaN,
    sweepCpuMaxMs: timer ? cpuMax : Number.NaN,
    cpuMsPerInterval: (c.user + c.system) / 1000 / intervals,
    loopDelayMaxMs: h.max / 1e6,
    members: members(),
  };
}

/** Wrap the Lifeline server's sweep tick (an instance property shadows the method). */
function timeLifelineSweep(srv: LifelineServer): SweepTimer {
  const t = new SweepTimer();
  const sweep = srv.sweep as unknown as { tick: () => void };
  sweep.tick = t.wrap(sweep.tick.bind(sweep));
  return t;
}

// ---------------------------------------------------------------------------
// roles
// ---------------------------------------------------------------------------

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const intervalMs = cfg['intervalMs'] as number;
  const slices = (cfg['slices'] as number | undefined) ?? 1;
  let port: number;
  let count: () => number;
  let timer: SweepTimer | undefined;
  if (kind === 'ws') {
    const s = await startWsServer((ws) => {
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
    });
    const alive = new Set<WebSocket>();
    timer = new SweepTimer();
    // The ws README's heartbeat: one interval, terminate the silent, ping the rest.
    const sweep = timer.wrap(() => {
      for (const ws of s.wss.clients) {
        if (!alive.has(ws)) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    });
    setInterval(sweep, intervalMs).unref();
    port = s.port;
    count = () => s.wss.clients.size;
  } else if (kind === 'socketio') {
    const s = await startIoServer(() => undefined, { pingIntervalMs: intervalMs, pingTimeoutMs: intervalMs });
    port = s.port;
    count = () => s.io.engine.clientsCount;
  } else {
    const s = await startLifeline({ heartbeatIntervalMs: intervalMs, sweepSlices: slices });
    timer = timeLifelineSweep(s.srv);
    port = s.port;
    count = () => s.srv.stats().sessions;
  }
  rpc.on('port', () => port);
  rpc.on('count', () => count());
  rpc.on('measure', (a) => measure(timer, intervalMs, a['intervals'] as number, count));
}

/** 50,000 sessions on fake sockets, Lifeline's real server above them. */
export async function fakes(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const intervalMs = cfg['intervalMs'] as number;
  const slices = (cfg['slices'] as number | undefined) ?? 1;
  const n = cfg['n'] as number;
  const isWsStyle = cfg['wsStyle'] === true;
  let timer: SweepTimer;
  let count: () => number;
  if (isWsStyle) {
    // The same isAlive/ping loop raw ws users write, over fake sockets.
    const socks = Array.from({ length: n }, () => new FakeSocket());
    const alive = new Set<FakeSocket>(socks);
    for (const s of socks) s.onPing = (x) => setImmediate(() => alive.add(x));
    timer = new SweepTimer();
    setInterval(
      timer.wrap(() => {
        for (const s of socks) {
          if (!alive.has(s)) continue;
          alive.delete(s);
          s.ping();
        }
      }),
      intervalMs,
    ).unref();
    count = () => socks.length;
  } else {
    const s = await startLifeline({ heartbeatIntervalMs: intervalMs, sweepSlices: slices });
    const peers = new FakePeers(s.srv);
    await peers.attach(n);
    const deadline = performance.now() + 120_000;
    while (s.srv.stats().sessions < n && performance.now() < deadline) await sleep(100);
    peers.startHeartbeats(intervalMs);
    timer = timeLifelineSweep(s.srv);
    count = () => s.srv.stats().sessions;
  }
  rpc.on('count', () => count());
  rpc.on('measure', (a) => measure(timer, intervalMs, a['intervals'] as number, count));
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const n = a['n'] as number;
    if (kind === 'ws') await openMany(n, 100, () => connectWs(port));
    else if (kind === 'socketio') await openMany(n, 100, () => connectIo(port));
    else await openMany(n, 100, () => WireClient.connect({ url: `ws://127.0.0.1:${port}/lifeline` }));
    return n;
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

export async function runLiveness(ctx: RunContext): Promise<Section> {
  // Intervals short enough to measure several in seconds, long enough that 10,000 clients'
  // heartbeats (HB-5) do not saturate the server (at 1 s they did: 30,000 events/s).
  const intervalMs = ctx.quick ? 500 : 2_000;
  const fakeIntervalMs = ctx.quick ? 1_000 : 3_000;
  const intervals = ctx.quick ? 2 : 3;
  const nReal = ctx.quick ? 1_000 : 10_000;
  const nFakes = ctx.quick ? [1_000, 5_000] : [10_000, 50_000];
  const nBig = nFakes[1] as number;
  const slicedSlices = 10; // slices of interval/10 ms
  const rows: string[][] = [];
  const targets: Section['targets'][number][] = [];

  const row = (what: string, n: number, m: LivenessMeasure) => [
    what, n.toLocaleString('en-US'), fmt(m.sweepCpuMsPerInterval, 2), fmt(m.sweepCpuMaxMs, 2), fmt(m.sweepMaxMs, 2), fmt(m.cpuMsPerInterval, 1),
    fmt((1000 * m.cpuMsPerInterval) / n, 2), fmt(m.loopDelayMaxMs, 1), m.members.toLocaleString('en-US'),
  ];

  // Real sockets.
  const variants: { kind: Kind; slices?: number; label: string }[] = ctx.kinds.map((k) =>
    k === 'lifeline' ? { kind: k, slices: 1, label: `${LABEL[k]}, 1 slice` } : { kind: k, label: LABEL[k] },
  );
  if (ctx.kinds.includes('lifeline')) variants.push({ kind: 'lifeline', slices: slicedSlices, label: `Lifeline, ${slicedSlices} slices` });
  for (const v of variants) {
    const [srv, ld] = await Promise.all([
      launch(ctx, { scenario: 'liveness', role: 'server', config: { kind: v.kind, intervalMs, slices: v.slices }, cpu: SERVER_CPU }),
      launch(ctx, { scenario: 'liveness', role: 'load', config: { kind: v.kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
    ]);
    try {
      const port = await srv.call<number>('port');
      await ld.call('open', { port, n: nReal }, 300_000);
      const deadline = performance.now() + 60_000;
      while ((await srv.call<number>('count')) < nReal && performance.now() < deadline) await sleep(100);
      await sleep(intervalMs); // one full interval before measuring
      const m = await srv.call<LivenessMeasure>('measure', { intervals }, 120_000);
      rows.push(row(`${v.label} (real sockets)`, nReal, m));
      ctx.log(`liveness ${v.label}: sweep max ${fmt(m.sweepCpuMaxMs, 2)} ms CPU, process ${fmt(m.cpuMsPerInterval, 1)} ms CPU/interval`);
    } finally {
      await stopAll(ctx, ld, srv);
    }
  }

  // Fakes: the block at the big size, linearity between the two sizes (sliced sweep).
  const fakeRuns: { label: string; slices: number; n: number; wsStyle?: boolean }[] = [
    ...(ctx.quick ? [] : [{ label: 'ws-style sweep', slices: 1, n: nBig, wsStyle: true }]),
    ...(ctx.kinds.includes('lifeline')
      ? [
          { label: `Lifeline, ${slicedSlices} slices`, slices: slicedSlices, n: nFakes[0] as number },
          { label: `Lifeline, ${slicedSlices} slices`, slices: slicedSlices, n: nBig },
          { label: 'Lifeline, 1 slice', slices: 1, n: nBig },
        ]
      : []),
  ];
  const perSession = new Map<string, number[]>();
  for (const fv of fakeRuns) {
    const n = fv.n;
    const c = await launch(ctx, {
      scenario: 'liveness', role: 'fakes', config: { intervalMs: fakeIntervalMs, slices: fv.slices, n, wsStyle: fv.wsStyle ?? false },
      cpu: SERVER_CPU, maxOldSpaceMb: 8192,
    }, 300_000);
    try {
      await sleep(fakeIntervalMs);
      const m = await c.call<LivenessMeasure>('measure', { intervals }, 120_000);
      rows.push(row(`${fv.label} (in-process fakes, ${fakeIntervalMs} ms)`, n, m));
      const list = perSession.get(fv.label) ?? [];
      list.push(m.sweepCpuMsPerInterval / n);
      perSession.set(fv.label, list);
      ctx.log(`liveness fakes ${fv.label} ${n}: sweep max ${fmt(m.sweepCpuMaxMs, 2)} ms CPU`);
      if (!fv.wsStyle && n === nBig) {
        targets.push({
          what: `liveness: longest sweep block ≤ 5 ms at ${n.toLocaleString('en-US')} sessions (${fv.label})`,
          // The block is the smaller of the two: wall time also counts being descheduled, and process
          // CPU also counts V8's parallel GC threads working beside the event loop (CPU > wall).
          measured: `${fmt(Math.min(m.sweepCpuMaxMs, m.sweepMaxMs), 2)} ms (${fmt(m.sweepCpuMaxMs, 2)} ms process CPU, ${fmt(m.sweepMaxMs, 2)} ms wall)`,
          isMet: Math.min(m.sweepCpuMaxMs, m.sweepMaxMs) <= 5,
        });
      }
    } finally {
      await stopAll(ctx, c);
    }
  }
  for (const [label, list] of perSession) {
    if (label === 'ws-style sweep' || list.length < 2) continue;
    const growth = (list[1] as number) / (list[0] as number);
    targets.push({
      what: `liveness: sweep cost linear in sessions (${label}; per-session cost at ${nFakes[1]} ÷ at ${nFakes[0]})`,
      measured: `${growth.toFixed(2)}×`,
      isMet: growth <= 1.5,
    });
  }
  if (!ctx.kinds.includes('lifeline')) {
    targets.push({ what: 'liveness: longest sweep block ≤ 5 ms at 50,000 sessions', measured: 'not run', isMet: undefined });
  }
  return {
    placement: placementOf(ctx) + '; the in-process-fakes rows run one server process (same core as the server)',
    title: `Liveness cost (heartbeat interval ${intervalMs} ms on real sockets, ${fakeIntervalMs} ms on fakes)`,
    table: table(
      ['contender', 'sessions', 'sweep CPU ms/interval', 'longest sweep block, CPU ms', 'longest sweep block, wall ms', 'process CPU ms/interval', 'CPU µs/session/interval', 'event-loop delay max ms', 'alive at end'],
      rows,
    ),
    notes: [
      `Measured over ${intervals} intervals after one warm-up interval; sweep time is the timed sweep function (ws: the README's isAlive/ping loop; Lifeline: its shared sweep tick), median per interval; longest block is the longest single sweep call, in CPU time (the target's measure: what the sweep itself costs) and in wall time (what the event loop saw, including preemption by other processes on a shared machine).`,
      'Process CPU per interval includes everything liveness causes in the server: pings, pongs, and for Lifeline the clients\' application Heartbeats and the HeartbeatAcks (HB-5, HB-6). Socket.IO has no single sweep (a timer per socket), so only its CPU and loop delay are shown.',
      `In-process fakes: the real Lifeline server (Connection, frames, session machine, sweep) over fake sockets that answer pings in batches of 100 per macrotask and send one Heartbeat each per interval; used because 50,000 descriptors per side exceed this machine's open-file limit. Their own simulation cost is inside "process CPU".`,
      `The server's default is one slice per second of heartbeat interval, up to 10 (25 s → 10 slices); "1 slice" rows show what one tick over every session costs. "${slicedSlices} slices": sweepSlices = ${slicedSlices}, so each tick visits a tenth of the sessions every interval/${slicedSlices}; the spec's detection bound (HB-3) then holds per session because each is still visited once per interval.`,
    ],
    targets,
  };
}
