/**
 * Scenario 2 (issue 7): server memory per idle session at 10,000 connections.
 * Server RSS and V8 heap after forced full GCs, before and after the clients
 * connect, divided by the connection count. Issue 16: the client side too (the
 * load generator's heap per connection), and Lifeline once with the lean bench
 * client and once with the reference client users run.
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { connectReference, isClientAvailable, type LifelineClient } from '../contenders/lifeline-client.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import type { MemorySample } from '../lib/child.js';
import { fmt, median, ratio, rotate, table } from '../lib/stats.js';
import {
  LOAD_CPU, SERVER_CPU, contendersOf, launch, placementOf, sleep, stopAll, type ClientKind, type Contender, type RunContext, type Section,
} from '../lib/scenario.js';

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
  const client = (cfg['client'] as ClientKind | undefined) ?? 'lean';
  let closers: (() => void)[] = [];
  rpc.on('open', async (a) => {
    const port = a['port'] as number;
    const n = a['n'] as number;
    const parallel = (a['parallel'] as number | undefined) ?? 100;
    const t0 = performance.now();
    if (kind === 'ws') {
      const all: WebSocket[] = await openMany(n, parallel, () => connectWs(port));
      closers = all.map((w) => () => w.terminate());
    } else if (kind === 'socketio') {
      const all: IoClientSocket[] = await openMany(n, parallel, () => connectIo(port));
      closers = all.map((s) => () => void s.disconnect());
    } else if (client === 'reference') {
      // The reference client, public API, defaults (issue 16): ready() resolves on its first Welcome.
      const url = `ws://127.0.0.1:${port}/lifeline`;
      const all: LifelineClient<Uint8Array>[] = await openMany(n, parallel, () => connectReference(url));
      closers = all.map((c) => () => c.close());
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      const all: WireClient[] = await openMany(n, parallel, () => WireClient.connect({ url }));
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
  readonly clientHeapPerConn: number;
}

/** The rows of the memory and connect scenarios: ws, Socket.IO, Lifeline with each client (issue 16). */
export async function memoryContenders(ctx: RunContext): Promise<Contender[]> {
  return contendersOf(ctx, { lifelineClients: ['lean', 'reference'], hasReferenceClient: await isClientAvailable() });
}

export async function runMemory(ctx: RunContext): Promise<Section> {
  const n = ctx.quick ? 1_000 : 10_000;
  const reps = ctx.quick ? 1 : 2;
  const rowsOf = await memoryContenders(ctx);
  const cells = new Map<string, Cell[]>();
  for (let r = 0; r < reps; r++) {
    for (const c of rotate(rowsOf, r)) {
      const [srv, ld] = await Promise.all([
        launch(ctx, { scenario: 'memory', role: 'server', config: { kind: c.kind }, cpu: SERVER_CPU }),
        launch(ctx, { scenario: 'memory', role: 'load', config: { kind: c.kind, client: c.client }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
      ]);
      try {
        const port = await srv.call<number>('port');
        const before = await srv.call<MemorySample>('mem');
        const clientBefore = await ld.call<MemorySample>('mem');
        const open = await ld.call<{ seconds: number }>('open', { port, n }, 300_000);
        // Wait until the server counts them all (Lifeline: Welcome sent).
        const deadline = performance.now() + 60_000;
        while ((await srv.call<number>('count')) < n && performance.now() < deadline) await sleep(100);
        const counted = await srv.call<number>('count');
        await sleep(500); // let handshake garbage become garbage
        const after = await srv.call<MemorySample>('mem', {}, 120_000);
        const clientAfter = await ld.call<MemorySample>('mem', {}, 120_000);
        const list = cells.get(c.key) ?? [];
        list.push({
          rssPerConn: (after.rss - before.rss) / counted,
          heapPerConn: (after.heapUsed - before.heapUsed) / counted,
          clientHeapPerConn: (clientAfter.heapUsed - clientBefore.heapUsed) / n,
        });
        cells.set(c.key, list);
        ctx.log(
          `memory ${c.label} rep ${r + 1}: ${counted} conns in ${open.seconds.toFixed(1)} s, ${fmt((after.rss - before.rss) / counted)} B RSS/conn, client heap ${fmt((clientAfter.heapUsed - clientBefore.heapUsed) / n)} B/conn`,
        );
        await ld.call('close');
      } finally {
        await stopAll(ctx, ld, srv);
      }
    }
  }
  const med = (key: string, f: (c: Cell) => number) => median((cells.get(key) ?? []).map(f));
  const baseRss = med('ws', (c) => c.rssPerConn);
  const baseHeap = med('ws', (c) => c.heapPerConn);
  const baseClient = med('ws', (c) => c.clientHeapPerConn);
  const rows = rowsOf.map((c) => {
    const rss = med(c.key, (x) => x.rssPerConn);
    const heap = med(c.key, (x) => x.heapPerConn);
    const client = med(c.key, (x) => x.clientHeapPerConn);
    return [c.label, fmt(rss), ratio(rss, baseRss), fmt(heap), ratio(heap, baseHeap), fmt(client), ratio(client, baseClient)];
  });
  // Issue 7/12 targets on the bench wire client's sessions, as before; issue 16's on the reference client's.
  const lean = rowsOf.find((c) => c.kind === 'lifeline' && c.client === 'lean');
  const ref = rowsOf.find((c) => c.kind === 'lifeline' && c.client === 'reference');
  const lfRss = lean ? med(lean.key, (c) => c.rssPerConn) : Number.NaN;
  const lfHeap = lean ? med(lean.key, (c) => c.heapPerConn) : Number.NaN;
  const refHeap = ref ? med(ref.key, (c) => c.heapPerConn) : Number.NaN;
  const refClient = ref ? med(ref.key, (c) => c.clientHeapPerConn) : Number.NaN;
  const lf = lean !== undefined;
  return {
    title: `Memory per idle session (${n.toLocaleString('en-US')} connections)`,
    placement: placementOf(ctx),
    table: table(['contender', 'server RSS B/conn', '× raw ws', 'server heap B/conn', '× raw ws', 'client heap B/conn', '× raw ws client'], rows),
    notes: [
      `Server process memory after 3 forced full GCs (--expose-gc), after minus before the ${n.toLocaleString('en-US')} clients connected, ÷ connections; median of ${reps} run(s), rows in rotated order, fresh server and load-generator processes per run.`,
      'Client heap B/conn (issue 16): the load generator\'s V8 heap after forced full GCs, after minus before opening the connections, ÷ connections: what one idle client costs its process (ws WebSocket; socket.io-client Socket with its own Manager, forceNew; Lifeline\'s lean bench wire client; Lifeline\'s reference client, `createNodeClient` from client/node.ts with its defaults).',
      'Lifeline sessions are fully established (Hello → Welcome), default options (25 s heartbeats, 1,024-message replay window, empty). Two Lifeline rows: the same server driven by the bench wire client (bench/contenders/lifeline-wire.ts, what issues 7 and 12 measured) and by the reference client users run.',
      'Where a session\'s bytes go (heap snapshot breakdown per session, by part, owner field and class): `npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/session-heap.js` (bench/probes/session-heap.md).',
    ],
    targets: [
      { what: `memory/session: Lifeline RSS ≤ 1.3× raw ws (issue 7)`, measured: lf ? ratio(lfRss, baseRss) : 'not run', isMet: lf ? lfRss / baseRss <= 1.3 : undefined },
      { what: `memory/session: Lifeline heap ≤ 1.3× raw ws (issue 7)`, measured: lf ? ratio(lfHeap, baseHeap) : 'not run', isMet: lf ? lfHeap / baseHeap <= 1.3 : undefined },
      { what: `memory/session: Lifeline RSS ≤ 1.8× raw ws (issue 12)`, measured: lf ? ratio(lfRss, baseRss) : 'not run', isMet: lf ? lfRss / baseRss <= 1.8 : undefined },
      { what: `memory/session: Lifeline heap ≤ 2.0× raw ws (issue 12)`, measured: lf ? ratio(lfHeap, baseHeap) : 'not run', isMet: lf ? lfHeap / baseHeap <= 2.0 : undefined },
      {
        what: 'idle server heap per connection: Lifeline (reference client) ≤ 1.5× raw ws (issue 16)',
        measured: ref ? ratio(refHeap, baseHeap) : 'not run',
        isMet: ref ? refHeap / baseHeap <= 1.5 : undefined,
      },
      {
        what: 'idle client heap per connection: Lifeline reference client ≤ 3× raw ws client (issue 16)',
        measured: ref ? `${ratio(refClient, baseClient)} (${fmt(refClient)} B vs ${fmt(baseClient)} B)` : 'not run',
        isMet: ref ? refClient / baseClient <= 3 : undefined,
      },
    ],
  };
}
