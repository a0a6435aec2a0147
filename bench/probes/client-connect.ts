/**
 * Time to open N connections with the reference client against raw `ws` (issue 16: "time to open
 * 10,000 connections", target ≤ 1.5× ws), with the CPU each process spent, so a slow run says which
 * side it waited for. Run by hand, compiled as the bench runs:
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/client-connect.js [--n=10000] [--batch=100] [--kinds=ws,lifeline]
 *
 * Per contender: a fresh server process (ws server, or the reference server with the bench's limits
 * off, bench/contenders/lifeline.ts) and this process as the client side. Connects start in batches
 * of `batch`; the next batch starts when all of the previous one are usable (ws: `open`; the
 * reference client, `createNodeClient({ url })` with defaults: `ready()`, its Welcome). Reported:
 * wall seconds from the first connect to the last, and CPU seconds of each process over that span.
 * `--prof=<dir>`: a CPU profile of each process over the timed span only (node:inspector, not the
 * process's start-up and teardown), written as <dir>/<kind>-client.cpuprofile and
 * <dir>/<kind>-server.cpuprofile for bench/lib/profile-summary.ts.
 * `--alloc`: also the heap each process allocated per connection over the span (issue 16, GC per
 * connect): run with a new space large enough that no GC falls inside it, e.g.
 * `node --min-semi-space-size=256 --max-semi-space-size=256 … --n=1000 --alloc` (the server is forked
 * with the same flags); a span with a GC in it prints "gc" instead of a number.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startWsServer } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';

/** `wire`: the lean bench wire client (bench/contenders/lifeline-wire.ts) on the reference server, the protocol's floor. */
type Kind = 'ws' | 'lifeline' | 'wire';

/** GCs seen in this process (the --alloc figure is a heap delta, valid only without one in between). */
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });

/** Heap used, and the GCs so far: two of these bracket a span. */
function heapMark(): { heap: number; gcs: number } {
  return { heap: process.memoryUsage().heapUsed, gcs };
}

/** A CPU profile of this process between start() and stop(path) (the timed span only). */
function profiler(): { start(): Promise<void>; stop(path: string): Promise<void> } {
  const session = new Session();
  return {
    async start() {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    },
    async stop(path) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

async function serverRole(kind: Kind, profDir: string | undefined): Promise<void> {
  const port = kind === 'ws' ? (await startWsServer(() => undefined)).port : (await startLifeline({})).port;
  const prof = profDir === undefined ? undefined : profiler();
  let calls = 0;
  process.on('message', async () => {
    calls++;
    if (prof && calls === 2) await prof.stop(join(profDir as string, `${kind}-server.cpuprofile`));
    const c = process.cpuUsage();
    process.send?.({ cpu: (c.user + c.system) / 1e6, ...heapMark() });
    if (prof && calls === 1) await prof.start();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port });
}

interface Row {
  readonly kind: Kind;
  readonly seconds: number;
  readonly clientCpu: number;
  readonly serverCpu: number;
  /** Heap allocated over the span per connection, client and server; undefined when a GC fell inside it. */
  readonly clientAllocB: number | undefined;
  readonly serverAllocB: number | undefined;
}

async function run(kind: Kind, n: number, batch: number, profDir: string | undefined): Promise<Row> {
  const self = fileURLToPath(import.meta.url);
  const execArgv = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(self, ['server', kind, ...(profDir === undefined ? [] : [profDir])], { execArgv: [...process.execArgv, ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', resolve));
    const serverCpu = () =>
      new Promise<{ cpu: number; heap: number; gcs: number }>((resolve) => {
        child.once('message', (m: { cpu: number; heap: number; gcs: number }) => resolve(m));
        child.send('cpu');
      });
    const { createNodeClient } = await import('../../client/node.js');
    const closers: (() => void)[] = [];
    const open: () => Promise<void> =
      kind === 'ws'
        ? () =>
            new Promise((resolve, reject) => {
              const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
              ws.once('open', () => resolve());
              ws.once('error', reject);
              closers.push(() => ws.terminate());
            })
        : kind === 'wire'
          ? async () => {
              const c = await WireClient.connect({ url: `ws://127.0.0.1:${port}/lifeline` });
              closers.push(() => c.drop());
            }
          : async () => {
              const c = createNodeClient({ url: `ws://127.0.0.1:${port}/lifeline` });
              closers.push(() => c.close());
              await c.ready();
            };
    const s0 = await serverCpu();
    const prof = profDir === undefined ? undefined : profiler();
    await prof?.start();
    const h0 = heapMark();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, open));
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const h1 = heapMark();
    await prof?.stop(join(profDir as string, `${kind}-client.cpuprofile`));
    const s1 = await serverCpu();
    for (const close of closers) close();
    const alloc = (a: { heap: number; gcs: number }, b: { heap: number; gcs: number }) => (a.gcs === b.gcs ? (b.heap - a.heap) / n : undefined);
    return { kind, seconds, clientCpu: (c.user + c.system) / 1e6, serverCpu: s1.cpu - s0.cpu, clientAllocB: alloc(h0, h1), serverAllocB: alloc(s0, s1) };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const n = Number(arg('n', '10000'));
  const batch = Number(arg('batch', '100'));
  const kinds = arg('kinds', 'ws,lifeline').split(',') as Kind[];
  const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice('--prof='.length);
  if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
  console.log(`# Time to open ${n.toLocaleString('en-US')} connections (${new Date().toISOString()}, Node ${process.version}, batch ${batch})\n`);
  const isAlloc = process.argv.includes('--alloc');
  console.log(
    `| contender | wall s | × ws | client CPU s | server CPU s | client CPU µs/conn | server CPU µs/conn |${isAlloc ? ' client heap B/conn | server heap B/conn |' : ''}\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |${isAlloc ? ' ---: | ---: |' : ''}`,
  );
  let ws: Row | undefined;
  for (const kind of kinds) {
    const r = await run(kind, n, batch, profDir);
    if (kind === 'ws') ws = r;
    const ratio = ws && kind !== 'ws' ? `${(r.seconds / ws.seconds).toFixed(2)}×` : kind === 'ws' ? '1.00' : '—';
    console.log(`| ${kind === 'ws' ? 'raw ws' : kind === 'wire' ? 'bench wire client' : 'reference client'} | ${r.seconds.toFixed(2)} | ${ratio} | ${r.clientCpu.toFixed(2)} | ${r.serverCpu.toFixed(2)} | ${((r.clientCpu * 1e6) / n).toFixed(0)} | ${((r.serverCpu * 1e6) / n).toFixed(0)} |${isAlloc ? ` ${r.clientAllocB?.toFixed(0) ?? 'gc'} | ${r.serverAllocB?.toFixed(0) ?? 'gc'} |` : ''}`);
  }
  process.exit(0);
}

const [role, kind, serverProfDir] = process.argv.slice(2);
if (role === 'server') void serverRole(kind as Kind, serverProfDir);
else
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
