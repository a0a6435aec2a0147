/**
 * Scenario 2 (issue 7): server memory per idle session at 10,000 connections.
 * Server RSS and V8 heap after forced full GCs, before and after the clients
 * connect, divided by the connection count.
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import type { MemorySample } from '../lib/child.js';
import { fmt, median, ratio, rotate, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';

// ---------------------------------------------------------------------------
// roles
// ---------------------------------------------------------------------------

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  let port: number;
  let count: () => number;
  if (kind === 'ws') {
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
  } else if (kind === 'socketio') {
    const s = await startIoServer(() => undefined);
    port = s.port;
    count = () => s.io.engine.clientsCount;
  } else {
    const s = await startLifeline({});
    port = s.port;
    count = () => s.srv.stats().sessions;
  }
  rpc.on('port', () => port);
  rpc.on('count', () => count());
}

/** Open `n` connections of one contender, `parallel` at a time. */
export async function openMany<T>(n: number, parallel: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      out[i] = await open(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  let closers: (() => void)[] = [];
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const n = a['n'] as number;
    const t0 = performance.now();
    if (kind === 'ws') {
      const all: WebSocket[] = await openMany(n, 100, () => connectWs(port));
      closers = all.map((w) => () => w.terminate());
    } else if (kind === 'socketio') {
      const all: IoClientSocket[] = await openMany(n, 100, () => connectIo(port));
      closers = all.map((s) => () => void s.disconnect());
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      const all: WireClient[] = await openMany(n, 100, () => WireClient.connect({ url }));
      closers = all.map((c) => () => c.drop());
    }
    return { seconds: (performance.now() - t0) / 1000 };
  });
  rpc.on('close', () => {
    for (const c of closers) c();
    closers = [];
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

interface Cell {
  readonly rssPerConn: number;
  readonly heapPerConn: number;
}

export async function runMemory(ctx: RunContext): Promise<Section> {
  const n = ctx.quick ? 1_000 : 10_000;
  const reps = ctx.quick ? 1 : 2;
  const cells = new Map<Kind, Cell[]>();
  for (let r = 0; r < reps; r++) {
    for (const kind of rotate(ctx.kinds, r)) {
      const [srv, ld] = await Promise.all([
        launch(ctx, { scenario: 'memory', role: 'server', config: { kind }, cpu: SERVER_CPU }),
        launch(ctx, { scenario: 'memory', role: 'load', config: { kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
      ]);
      try {
        const port = await srv.call<number>('port');
        const before = await srv.call<MemorySample>('mem');
        const open = await ld.call<{ seconds: number }>('open', { port, n }, 300_000);
        // Wait until the server counts them all (Lifeline: Welcome sent).
        const deadline = performance.now() + 60_000;
        while ((await srv.call<number>('count')) < n && performance.now() < deadline) await sleep(100);
        const counted = await srv.call<number>('count');
        await sleep(500); // let handshake garbage become garbage
        const after = await srv.call<MemorySample>('mem', {}, 120_000);
        const list = cells.get(kind) ?? [];
        list.push({ rssPerConn: (after.rss - before.rss) / counted, heapPerConn: (after.heapUsed - before.heapUsed) / counted });
        cells.set(kind, list);
        ctx.log(`memory ${LABEL[kind]} rep ${r + 1}: ${counted} conns in ${open.seconds.toFixed(1)} s, ${fmt((after.rss - before.rss) / counted)} B RSS/conn`);
        await ld.call('close');
      } finally {
        await stopAll(ctx, ld, srv);
      }
    }
  }
  const med = (kind: Kind, f: (c: Cell) => number) => median((cells.get(kind) ?? []).map(f));
  const baseRss = med('ws', (c) => c.rssPerConn);
  const baseHeap = med('ws', (c) => c.heapPerConn);
  const rows = ctx.kinds.map((kind) => {
    const rss = med(kind, (c) => c.rssPerConn);
    const heap = med(kind, (c) => c.heapPerConn);
    return [LABEL[kind], fmt(rss), ratio(rss, baseRss), fmt(heap), ratio(heap, baseHeap)];
  });
  const lf = ctx.kinds.includes('lifeline');
  const lfRss = med('lifeline', (c) => c.rssPerConn);
  const lfHeap = med('lifeline', (c) => c.heapPerConn);
  return {
    title: `Memory per idle session (${n.toLocaleString('en-US')} connections)`,
    table: table(['contender', 'RSS B/conn', '× raw ws', 'heap B/conn', '× raw ws'], rows),
    notes: [
      `Server process memory after 3 forced full GCs (--expose-gc), after minus before the ${n.toLocaleString('en-US')} clients connected, ÷ connections; median of ${reps} run(s), contenders in rotated order, a fresh server process per run.`,
      'Lifeline sessions are fully established (Hello → Welcome), default options (25 s heartbeats, 1,024-message replay window, empty).',
      'Where a session\'s bytes go (heap snapshot breakdown per session, by part, owner field and class): `npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/session-heap.js` (bench/probes/session-heap.md).',
    ],
    targets: [
      { what: `memory/session: Lifeline RSS ≤ 1.3× raw ws (issue 7)`, measured: lf ? ratio(lfRss, baseRss) : 'not run', isMet: lf ? lfRss / baseRss <= 1.3 : undefined },
      { what: `memory/session: Lifeline heap ≤ 1.3× raw ws (issue 7)`, measured: lf ? ratio(lfHeap, baseHeap) : 'not run', isMet: lf ? lfHeap / baseHeap <= 1.3 : undefined },
      { what: `memory/session: Lifeline RSS ≤ 1.8× raw ws (issue 12)`, measured: lf ? ratio(lfRss, baseRss) : 'not run', isMet: lf ? lfRss / baseRss <= 1.8 : undefined },
      { what: `memory/session: Lifeline heap ≤ 2.0× raw ws (issue 12)`, measured: lf ? ratio(lfHeap, baseHeap) : 'not run', isMet: lf ? lfHeap / baseHeap <= 2.0 : undefined },
    ],
  };
}
