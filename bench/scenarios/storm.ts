/**
 * Scenario 7 (issue 7): reconnect storm. 5,000 clients on server A; A goes away
 * (deploy); every client reconnects to server B. Peak reconnects per 100 ms at B:
 *  - raw ws: A closes every socket (1012), clients reconnect at once (what most
 *    apps do);
 *  - Lifeline: A drains (DR-1 … DR-5): each client gets a DrainNotice with its own
 *    reconnect_after_ms slot spread over `spreadMs` (DR-3) and reconnects then
 *    (DR-6). Target: peak ≤ 1.5× the even rate (N ÷ spread, per 100 ms).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectWs, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, placementOf, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { nowMs } from './fanout.js';
import { openMany } from './memory.js';

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const accepts: number[] = [];
  let port: number;
  let count: () => number;
  let goAway: (spreadMs: number) => void;
  if (kind === 'ws') {
    const s = await startWsServer(() => void accepts.push(nowMs()));
    port = s.port;
    count = () => s.wss.clients.size;
    goAway = () => {
      for (const c of s.wss.clients) c.close(1012, 'service restart');
    };
  } else {
    const s = await startLifeline({});
    s.srv.on('sessionOpened', () => void accepts.push(nowMs()));
    port = s.port;
    count = () => s.srv.stats().sessions;
    goAway = (spreadMs) => void s.srv.drain({ spreadMs, deadlineMs: spreadMs + 2_000 });
  }
  rpc.on('port', () => port);
  rpc.on('count', () => count());
  rpc.on('goAway', (a) => {
    const t = nowMs();
    goAway(a['spreadMs'] as number);
    return t;
  });
  rpc.on('accepts', () => accepts);
  rpc.on('cpuMs', () => cpuMs());
  const stalls = loopStalls();
  rpc.on('stallReset', () => stalls.reset());
  rpc.on('stallMaxMs', () => stalls.maxMs());
}

/** The longest event-loop stall seen since the last reset, in ms: where a burst of reconnects comes from. */
function loopStalls(): { maxMs(): number; reset(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return { maxMs: () => h.max / 1e6, reset: () => h.reset() };
}

/** This process's CPU time so far (user + system), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  let reconnected = 0;
  /** When each client's reconnect timer fired: what the drain notice controls (DR-3), before any queueing. */
  const attempts: number[] = [];
  /** When each DrainNotice was read: one process reading 5,000 of them takes a while (DR-6 counts from receipt). */
  const receipts: number[] = [];
  rpc.on('open', async (a) => {
    const portA = a['portA'] as number;
    const portB = a['portB'] as number;
    const n = a['n'] as number;
    if (kind === 'ws') {
      await openMany(n, 100, async (): Promise<WebSocket> => {
        const ws = await connectWs(portA);
        ws.once('close', () => void connectWs(portB).then(() => reconnected++, () => undefined));
        return ws;
      });
    } else {
      const urlB = `ws://127.0.0.1:${portB}/lifeline`;
      await openMany(n, 100, () =>
        WireClient.connect({
          url: `ws://127.0.0.1:${portA}/lifeline`,
          // DR-6: not before reconnect_after_ms from receipt; to the new server.
          onDrain: (notice) => {
            receipts.push(nowMs());
            setTimeout(() => {
              attempts.push(nowMs());
              void WireClient.connect({ url: urlB }).then(() => reconnected++, () => undefined);
            }, notice.reconnectAfterMs);
          },
        }),
      );
    }
    return n;
  });
  rpc.on('reconnected', () => reconnected);
  rpc.on('attempts', () => attempts);
  rpc.on('receipts', () => receipts);
  rpc.on('cpuMs', () => cpuMs());
  const stalls = loopStalls();
  rpc.on('stallReset', () => stalls.reset());
  rpc.on('stallMaxMs', () => stalls.maxMs());
}

interface Cell {
  readonly peak: number;
  /** Peak of reconnect attempts (timers fired at the clients) per 100 ms; NaN for raw ws. */
  readonly attemptPeak: number;
  /** Share of one core that server B and the load generator used over the storm. */
  readonly serverBusy: number;
  readonly loadBusy: number;
  /** Longest event-loop stall over the storm, server B and load generator, ms. */
  readonly stallB: number;
  readonly stallL: number;
  /** When the load generator had read the last DrainNotice, from the start of the drain (ms). */
  readonly noticesReadMs: number;
  readonly even: number;
  readonly spanMs: number;
  readonly reconnected: number;
}

function buckets(accepts: readonly number[], t0: number, widthMs: number): number[] {
  const out: number[] = [];
  for (const t of accepts) {
    const i = Math.max(0, Math.floor((t - t0) / widthMs));
    out[i] = (out[i] ?? 0) + 1;
  }
  return Array.from(out, (x) => x ?? 0);
}

export async function runStorm(ctx: RunContext): Promise<Section> {
  const n = ctx.quick ? 1_000 : 5_000;
  const spreadMs = ctx.quick ? 2_000 : 5_000;
  const reps = ctx.quick ? 1 : 2;
  const even = n / (spreadMs / 100);
  const kinds = ctx.kinds.filter((k) => k !== 'socketio');
  const cells = new Map<Kind, Cell[]>();
  for (let r = 0; r < reps; r++) {
    for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
      const [a, b, ld] = await Promise.all([
        launch(ctx, { scenario: 'storm', role: 'server', config: { kind }, cpu: SERVER_CPU }),
        launch(ctx, { scenario: 'storm', role: 'server', config: { kind }, cpu: SERVER_CPU }),
        launch(ctx, { scenario: 'storm', role: 'load', config: { kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
      ]);
      try {
        const portA = await a.call<number>('port');
        const portB = await b.call<number>('port');
        await ld.call('open', { portA, portB, n }, 300_000);
        const until = performance.now() + 60_000;
        while ((await a.call<number>('count')) < n && performance.now() < until) await sleep(100);
        const [cpuB0, cpuL0] = [await b.call<number>('cpuMs'), await ld.call<number>('cpuMs')];
        await Promise.all([b.call('stallReset'), ld.call('stallReset')]);
        const t0 = await a.call<number>('goAway', { spreadMs });
        const deadline = performance.now() + spreadMs + 15_000;
        while ((await ld.call<number>('reconnected')) < n && performance.now() < deadline) await sleep(200);
        const [cpuB1, cpuL1] = [await b.call<number>('cpuMs'), await ld.call<number>('cpuMs')];
        const [stallB, stallL] = [await b.call<number>('stallMaxMs'), await ld.call<number>('stallMaxMs')];
        const accepts = await b.call<number[]>('accepts');
        const attempts = await ld.call<number[]>('attempts');
        const receipts = await ld.call<number[]>('receipts');
        const noticesReadMs = receipts.length > 0 ? Math.max(...receipts) - t0 : Number.NaN;
        const bs = buckets(accepts, t0, 100);
        const peak = Math.max(0, ...bs);
        const attemptPeak = attempts.length > 0 ? Math.max(...buckets(attempts, t0, 100)) : Number.NaN;
        const spanMs = accepts.length > 0 ? Math.max(...accepts) - t0 : Number.NaN;
        const wallMs = Math.max(1, nowMs() - t0);
        const list = cells.get(kind) ?? [];
        list.push({ peak, attemptPeak, even, spanMs, reconnected: accepts.length, serverBusy: (cpuB1 - cpuB0) / wallMs, loadBusy: (cpuL1 - cpuL0) / wallMs, stallB, stallL, noticesReadMs });
        cells.set(kind, list);
        ctx.log(`storm ${LABEL[kind]} rep ${r + 1}: peak ${peak}/100 ms (attempts ${attemptPeak}, even ${fmt(even)}; stalls B ${fmt(stallB)} ms, load ${fmt(stallL)} ms; last notice read after ${fmt(noticesReadMs)} ms), ${accepts.length}/${n} in ${fmt(spanMs)} ms; landed per 100 ms: ${bs.join(' ')}`);
      } finally {
        await stopAll(ctx, ld, a, b);
      }
    }
  }
  const med = (kind: Kind, f: (c: Cell) => number) => median((cells.get(kind) ?? []).map(f));
  const rows = kinds.map((kind) => [
    kind === 'ws' ? `${LABEL[kind]}, reconnect at once` : `${LABEL[kind]}, drain spread over ${spreadMs / 1000} s`,
    fmt(med(kind, (c) => c.peak)), fmt(even), `${(med(kind, (c) => c.peak) / even).toFixed(2)}×`,
    kind === 'ws' ? '—' : `${fmt(med(kind, (c) => c.attemptPeak))} (${(med(kind, (c) => c.attemptPeak) / even).toFixed(2)}×)`,
    kind === 'ws' ? '—' : fmt(med(kind, (c) => c.noticesReadMs)),
    `${(100 * med(kind, (c) => c.serverBusy)).toFixed(0)} % / ${(100 * med(kind, (c) => c.loadBusy)).toFixed(0)} %`,
    `${fmt(med(kind, (c) => c.stallB))} / ${fmt(med(kind, (c) => c.stallL))}`,
    fmt(med(kind, (c) => c.spanMs)), `${fmt(med(kind, (c) => c.reconnected))} / ${n}`,
  ]);
  const lf = kinds.includes('lifeline');
  const ratioLf = med('lifeline', (c) => c.peak) / even;
  return {
    placement: placementOf(ctx) + '; servers A and B both on the server core',
    title: `Reconnect storm (${n.toLocaleString('en-US')} clients, server replaced)`,
    table: table(['contender', 'peak reconnects / 100 ms', 'even rate / 100 ms', 'peak ÷ even', 'peak attempts / 100 ms (÷ even)', 'last notice read after, ms', 'CPU server B / load-gen', 'longest stall ms, server B / load-gen', 'last reconnect after, ms', 'reconnected'], rows),
    notes: [
      `Reconnects counted where they land: new connections (raw ws) or new sessions (Lifeline, Welcome sent) at server B, in 100 ms buckets from the moment A goes away; even rate = ${n.toLocaleString('en-US')} ÷ ${spreadMs / 100} buckets. Median of ${reps} run(s).`,
      'Lifeline clients are the bench wire client, which reconnects to B after its DrainNotice.reconnect_after_ms (DR-6). Attempts are when those timers fired at the clients (what the drain spread controls, DR-3); reconnects are when B sent Welcome. Where the two differ, a process was behind: the CPU column is each process\'s share of its one core over the storm (a process near 100 % queues reconnects and releases them in bursts), and the stall column its longest event-loop block (a GC pause or a burst of work): reconnects due during a stall land together after it. One load-generator process reads every client\'s DrainNotice in turn: slots that fall before it has read them all fire late, bunched (DR-6 counts from receipt); a real fleet reads its notices in parallel.',
    ],
    targets: [
      { what: 'reconnect storm: Lifeline peak ≤ 1.5× the even rate', measured: lf ? `${ratioLf.toFixed(2)}×` : 'not run', isMet: lf ? ratioLf <= 1.5 : undefined },
    ],
  };
}
