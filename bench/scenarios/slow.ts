/**
 * Scenario 8 (issue 7): slow consumer. A producer publishes to every client at
 * 10× what one slow client reads; the server's RSS must stay flat (maximum over
 * the run reported) and the other sessions' p99 must not suffer. raw ws (no
 * backpressure: ws buffers without bound) against Lifeline under each policy
 * (BP-6 … BP-11), each beside a run without the slow client.
 */
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectWs, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, Samples, sortedQuantile, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, placementOf, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { nowMs } from './fanout.js';
import { openMany } from './memory.js';

const CHANNEL = 'bench.slow';
type Policy = 'drop-oldest' | 'drop-newest' | 'coalesce-by-key' | 'disconnect';

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  let port: number;
  let count: () => number;
  let broadcast: (b: Uint8Array, key: string) => void;
  if (kind === 'ws') {
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
    broadcast = (b) => {
      for (const c of s.wss.clients) c.send(b, { binary: true });
    };
  } else {
    const s = await startLifeline({ policy: cfg['policy'] as Policy });
    port = s.port;
    count = () => s.srv.stats().sessions;
    broadcast = (b, key) => void s.srv.publish(CHANNEL, { payload: b, key });
  }
  rpc.on('port', () => port);
  rpc.on('count', () => count());
  rpc.on('produce', async (a) => {
    const rate = a['rate'] as number;
    const total = a['total'] as number;
    const bytes = a['payloadBytes'] as number;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const rss0 = process.memoryUsage.rss();
    let rssMax = rss0;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage.rss());
    }, 50);
    const periodMs = 1000 / rate;
    const start = nowMs() + 20;
    let k = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = nowMs();
        while (k < total && start + k * periodMs <= now) {
          const b = new Uint8Array(bytes);
          const v = new DataView(b.buffer);
          v.setFloat64(0, k, true);
          v.setFloat64(8, start + k * periodMs, true);
          broadcast(b, `k${k % 16}`); // 16 coalescing keys (BP-8)
          k++;
        }
        if (k >= total) resolve();
        else setTimeout(tick, Math.max(0, start + k * periodMs - nowMs()));
      };
      setTimeout(tick, 20);
    });
    await sleep(500);
    clearInterval(sampler);
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
    // What is still held once garbage is gone: buffered or queued data for the slow client.
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    return { rss0, rssMax, rssEnd: m.rss, bufferedEnd: m.arrayBuffers };
  });
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  const lat = new Samples();
  let slowGot = 0;
  let slowClosedWith: number | undefined;
  let slowTimer: ReturnType<typeof setInterval> | undefined;
  const onNormal = (b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    lat.push(nowMs() - v.getFloat64(8, true));
  };
  /**
   * Read about `perSec` messages a second: resume the TCP socket, pause it once the
   * quota is met. One read brings up to 64 KiB, so the period is long enough for
   * one read's worth of messages to be the quota.
   */
  const throttle = (sock: { pause(): void; resume(): void }, perSec: number, payloadBytes: number) => {
    const perRead = Math.max(1, Math.floor(65_536 / payloadBytes));
    const periodMs = Math.max(100, (1000 * perRead) / perSec);
    const quota = Math.max(1, Math.round((perSec * periodMs) / 1000));
    let budget = quota;
    sock.pause();
    slowTimer = setInterval(() => {
      budget = quota;
      sock.resume();
    }, periodMs);
    return () => {
      slowGot++;
      if (--budget <= 0) sock.pause();
    };
  };
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const normal = a['normal'] as number;
    const slowPerSec = a['slowPerSec'] as number | undefined;
    const payloadBytes = a['payloadBytes'] as number;
    if (kind === 'ws') {
      await openMany(normal, 50, async (): Promise<WebSocket> => {
        const ws = await connectWs(port);
        ws.on('message', (d: Buffer) => onNormal(d));
        return ws;
      });
      if (slowPerSec) {
        const ws = await connectWs(port);
        const onMsg = throttle((ws as unknown as { _socket: { pause(): void; resume(): void } })._socket, slowPerSec, payloadBytes);
        ws.on('message', onMsg);
      }
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      await openMany(normal, 50, () => WireClient.connect({ url, channels: [CHANNEL], ackDelayMs: 50, onMessage: onNormal }));
      if (slowPerSec) {
        let onMsg: () => void = () => undefined;
        const c = await WireClient.connect({ url, channels: [CHANNEL], ackDelayMs: 50, onMessage: () => onMsg(), onClose: (code) => void (slowClosedWith = code) });
        onMsg = throttle((c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket, slowPerSec, payloadBytes);
      }
    }
    return normal + (slowPerSec ? 1 : 0);
  });
  rpc.on('stats', () => {
    if (slowTimer) clearInterval(slowTimer);
    const s = lat.sorted();
    return { p50Ms: sortedQuantile(s, 0.5), p99Ms: sortedQuantile(s, 0.99), normalGot: s.length, slowGot, slowClosedWith };
  });
}

interface Run {
  readonly label: string;
  readonly kind: Kind;
  readonly policy?: Policy;
  readonly isSlow: boolean;
}

export async function runSlow(ctx: RunContext): Promise<Section> {
  const rate = 500; // messages/s to every client
  const payloadBytes = 8192;
  const seconds = ctx.quick ? 2 : 5;
  const normal = 10;
  const slowPerSec = rate / 10;
  const runs: Run[] = [{ label: `${LABEL.ws}, no slow client`, kind: 'ws', isSlow: false }, { label: LABEL.ws, kind: 'ws', isSlow: true }];
  if (ctx.kinds.includes('lifeline')) {
    runs.push({ label: `${LABEL.lifeline} drop-oldest, no slow client`, kind: 'lifeline', policy: 'drop-oldest', isSlow: false });
    for (const p of ['drop-oldest', 'drop-newest', 'coalesce-by-key', 'disconnect'] as const) {
      runs.push({ label: `${LABEL.lifeline} ${p}`, kind: 'lifeline', policy: p, isSlow: true });
    }
  }
  const rows: string[][] = [];
  const growth = new Map<string, number>();
  for (const run of runs) {
    const [srv, ld] = await Promise.all([
      launch(ctx, { scenario: 'slow', role: 'server', config: { kind: run.kind, policy: run.policy }, cpu: SERVER_CPU }),
      launch(ctx, { scenario: 'slow', role: 'load', config: { kind: run.kind }, cpu: LOAD_CPU }),
    ]);
    try {
      const port = await srv.call<number>('port');
      const n = await ld.call<number>('open', { port, normal, payloadBytes, slowPerSec: run.isSlow ? slowPerSec : undefined }, 120_000);
      const until = performance.now() + 30_000;
      while ((await srv.call<number>('count')) < n && performance.now() < until) await sleep(50);
      const mem = await srv.call<{ rss0: number; rssMax: number; rssEnd: number; bufferedEnd: number }>('produce', { rate, total: rate * seconds, payloadBytes }, 120_000);
      const st = await ld.call<{ p50Ms: number; p99Ms: number; normalGot: number; slowGot: number; slowClosedWith?: number }>('stats');
      const grew = (mem.rssMax - mem.rss0) / 2 ** 20;
      const held = (mem.rssEnd - mem.rss0) / 2 ** 20;
      growth.set(run.label, mem.bufferedEnd / 2 ** 20);
      rows.push([
        run.label, fmt(mem.rssMax / 2 ** 20, 1), fmt(grew, 1), fmt(held, 1), fmt(mem.bufferedEnd / 2 ** 20, 1), fmt(st.p50Ms, 1), fmt(st.p99Ms, 1),
        run.isSlow ? `${fmt(st.slowGot / seconds)}/s${st.slowClosedWith ? `, closed ${st.slowClosedWith}` : ''}` : '—',
      ]);
      ctx.log(`slow consumer ${run.label}: RSS max +${fmt(grew, 1)} MiB, held +${fmt(held, 1)} MiB, others' p99 ${fmt(st.p99Ms, 1)} ms`);
    } finally {
      await stopAll(ctx, ld, srv);
    }
  }
  const targets: Section['targets'][number][] = [];
  if (ctx.kinds.includes('lifeline')) {
    const ws = growth.get(LABEL.ws);
    // What the slow session holds: ArrayBuffers held with it, minus the same run without it (the
    // ten normal sessions' replay buffers and socket buffers are in both).
    const base = growth.get(`${LABEL.lifeline} drop-oldest, no slow client`) ?? 0;
    for (const p of ['drop-oldest', 'drop-newest', 'coalesce-by-key', 'disconnect']) {
      const total = growth.get(`${LABEL.lifeline} ${p}`);
      const g = total === undefined ? undefined : total - base;
      targets.push({
        what: `slow consumer (${p}): memory held for the slow session bounded (ArrayBuffers after GC, less the run without it, ≤ 8 MiB; raw ws: ${ws === undefined ? '?' : fmt(ws, 1)} MiB)`,
        measured: g === undefined || total === undefined ? 'not run' : `${fmt(g, 1)} MiB (${fmt(total, 1)} − ${fmt(base, 1)})`,
        isMet: g === undefined ? undefined : g <= 8,
      });
    }
  }
  return {
    placement: placementOf(ctx),
    title: `Slow consumer (${rate} msg/s × ${payloadBytes / 1024} KiB to ${normal} clients + 1 reading ${slowPerSec}/s)`,
    table: table(['contender / policy', 'server RSS max MiB', 'RSS max growth MiB', 'RSS held after GC, growth MiB', 'ArrayBuffers held MiB', "others' p50 ms", "others' p99 ms", 'slow client read'], rows),
    notes: [
      `${seconds} s per run, one run each (fresh processes); RSS sampled every 50 ms in the server; "max growth" = max − value after a forced GC before producing (includes garbage not yet collected); "held" = RSS after forced GCs at the end − the same start value, i.e. what stays buffered or queued. Latency of the ${normal} normal clients from each message's scheduled send time.`,
      'The slow client pauses its TCP socket and resumes it periodically (every 64 KiB-read worth of its quota, ≥ 100 ms) until it has read its quota, so its kernel buffers fill and the server must hold or drop the rest. raw ws has no backpressure: its send buffer for that socket grows without bound.',
      'Lifeline: default queue limits (1,024 messages / 1 MiB) and bufferedAmount high-water mark (1 MiB); 16 coalescing keys; clients are the bench wire client.',
      'Bounded is read as: ArrayBuffers (where payloads and encoded frames live) still held after forced GCs at the end, less the same figure for the run without a slow client, ≤ 8 MiB; Lifeline\'s own bounds for one session are queueLimitBytes 1 MiB + bufferedAmount high-water 1 MiB + replayWindowBytes 4 MiB. RSS is shown too, but V8 keeps freed pages, so RSS after GC overstates what is held.',
    ],
    targets,
  };
}
