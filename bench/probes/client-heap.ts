/**
 * What one idle reference client costs its process (issue 16, deliverable 2: "the reference client's
 * per-connection footprint"), beside a raw `ws` client as the ratio's denominator. Run by hand, not
 * in CI; compiled, as the bench runs (tsx's keepNames gives closures a `name` production never pays):
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/client-heap.js [options]
 *   node --import tsx bench/probes/client-heap.ts [options]
 *
 *   --n=10000          clients measured (default 10,000)
 *   --kinds=ws,lifeline  raw ws (`new WebSocket(url)`, waits for `open`) and the reference client
 *                      (`createNodeClient({ url })`, public API, defaults; waits for `ready()`, the Welcome)
 *   --batch=100        connects started together; the next batch starts when all of them are in
 *   --top=20           rows per table; --dir=/tmp/client-heap: where snapshots go; --keep keeps them
 *   --no-snapshot      memory and time only (a 10,000-client snapshot takes a while to write and read)
 *
 * Per contender: one server process (ws server, or the reference server with the bench's limits off
 * as bench/contenders/lifeline.ts), one client process (--expose-gc), the one measured. In the client
 * process: W = 200 clients first (code compiled, lazy modules loaded), 3 forced GCs, memoryUsage and
 * a heap snapshot (the baseline); then N more clients in batches (wall time from the first connect
 * started to the last Welcome: the connect time), 3 GCs, memoryUsage and a snapshot. Heap B/conn =
 * heapUsed difference ÷ N; the breakdown is the snapshot difference ÷ N, grouped by part, class,
 * owner (bench/lib/heap-snapshot.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { WebSocket } from 'ws';
import { startWsServer } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { diff, readSnapshot, summarise, type DiffRow, type Summary } from '../lib/heap-snapshot.js';

type Kind = 'ws' | 'lifeline';
type Msg = { id: number; cmd: string; args?: Record<string, unknown> };
type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

interface Mem {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

async function gcMem(): Promise<Mem> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

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

// ---- child roles ----

async function serverRole(kind: Kind): Promise<void> {
  const port = kind === 'ws' ? (await startWsServer(() => undefined)).port : (await startLifeline({})).port;
  serve({ port: () => port });
}

/** One connect of `kind`, resolved when usable: ws `open`, the reference client's Welcome. */
type Opener = (port: number) => Promise<() => void>;

async function openerOf(kind: Kind): Promise<Opener> {
  if (kind === 'ws') {
    return (port) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
        ws.once('open', () => resolve(() => ws.terminate()));
        ws.once('error', reject);
      });
  }
  const { createNodeClient } = await import('../../client/node.js');
  return async (port) => {
    const c = createNodeClient({ url: `ws://127.0.0.1:${port}/lifeline` });
    await c.ready();
    return () => c.close();
  };
}

function clientRole(kind: Kind): void {
  const closers: (() => void)[] = [];
  let open: Opener | undefined;
  serve({
    open: async (a) => {
      open ??= await openerOf(kind);
      const o = open;
      const port = a['port'] as number;
      const n = a['n'] as number;
      const batch = a['batch'] as number;
      const t0 = performance.now();
      for (let i = 0; i < n; i += batch) {
        const k = Math.min(batch, n - i);
        closers.push(...(await Promise.all(Array.from({ length: k }, () => o(port)))));
      }
      return (performance.now() - t0) / 1000;
    },
    mem: () => gcMem(),
    snapshot: async (a) => {
      await gcMem();
      return writeHeapSnapshot(a['path'] as string);
    },
    close: () => {
      for (const c of closers.splice(0)) c();
    },
  });
}

// ---- parent ----

class Proc {
  private next = 1;
  private readonly waits = new Map<number, (r: Reply) => void>();
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (r: Reply) => {
      this.waits.get(r.id)?.(r);
      this.waits.delete(r.id);
    });
  }

  static async start(args: string[]): Promise<Proc> {
    const self = fileURLToPath(import.meta.url);
    const execArgv = [...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), '--expose-gc', '--max-old-space-size=4096'];
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

interface Run {
  readonly kind: Kind;
  readonly n: number;
  readonly seconds: number;
  readonly heapPerConn: number;
  readonly rssPerConn: number;
  readonly snapshotPerConn: number | undefined;
  readonly byPart: DiffRow[];
  readonly byClass: DiffRow[];
  readonly byOwner: DiffRow[];
  readonly retained: { name: string; perInstance: number; perConn: number }[];
}

async function measure(kind: Kind, n: number, batch: number, dir: string, isSnapshot: boolean): Promise<Run> {
  const warm = 200;
  const [srv, cl] = await Promise.all([Proc.start(['server', kind]), Proc.start(['client', kind])]);
  try {
    const port = await srv.call<number>('port');
    await cl.call('open', { port, n: warm, batch });
    await new Promise((r) => setTimeout(r, 500));
    const before = await cl.call<Mem>('mem');
    const baseFile = isSnapshot ? await cl.call<string>('snapshot', { path: join(dir, `${kind}-base.heapsnapshot`) }) : undefined;
    const seconds = await cl.call<number>('open', { port, n, batch });
    await new Promise((r) => setTimeout(r, 500)); // handshake garbage becomes garbage (as memory.ts)
    const after = await cl.call<Mem>('mem');
    const file = isSnapshot ? await cl.call<string>('snapshot', { path: join(dir, `${kind}-${n}.heapsnapshot`) }) : undefined;
    await cl.call('close');
    cl.stop();
    srv.stop();
    let parts: Pick<Run, 'snapshotPerConn' | 'byPart' | 'byClass' | 'byOwner' | 'retained'> = {
      snapshotPerConn: undefined,
      byPart: [],
      byClass: [],
      byOwner: [],
      retained: [],
    };
    if (baseFile && file) {
      const base: Summary = summarise(readSnapshot(baseFile), { retained: false });
      const s = summarise(readSnapshot(file));
      parts = {
        snapshotPerConn: (s.totalBytes - base.totalBytes) / n,
        byPart: diff(base.byPart, s.byPart, n),
        byClass: diff(base.byClass, s.byClass, n),
        byOwner: diff(base.byOwner, s.byOwner, n),
        retained: [...s.retainedByClass.entries()]
          .filter(([, g]) => g.count >= n * 0.5)
          .map(([name, g]) => ({ name, perInstance: g.bytes / g.count, perConn: g.bytes / (n + warm) }))
          .sort((a, b) => b.perInstance - a.perInstance),
      };
    }
    return { kind, n, seconds, heapPerConn: (after.heapUsed - before.heapUsed) / n, rssPerConn: (after.rss - before.rss) / n, ...parts };
  } finally {
    srv.stop();
    cl.stop();
  }
}

const B = (x: number) => Math.round(x).toLocaleString('en-US');

function printRun(r: Run, base: Run | undefined, top: number): void {
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? `${(a / b).toFixed(2)}×` : '—');
  console.log(`\n## ${r.kind === 'ws' ? 'raw ws client' : 'reference client'}, ${r.n.toLocaleString('en-US')} idle connections\n`);
  console.log('| per connection (client process) | value | × raw ws |\n| --- | ---: | ---: |');
  console.log(`| heap B (heapUsed after GC) | ${B(r.heapPerConn)} | ${ratio(r.heapPerConn, base?.heapPerConn)} |`);
  console.log(`| RSS B | ${B(r.rssPerConn)} | ${ratio(r.rssPerConn, base?.rssPerConn)} |`);
  if (r.snapshotPerConn !== undefined) console.log(`| heap snapshot B, self sizes | ${B(r.snapshotPerConn)} | ${ratio(r.snapshotPerConn, base?.snapshotPerConn)} |`);
  console.log(`| time to open all (s) | ${r.seconds.toFixed(2)} | ${ratio(r.seconds, base?.seconds)} |`);
  const rows = (title: string, list: DiffRow[]) => {
    if (list.length === 0) return;
    console.log(`\n| ${title} | B/conn | count/conn |\n| --- | ---: | ---: |`);
    for (const x of list.filter((y) => Math.abs(y.bytes) >= 1).slice(0, top)) console.log(`| \`${x.name.replace(/\|/g, '\\|')}\` | ${B(x.bytes)} | ${x.count.toFixed(2)} |`);
  };
  rows('by part: nearest named object on the retaining path (adds up)', r.byPart);
  rows('by class (self bytes)', r.byClass);
  rows('by owner → class (self bytes)', r.byOwner);
  if (r.retained.length > 0) {
    console.log('\n| class (≥ 0.5 per conn) | retained B/instance | retained B/conn |\n| --- | ---: | ---: |');
    for (const x of r.retained.slice(0, top)) console.log(`| \`${x.name}\` | ${B(x.perInstance)} | ${B(x.perConn)} |`);
  }
}

export async function main(): Promise<void> {
  const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const n = Number(arg('n', '10000'));
  const kinds = arg('kinds', 'ws,lifeline').split(',') as Kind[];
  const batch = Number(arg('batch', '100'));
  const top = Number(arg('top', '20'));
  const dir = arg('dir', '/tmp/client-heap');
  const isSnapshot = !process.argv.includes('--no-snapshot');
  mkdirSync(dir, { recursive: true });
  console.log(`# Client heap per idle connection (${new Date().toISOString()}, Node ${process.version}, ${fileURLToPath(import.meta.url).endsWith('.ts') ? 'tsx' : 'compiled'}, batch ${batch})`);
  const runs = new Map<Kind, Run>();
  for (const kind of kinds) {
    const r = await measure(kind, n, batch, dir, isSnapshot);
    runs.set(kind, r);
    printRun(r, kind === 'ws' ? undefined : runs.get('ws'), top);
  }
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}

const [role, kind] = process.argv.slice(2);
if (role === 'server') void serverRole(kind as Kind);
else if (role === 'client') clientRole(kind as Kind);
else
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
