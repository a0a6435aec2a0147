/**
 * Scenario "two-node" (issue 14): two server processes on one redis-server, Lifeline
 * (RedisSessionStore + RedisBroker) beside Socket.IO 4 (@socket.io/redis-streams-adapter,
 * connectionStateRecovery on), one contender at a time on fresh processes and a fresh Redis.
 *
 * 1. Cross-node fan-out: subscribers split over node A and node B, the publisher on A at the
 *    fan-out scenario's gentle rate (20/s, 100 B); latency from each message's scheduled send
 *    (so a backlog shows), p50/p99 over all subscribers and over B's alone (the Redis hop), loss.
 * 2. Resume after drain: every client on A through a tiny TCP balancer, the publisher on B at
 *    20/s; A is taken out of the balancer and drained (Lifeline: drain(); Socket.IO: its server
 *    closed), clients reconnect through the balancer to B. Per client, by the publisher's numbers:
 *    lost, duplicated, and the time from the drain until it is live again (it received, with
 *    nothing missing before it, a message scheduled after it reconnected).
 *
 * Placement (pinned, the default): nodes A and B on core 0 (SERVER_CPU), the load generator on
 * core 1, redis-server and the balancer (in the bench's own process) unpinned; `--shared`: none pinned. Clock: process.hrtime (CLOCK_MONOTONIC,
 * shared by the processes).
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { Rpc } from '../lib/child.js';
import { connectIo, type Kind } from '../contenders/baselines.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { Balancer } from '../lib/balancer.js';
import { isRedisAvailable, startRedis, type RedisProcess } from '../../test/support/redis.js';
import { fmt, median, ratio, Samples, sortedQuantile, table } from '../lib/stats.js';
import { isPinned, LABEL, LOAD_CPU, SERVER_CPU, launch, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import type { Child } from '../lib/proc.js';
import { openMany } from './memory.js';

const CHANNEL = 'bench.two-node';
/** The fan-out scenario's gentle rate and payload (issue 14: "20/s, 100 B"). */
const RATE = 20;
const PAYLOAD_BYTES = 100;
/** Lifeline's drain spread: Socket.IO clients reconnect after 1 s ± 50 % by default, so both spread over about a second. */
const DRAIN_SPREAD_MS = 1_000;
const DRAIN_DEADLINE_MS = 3_000;
const RESUME_TTL_MS = 120_000;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function makePayload(k: number, scheduledMs: number): Uint8Array {
  const b = new Uint8Array(PAYLOAD_BYTES);
  const v = new DataView(b.buffer);
  v.setFloat64(0, k, true);
  v.setFloat64(8, scheduledMs, true);
  return b;
}

// ---------------------------------------------------------------------------
// node role: one server on the shared Redis
// ---------------------------------------------------------------------------

export async function node(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const redisUrl = cfg['redis'] as string;
  let port: number;
  let connected: () => number;
  let broadcast: (b: Uint8Array) => void;
  let drain: () => Promise<void>;
  if (kind === 'socketio') {
    const { startIoRedis } = await import('../contenders/socketio-redis.js');
    const n = await startIoRedis(redisUrl, RESUME_TTL_MS);
    port = n.port;
    connected = () => n.io.engine.clientsCount;
    broadcast = (b) => void n.io.emit('m', b);
    drain = () => n.close();
  } else {
    const { startLifelineRedis } = await import('../contenders/lifeline-redis.js');
    const n = await startLifelineRedis(redisUrl, cfg['nodeId'] as string, { heartbeatIntervalMs: 25_000, resumeTtlMs: RESUME_TTL_MS });
    port = n.port;
    connected = () => n.srv.stats().connections;
    // A rejected publish (Redis away) is a loss the load generator counts; never an unhandled rejection.
    broadcast = (b) => void n.srv.publish(CHANNEL, { payload: b }).catch(() => undefined);
    drain = () => n.srv.drain({ spreadMs: DRAIN_SPREAD_MS, deadlineMs: DRAIN_DEADLINE_MS });
  }
  rpc.on('port', () => port);
  rpc.on('connected', () => connected());
  rpc.on('drain', async () => {
    const t0 = nowMs();
    await drain();
    return { ms: nowMs() - t0 };
  });
  rpc.on('publish', async (a) => {
    const total = a['total'] as number;
    // Each run numbers its messages from its own base, so a late tail of the previous run is told apart.
    const base = (a['base'] as number | undefined) ?? 0;
    const periodMs = 1000 / RATE;
    const start = nowMs() + 50;
    let k = 0;
    let maxLagMs = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = nowMs();
        while (k < total && start + k * periodMs <= now) {
          const scheduled = start + k * periodMs;
          maxLagMs = Math.max(maxLagMs, nowMs() - scheduled);
          broadcast(makePayload(base + k, scheduled));
          k++;
        }
        if (k >= total) resolve();
        else setTimeout(tick, Math.max(0, start + k * periodMs - nowMs()));
      };
      setTimeout(tick, 50);
    });
    return { maxLagMs, startMs: start };
  });
}

// ---------------------------------------------------------------------------
// load role: subscribers, counted by the publisher's numbers
// ---------------------------------------------------------------------------

interface Sub {
  /** Times each publisher number arrived (0 = not yet). */
  seen: Uint8Array;
  /** When each publisher number first arrived, ms (for the time until caught up). */
  arrivedAt: Float64Array;
  /** When the current connection opened (Welcome / connect), ms. */
  openedAt: number;
  reconnects: number;
  /** Welcome outcomes / recovered flags of its reconnects, for the diagnosis of a loss. */
  outcomes: string[];
  lifeline?: WireClient;
  io?: IoClientSocket;
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  let subs: Sub[] = [];
  let latA = new Samples(2_000_000);
  let latB = new Samples(2_000_000);
  let onB: boolean[] = [];
  let received = 0;
  let duplicates = 0;
  let resumed = 0;
  let hasMoved = false;
  let total = 0;
  /** The current run's first publisher number (the fan-out's runs each have their own). */
  let base = 0;
  /** Arrivals from an earlier run (its tail), left out of this run's figures. */
  let stale = 0;
  /** Wire clients already left behind (their close must not start a second move). */
  const moving = new WeakSet<WireClient>();

  const onPayload = (i: number, b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const k = v.getFloat64(0, true) - base;
    const scheduled = v.getFloat64(8, true);
    const now = nowMs();
    const s = subs[i] as Sub;
    if (k < 0 || k >= s.seen.length) {
      stale++;
      return;
    }
    (onB[i] ? latB : latA).push(now - scheduled);
    received++;
    if ((s.seen[k] as number) > 0) duplicates++;
    else s.arrivedAt[k] = now;
    s.seen[k] = Math.min(255, (s.seen[k] as number) + 1);
  };

  const connectLifeline = (i: number, url: string, resume?: { sessionId: string; lastServerSeq: bigint }): Promise<WireClient> =>
    WireClient.connect({
      url, channels: [CHANNEL], ackDelayMs: 50, onMessage: (p) => onPayload(i, p),
      ...(resume ? { resume } : {}),
      // DR-3: leave at the notice's own slot and resume through the balancer (now B); a close
      // before that slot (the drain deadline, 1012) does the same.
      onDrain: (notice) => setTimeout(() => moveLifeline(i, url), notice.reconnectAfterMs),
      onClose: () => moveLifeline(i, url),
    }).then((c) => {
      (subs[i] as Sub).openedAt = nowMs();
      return c;
    });

  const moveLifeline = (i: number, url: string) => {
    const s = subs[i] as Sub;
    const old = s.lifeline;
    if (!hasMoved || !old || moving.has(old)) return;
    moving.add(old);
    old.drop();
    s.reconnects++;
    const attempt = (left: number): void => {
      void connectLifeline(i, url, { sessionId: old.sessionId, lastServerSeq: old.lastSeq }).then(
        (c) => {
          s.lifeline = c;
          const outcome = c.welcome?.resume?.outcome;
          s.outcomes.push(`outcome ${outcome} reason ${c.welcome?.resume?.reason} from ${old.lastSeq}`);
          if (outcome === 2) resumed++; // RESUMED
        },
        (err: unknown) => {
          s.outcomes.push(`failed: ${String(err)}`);
          if (left > 0) setTimeout(() => attempt(left - 1), 100);
        },
      );
    };
    attempt(20);
  };

  rpc.on('open', async (a) => {
    const ports = a['ports'] as number[];
    const n = a['n'] as number;
    total = a['total'] as number;
    const isReconnecting = a['isReconnecting'] as boolean;
    subs = Array.from({ length: n }, () => ({ seen: new Uint8Array(total), arrivedAt: new Float64Array(total), openedAt: 0, reconnects: 0, outcomes: [] }));
    onB = Array.from({ length: n }, (_, i) => ports.length > 1 && i % ports.length === 1);
    const t0 = performance.now();
    await openMany(n, 100, async (i) => {
      const port = ports[i % ports.length] as number;
      const s = subs[i] as Sub;
      if (kind === 'socketio') {
        const io = await connectIo(port, { reconnection: isReconnecting });
        s.io = io;
        s.openedAt = nowMs();
        io.on('m', (d: Buffer) => onPayload(i, d));
        io.on('connect', () => {
          s.openedAt = nowMs();
          s.reconnects++;
          s.outcomes.push(`recovered ${io.recovered}`);
          if (io.recovered) resumed++;
        });
        return io;
      }
      const c = await connectLifeline(i, `ws://127.0.0.1:${port}/lifeline`);
      s.lifeline = c;
      return c;
    });
    return { seconds: (performance.now() - t0) / 1000 };
  });
  rpc.on('moving', () => {
    hasMoved = true;
  });
  rpc.on('reset', (a) => {
    base = (a['base'] as number | undefined) ?? 0;
    stale = 0;
    latA = new Samples(2_000_000);
    latB = new Samples(2_000_000);
    received = 0;
    duplicates = 0;
    for (const s of subs) {
      s.seen.fill(0);
      s.arrivedAt.fill(0);
    }
  });
  rpc.on('stats', (a) => {
    // The publisher's schedule (known once it finished): number k was due at startMs + k × periodMs.
    const startMs = a['startMs'] as number | undefined;
    const periodMs = 1000 / RATE;
    let lost = 0;
    let complete = 0;
    let caught = 0;
    let lastCaughtAt = 0;
    const missed: string[] = [];
    for (const [i, s] of subs.entries()) {
      const holes: number[] = [];
      for (let k = 0; k < total; k++) if (s.seen[k] === 0) holes.push(k);
      lost += holes.length;
      if (holes.length === 0) complete++;
      else if (missed.length < 5) {
        const wire = s.lifeline ? `, wire seq gaps ${s.lifeline.gaps}, last seq ${s.lifeline.lastSeq}` : '';
        missed.push(`client ${i}: ${holes.length} missing (#${holes.slice(0, 8).join(', #')}), ${s.reconnects} reconnect(s): ${s.outcomes.join(', ')}${wire}`);
      }
      // Caught up: it holds every number due before its new connection opened (all of them if it
      // came back after the last one); the time is when the last of those arrived.
      if (startMs === undefined || s.reconnects === 0) continue;
      const due = Math.min(total - 1, Math.floor((s.openedAt - startMs) / periodMs));
      let at = s.openedAt;
      let isCaught = true;
      for (let k = 0; k <= due; k++) {
        if (s.seen[k] === 0) isCaught = false;
        else at = Math.max(at, s.arrivedAt[k] as number);
      }
      if (isCaught) {
        caught++;
        lastCaughtAt = Math.max(lastCaughtAt, at);
      }
    }
    const a1 = latA.sorted();
    const b1 = latB.sorted();
    const all = new Float64Array(a1.length + b1.length);
    all.set(a1);
    all.set(b1, a1.length);
    all.sort();
    return {
      received, lost, duplicates, complete, caught, lastCaughtAt, resumed, missed, stale,
      p50Ms: sortedQuantile(all, 0.5), p99Ms: sortedQuantile(all, 0.99),
      p50BMs: sortedQuantile(b1, 0.5), p99BMs: sortedQuantile(b1, 0.99),
    };
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

interface Stats {
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly complete: number;
  readonly caught: number;
  readonly lastCaughtAt: number;
  readonly resumed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p50BMs: number;
  readonly p99BMs: number;
  readonly missed: readonly string[];
  readonly stale: number;
}

interface Rig {
  readonly redis: RedisProcess;
  readonly a: Child;
  readonly b: Child;
  readonly ld: Child;
}

async function startRig(ctx: RunContext, kind: Kind): Promise<Rig> {
  const redis = await startRedis();
  try {
    const [a, b, ld] = await Promise.all([
      launch(ctx, { scenario: 'two-node', role: 'node', config: { kind, redis: redis.url, nodeId: 'A' }, cpu: SERVER_CPU, maxOldSpaceMb: 4096 }),
      launch(ctx, { scenario: 'two-node', role: 'node', config: { kind, redis: redis.url, nodeId: 'B' }, cpu: SERVER_CPU, maxOldSpaceMb: 4096 }),
      launch(ctx, { scenario: 'two-node', role: 'load', config: { kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
    ]);
    return { redis, a, b, ld };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

async function stopRig(ctx: RunContext, rig: Rig): Promise<void> {
  await stopAll(ctx, rig.ld, rig.a, rig.b);
  await rig.redis.stop();
}

async function waitConnected(node: Child, n: number, what: string, timeoutMs = 60_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  let c = 0;
  while ((c = await node.call<number>('connected')) < n) {
    if (performance.now() > until) throw new Error(`${what}: ${c}/${n} connected after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Poll the load generator until `done` holds or `ms` passed. */
async function settle(ld: Child, ms: number, done: (s: Stats) => boolean, startMs?: number): Promise<Stats> {
  const until = performance.now() + ms;
  const args = startMs === undefined ? {} : { startMs };
  let st = await ld.call<Stats>('stats', args);
  while (!done(st) && performance.now() < until) {
    await sleep(200);
    st = await ld.call<Stats>('stats', args);
  }
  return st;
}

interface FanoutCell {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p99BMs: number;
  readonly lossPct: number;
  readonly maxLagMs: number;
}

async function fanout(ctx: RunContext, kind: Kind, n: number, total: number, reps: number): Promise<FanoutCell[]> {
  const rig = await startRig(ctx, kind);
  const cells: FanoutCell[] = [];
  try {
    const ports = [await rig.a.call<number>('port'), await rig.b.call<number>('port')];
    const open = await rig.ld.call<{ seconds: number }>('open', { ports, n, total, isReconnecting: false }, 300_000);
    await waitConnected(rig.a, n / 2, `two-node fan-out ${LABEL[kind]} node A`);
    await waitConnected(rig.b, n / 2, `two-node fan-out ${LABEL[kind]} node B`);
    ctx.log(`two-node fan-out ${LABEL[kind]}: ${n} subscribers (${n / 2} per node) in ${open.seconds.toFixed(1)} s`);
    // One unmeasured run first: connections to Redis, JIT and the streams warm up.
    await rig.ld.call('reset', { base: 0 });
    await rig.a.call('publish', { total: RATE, base: 0 }, 120_000);
    await settle(rig.ld, 5_000, (s) => s.received >= n * RATE);
    for (let r = 0; r < reps; r++) {
      const base = (r + 1) * 1_000_000;
      await rig.ld.call('reset', { base });
      const pub = await rig.a.call<{ maxLagMs: number }>('publish', { total, base }, 120_000);
      const st = await settle(rig.ld, 5_000, (s) => s.lost === 0);
      const want = n * total;
      cells.push({ p50Ms: st.p50Ms, p99Ms: st.p99Ms, p99BMs: st.p99BMs, lossPct: (100 * st.lost) / want, maxLagMs: pub.maxLagMs });
      ctx.log(`two-node fan-out ${LABEL[kind]} rep ${r + 1}: p99 ${fmt(st.p99Ms, 1)} ms (B ${fmt(st.p99BMs, 1)} ms), ${want - st.lost}/${want} delivered, ${st.duplicates} duplicated, ${st.stale} late from the run before`);
    }
  } finally {
    await stopRig(ctx, rig);
  }
  return cells;
}

interface ResumeCell {
  readonly caughtUpS: number;
  readonly caught: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly resumed: number;
  readonly drainMs: number;
}

async function resume(ctx: RunContext, kind: Kind, n: number, total: number, drainAfterMs: number, settleMs: number): Promise<ResumeCell> {
  const rig = await startRig(ctx, kind);
  const balancer = await new Balancer([]).listen();
  try {
    const [portA, portB] = [await rig.a.call<number>('port'), await rig.b.call<number>('port')];
    // Every client on A first; B joins the rotation after, so only the drain moves clients to it.
    balancer.setTargets([portA]);
    await rig.ld.call('open', { ports: [balancer.port], n, total, isReconnecting: true }, 300_000);
    await waitConnected(rig.a, n, `two-node resume ${LABEL[kind]} node A`);
    balancer.setTargets([portA, portB]);
    const publishing = rig.b.call<{ maxLagMs: number; startMs: number }>('publish', { total }, 120_000);
    await sleep(drainAfterMs);
    // DR-1: readiness off first, so the balancer sends new connections to B only; then the drain.
    balancer.takeOut(portA);
    await rig.ld.call('moving');
    const t0 = Number(process.hrtime.bigint()) / 1e6;
    const drain = await rig.a.call<{ ms: number }>('drain', {}, 60_000);
    const pub = await publishing;
    const st = await settle(rig.ld, settleMs, (s) => s.lost === 0 && s.caught === n, pub.startMs);
    for (const m of st.missed) ctx.log(`two-node resume ${LABEL[kind]}: ${m}`);
    const cell = {
      caughtUpS: st.caught > 0 ? (st.lastCaughtAt - t0) / 1000 : Number.NaN,
      caught: st.caught, lost: st.lost, duplicates: st.duplicates, resumed: st.resumed, drainMs: drain.ms,
    };
    ctx.log(
      `two-node resume ${LABEL[kind]}: ${st.caught}/${n} caught up in ${fmt(cell.caughtUpS, 2)} s, lost ${st.lost}, duplicated ${st.duplicates}, resumed/recovered ${st.resumed}/${n}`,
    );
    return cell;
  } finally {
    await balancer.close();
    await stopRig(ctx, rig);
  }
}

export async function runTwoNode(ctx: RunContext): Promise<Section> {
  const kinds = ctx.kinds.filter((k) => k === 'socketio' || k === 'lifeline');
  if (!isRedisAvailable()) throw new Error('redis-server not found: apt-get install redis-server (scripts/install-system-deps)');
  const subscribers = ctx.quick ? 200 : 2_000;
  const fanoutTotal = RATE * (ctx.quick ? 2 : 5);
  const fanoutReps = ctx.quick ? 1 : 2;
  const clients = ctx.quick ? 100 : 1_000;
  const resumeTotal = RATE * (ctx.quick ? 4 : 8);
  const drainAfterMs = ctx.quick ? 1_000 : 2_000;
  const resumeReps = ctx.quick ? 1 : 2;
  /** How long after the last publish a client may still catch up before what it misses counts as lost. */
  const settleMs = ctx.quick ? 5_000 : 15_000;
  const fan = new Map<Kind, FanoutCell[]>();
  const res = new Map<Kind, ResumeCell[]>();
  for (const kind of kinds) fan.set(kind, await fanout(ctx, kind, subscribers, fanoutTotal, fanoutReps));
  for (let r = 0; r < resumeReps; r++) {
    for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
      res.set(kind, [...(res.get(kind) ?? []), await resume(ctx, kind, clients, resumeTotal, drainAfterMs, settleMs)]);
    }
  }
  const fmed = (kind: Kind, f: (c: FanoutCell) => number) => median((fan.get(kind) ?? []).map(f));
  const rmed = (kind: Kind, f: (c: ResumeCell) => number) => median((res.get(kind) ?? []).map(f));
  const rsum = (kind: Kind, f: (c: ResumeCell) => number) => (res.get(kind) ?? []).reduce((x, c) => x + f(c), 0);
  const base = fmed('socketio', (c) => c.p99Ms);
  const fanRows = kinds.map((kind) => [
    LABEL[kind], fmt(fmed(kind, (c) => c.p50Ms), 1), fmt(fmed(kind, (c) => c.p99Ms), 1), ratio(fmed(kind, (c) => c.p99Ms), base),
    fmt(fmed(kind, (c) => c.p99BMs), 1), fmt(fmed(kind, (c) => c.maxLagMs), 1), `${fmt(fmed(kind, (c) => c.lossPct), 2)} %`,
  ]);
  const resRows = kinds.map((kind) => {
    const runs = res.get(kind) ?? [];
    return [
      LABEL[kind], fmt(rmed(kind, (c) => c.caughtUpS), 2), `${fmt(rmed(kind, (c) => c.caught))} / ${clients}`,
      fmt(rsum(kind, (c) => c.lost)), fmt(rsum(kind, (c) => c.duplicates)), `${fmt(rmed(kind, (c) => c.resumed))} / ${clients}`,
      runs.map((c) => `${fmt(c.caughtUpS, 2)} s, ${c.lost} lost, ${c.duplicates} dup., ${c.resumed} resumed`).join('; '),
    ];
  });
  const lf = kinds.includes('lifeline') && kinds.includes('socketio');
  const lp99 = fmed('lifeline', (c) => c.p99Ms);
  const lloss = fmed('lifeline', (c) => c.lossPct);
  const lLost = rsum('lifeline', (c) => c.lost);
  const lDup = rsum('lifeline', (c) => c.duplicates);
  const lResumed = Math.min(...(res.get('lifeline') ?? []).map((c) => c.resumed));
  return {
    placement: isPinned(ctx)
      ? `pinned: nodes A and B (two processes) together on core ${SERVER_CPU}, load generator on core ${LOAD_CPU} (taskset); redis-server and the balancer (in the bench's own process) unpinned`
      : 'shared: nodes A and B, the load generator, redis-server and the balancer all unpinned, sharing every core',
    title: `Two nodes on one Redis (cross-node fan-out, resume after drain)`,
    table: [
      table(['contender', 'p50 ms', 'p99 ms', 'p99 × Socket.IO', 'p99 on node B ms', 'publisher max lag ms', 'lost'], fanRows),
      '',
      table(['contender', 'time until all caught up, s', 'caught up', 'lost (all runs)', 'duplicated (all runs)', 'resumed / recovered', 'each run'], resRows),
    ].join('\n'),
    notes: [
      `Fan-out: ${subscribers.toLocaleString('en-US')} subscribers, half on node A, half on node B (separate processes, one redis-server 7, no persistence); the publisher on A at ${RATE}/s, ${PAYLOAD_BYTES} B, ${fanoutTotal} messages per run, ${fanoutReps} run(s), median. Latency from each message's scheduled send to its arrival; "p99 on node B" = the subscribers that get it through Redis. Lifeline: RedisBroker (XADD, every node XREADs; A's own subscribers also get it from the stream) and RedisSessionStore (every frame committed before the socket sees it, MN-1). Socket.IO: io.emit with @socket.io/redis-streams-adapter.`,
      `Resume after drain: ${clients.toLocaleString('en-US')} clients, all on node A through a TCP balancer in the bench process; the publisher on B at ${RATE}/s (${resumeTotal} numbered messages); ${drainAfterMs} ms in, A leaves the balancer's rotation (as on /readyz 503, DR-1) and drains: Lifeline drain() (spread ${DRAIN_SPREAD_MS} ms, deadline ${DRAIN_DEADLINE_MS} ms; the bench wire client leaves at its DrainNotice slot and resumes through the balancer with its session id and last seq), Socket.IO io.close() (clients reconnect by themselves, 1 s ± 50 %, with recovery). ${resumeReps} run(s), fresh processes and Redis each, contenders alternating.`,
      `"caught up" = the client holds every number published before its new connection opened; the time is from the drain call until the last client caught up. "lost" = publisher numbers a client never received (${settleMs / 1000} s after the last publish); "duplicated" = numbers a client received twice (the wire client already drops repeated seqs, SEQ-3: these would reach the application). Summed over runs.`,
    ],
    targets: [
      {
        what: `two-node fan-out ${subscribers.toLocaleString('en-US')}: Lifeline p99 ≤ 1.0× Socket.IO on the same Redis, no loss (issue 14)`,
        measured: lf ? `${ratio(lp99, base)} (${fmt(lp99, 1)} vs ${fmt(base, 1)} ms), loss ${fmt(lloss, 2)} %` : 'not run',
        isMet: lf ? lp99 / base <= 1.0 && lloss === 0 : undefined,
      },
      {
        what: `two-node resume after drain (${clients.toLocaleString('en-US')} clients): Lifeline 0 lost, 0 duplicated, all RESUMED (issue 14)`,
        measured: lf ? `${lLost} lost, ${lDup} duplicated, ${lResumed}/${clients} RESUMED (Socket.IO: ${rsum('socketio', (c) => c.lost)} lost, ${rsum('socketio', (c) => c.duplicates)} duplicated, ${fmt(rmed('socketio', (c) => c.resumed))} recovered)` : 'not run',
        isMet: lf ? lLost === 0 && lDup === 0 && lResumed === clients : undefined,
      },
    ],
  };
}
