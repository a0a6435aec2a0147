/**
 * Where an idle session's memory goes (issue 12: "the heap snapshot breakdown per session"). Run by
 * hand, not in CI; compiled, as the bench runs (tsx/esbuild keepNames gives every closure an own
 * `name` property that production code never pays, about 5 % more heap per session):
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/session-heap.js [options]
 *   node --import tsx bench/probes/session-heap.ts [options]           # quicker to start, a bit heavier
 *
 *   --n=2000,10000     idle sessions per run (default both)
 *   --kinds=ws,lifeline  contenders (default both): raw ws (ws server, ws clients) and Lifeline
 *                      (createServer with the bench's limits off, as bench/contenders/lifeline.ts,
 *                      and the lean bench client bench/contenders/lifeline-wire.ts, Hello → Welcome)
 *   --top=15           rows per table (by class, by owner); --dir=/tmp/session-heap: where snapshots go
 *   --keep             keep the .heapsnapshot files (open them in Chrome DevTools → Memory)
 *
 * For each contender and N, two fresh server processes (--expose-gc), one load process:
 * 1. "measure": memory after 3 forced GCs before and after N clients connect, ÷ N, exactly as
 *    bench/scenarios/memory.ts (heap B/conn, RSS B/conn), then a heap snapshot;
 * 2. "baseline": the same server with W = 200 clients (code compiled and lazy modules loaded, as in
 *    run 1), then a heap snapshot.
 * The breakdown is (snapshot with N − snapshot with W) ÷ (N − W): self bytes per session by class
 * (constructor, closure name or V8 type) and by owner (the field of the nearest named object on the
 * shortest retaining path, e.g. `LiveSession.inbound → ClientInbound`), and the average retained
 * size (dominator tree) of each per-session class, and by part (everything charged to the nearest
 * named object on its retaining path: `LiveSession`, `WebSocket`, `Socket`, …; the parts add up). Only public server APIs are used (createServer,
 * listen, stats), so the probe keeps working after the server core changes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import type { WebSocket } from 'ws';
import { connectWs, startWsServer } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { diff, readSnapshot, summarise, type DiffRow, type Summary } from '../lib/heap-snapshot.js';
import { openMany } from '../scenarios/memory.js';

type Kind = 'ws' | 'lifeline';
type Msg = { id: number; cmd: string; args?: Record<string, unknown> };
type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

interface Mem {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

async function gcMem(): Promise<Mem> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Answer the parent's requests with `handlers`. */
function serve(handlers: Record<string, (a: Record<string, unknown>) => unknown>): void {
  process.on('message', (m: Msg) => {
    const h = handlers[m.cmd];
    Promise.resolve()
      .then(() => (h ? h(m.args ?? {}) : Promise.reject(new Error(`unknown ${m.cmd}`))))
      .then(
        (result) => process.send?.({ id: m.id, ok: true, result } satisfies Reply),
        (e: unknown) => process.send?.({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies Reply),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, ok: true } satisfies Reply);
}

// ---------------------------------------------------------------------------
// child roles
// ---------------------------------------------------------------------------

async function serverRole(kind: Kind): Promise<void> {
  let port: number;
  let count: () => number;
  if (kind === 'ws') {
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
  } else {
    const s = await startLifeline({}); // the memory scenario's server: default options, bench limits off
    port = s.port;
    count = () => s.srv.stats().sessions;
  }
  serve({
    port: () => port,
    count: () => count(),
    mem: () => gcMem(),
    snapshot: async (a) => {
      await gcMem();
      return writeHeapSnapshot(a['path'] as string);
    },
  });
}

function loadRole(): void {
  const closers: (() => void)[] = [];
  serve({
    open: async (a) => {
      const kind = a['kind'] as Kind;
      const port = a['port'] as number;
      const n = a['n'] as number;
      if (kind === 'ws') {
        const all: WebSocket[] = await openMany(n, 100, () => connectWs(port));
        for (const w of all) closers.push(() => w.terminate());
      } else {
        const url = `ws://127.0.0.1:${port}/lifeline`;
        const all: WireClient[] = await openMany(n, 100, () => WireClient.connect({ url }));
        for (const c of all) closers.push(() => c.drop());
      }
      return closers.length;
    },
    close: () => {
      for (const c of closers.splice(0)) c();
    },
  });
}

// ---------------------------------------------------------------------------
// parent
// ---------------------------------------------------------------------------

class Proc {
  private next = 1;
  private readonly waits = new Map<number, (r: Reply) => void>();
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (r: Reply) => {
      this.waits.get(r.id)?.(r);
      this.waits.delete(r.id);
    });
  }

  static async start(args: string[], maxOldSpaceMb = 4096): Promise<Proc> {
    const self = fileURLToPath(import.meta.url);
    const execArgv = [...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), '--expose-gc', `--max-old-space-size=${maxOldSpaceMb}`];
    const p = new Proc(fork(self, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await new Promise<void>((resolve, reject) => {
      p.waits.set(0, () => resolve());
      p.proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
    });
    return p;
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waits.set(id, (r) => (r.ok ? resolve(r.result as T) : reject(new Error(r.error))));
      this.proc.send({ id, cmd, args } satisfies Msg);
    });
  }

  stop(): void {
    this.proc.kill();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Open `n` clients of `kind` and wait until the server counts `total` (Lifeline: Welcome sent). */
async function connect(srv: Proc, ld: Proc, kind: Kind, n: number, total: number): Promise<void> {
  const port = await srv.call<number>('port');
  await ld.call('open', { kind, port, n });
  const deadline = Date.now() + 120_000;
  while ((await srv.call<number>('count')) < total && Date.now() < deadline) await sleep(100);
  const counted = await srv.call<number>('count');
  if (counted < total) throw new Error(`${kind}: server counts ${counted} of ${total}`);
  await sleep(500); // handshake garbage becomes garbage (memory.ts does the same)
}

interface Run {
  readonly kind: Kind;
  readonly n: number;
  readonly heapPerConn: number;
  readonly rssPerConn: number;
  readonly snapshotPerConn: number;
  readonly byClass: DiffRow[];
  readonly byOwner: DiffRow[];
  readonly byPart: DiffRow[];
  /** Average retained bytes of one instance, for classes with about one instance per session or more. */
  readonly retained: { name: string; perInstance: number; perSession: number }[];
}

async function measure(kind: Kind, n: number, warm: number, dir: string, baseline: Summary): Promise<Run> {
  const [srv, ld] = await Promise.all([Proc.start(['server', kind]), Proc.start(['load'])]);
  try {
    const before = await srv.call<Mem>('mem');
    await connect(srv, ld, kind, n, n);
    const after = await srv.call<Mem>('mem');
    const file = await srv.call<string>('snapshot', { path: join(dir, `${kind}-${n}.heapsnapshot`) });
    await ld.call('close');
    srv.stop();
    ld.stop();
    const s = summarise(readSnapshot(file));
    const per = n - warm;
    const retained = [...s.retainedByClass.entries()]
      .filter(([, g]) => g.count >= n * 0.5)
      .map(([name, g]) => ({ name, perInstance: g.bytes / g.count, perSession: g.bytes / n }))
      .sort((a, b) => b.perInstance - a.perInstance);
    return {
      kind,
      n,
      heapPerConn: (after.heapUsed - before.heapUsed) / n,
      rssPerConn: (after.rss - before.rss) / n,
      snapshotPerConn: (s.totalBytes - baseline.totalBytes) / per,
      byClass: diff(baseline.byClass, s.byClass, per),
      byOwner: diff(baseline.byOwner, s.byOwner, per),
      byPart: diff(baseline.byPart, s.byPart, per),
      retained,
    };
  } finally {
    srv.stop();
    ld.stop();
  }
}

async function baselineOf(kind: Kind, warm: number, dir: string): Promise<Summary> {
  const [srv, ld] = await Promise.all([Proc.start(['server', kind]), Proc.start(['load'])]);
  try {
    await connect(srv, ld, kind, warm, warm);
    const file = await srv.call<string>('snapshot', { path: join(dir, `${kind}-baseline-${warm}.heapsnapshot`) });
    return summarise(readSnapshot(file), { retained: false });
  } finally {
    srv.stop();
    ld.stop();
  }
}

const B = (x: number) => Math.round(x).toLocaleString('en-US');

function printRun(r: Run, base: Run | undefined, top: number): void {
  const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '—');
  console.log(`\n## ${r.kind === 'ws' ? 'raw ws' : 'Lifeline'}, ${r.n.toLocaleString('en-US')} idle sessions\n`);
  console.log('| per session | bytes | × raw ws |\n| --- | ---: | ---: |');
  console.log(`| heap (heapUsed after GC, as memory.ts) | ${B(r.heapPerConn)} | ${ratio(r.heapPerConn, base?.heapPerConn)} |`);
  console.log(`| RSS (as memory.ts) | ${B(r.rssPerConn)} | ${ratio(r.rssPerConn, base?.rssPerConn)} |`);
  console.log(`| heap snapshot, self sizes (N − baseline) | ${B(r.snapshotPerConn)} | ${ratio(r.snapshotPerConn, base?.snapshotPerConn)} |`);
  const rows = (title: string, list: DiffRow[]) => {
    console.log(`\n| ${title} | B/session | count/session |\n| --- | ---: | ---: |`);
    for (const x of list.filter((y) => Math.abs(y.bytes) >= 1).slice(0, top)) console.log(`| \`${x.name.replace(/\|/g, '\\|')}\` | ${B(x.bytes)} | ${x.count.toFixed(2)} |`);
  };
  rows('by part: nearest named object on the retaining path (self bytes, adds up to the total)', r.byPart);
  rows('by class (self bytes)', r.byClass);
  rows('by owner → class (self bytes)', r.byOwner);
  console.log('\n| class (≥ 0.5 per session) | retained B/instance | retained B/session |\n| --- | ---: | ---: |');
  for (const x of r.retained.slice(0, top)) console.log(`| \`${x.name}\` | ${B(x.perInstance)} | ${B(x.perSession)} |`);
}

async function main(): Promise<void> {
  const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const ns = arg('n', '2000,10000').split(',').map(Number);
  const kinds = arg('kinds', 'ws,lifeline').split(',') as Kind[];
  const top = Number(arg('top', '15'));
  const dir = arg('dir', '/tmp/session-heap');
  const warm = 200;
  mkdirSync(dir, { recursive: true });
  console.log(`# Heap per idle session (${new Date().toISOString()}, Node ${process.version}, ${fileURLToPath(import.meta.url).endsWith('.ts') ? 'tsx' : 'compiled'})`);
  for (const n of ns) {
    const byKind = new Map<Kind, Run>();
    for (const kind of kinds) {
      const base = await baselineOf(kind, warm, dir);
      const r = await measure(kind, n, warm, dir, base);
      byKind.set(kind, r);
      printRun(r, kind === 'ws' ? undefined : byKind.get('ws'), top);
    }
  }
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}

const [role, kind] = process.argv.slice(2);
if (role === 'server') void serverRole(kind as Kind);
else if (role === 'load') loadRole();
else
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
