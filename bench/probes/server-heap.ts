/**
 * The server's heap per idle session, attributed (issue 16, deliverable 2: "the per-session heap").
 * Run by hand, not in CI; compiled, as the bench runs:
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/server-heap.js [options]
 *
 *   --n=10000          idle sessions (default 10,000, as bench/scenarios/memory.ts)
 *   --kinds=ws,lifeline  contenders (default both): raw ws, and the reference server (createServer
 *                      with the bench's limits off, bench/contenders/lifeline.ts)
 *   --client=reference   who opens Lifeline sessions: `reference` (createNodeClient, its defaults: the
 *                      memory target's row) or `wire` (the lean bench client); Hello → Welcome either way
 *   --top=25           rows of the owner table
 *
 * The server runs in this process (so both snapshots come from the same loaded code), the clients in
 * a forked load process. For each contender: W = 200 sessions opened, 3 forced GCs, heap snapshot;
 * then N − W more, GCs, a second snapshot; heapUsed is also read around the N − W. Everything the
 * N − W sessions added, ÷ (N − W), is charged to the nearest named object on its shortest retaining
 * path (bench/lib/heap-snapshot.ts `byPart`), and the parts are grouped by what they are for
 * (CATEGORIES below): the connection, the session and its queues, the machine, the store's record,
 * loggers, the transport adapter, ws's own objects, Node's socket. bench/probes/server-heap.md has
 * the results and the cuts they led to; session-heap.ts (issue 12) is the same method in more detail.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import type { WebSocket } from 'ws';
import { connectWs, startWsServer } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { connectReference } from '../contenders/lifeline-client.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { diff, readSnapshot, summarise, type DiffRow, type Summary } from '../lib/heap-snapshot.js';
import { openMany } from '../scenarios/memory.js';

type Kind = 'ws' | 'lifeline';
type Client = 'reference' | 'wire';

/** Parts (nearest named object) by what they are for; anything else is "other". */
const CATEGORIES: readonly (readonly [string, readonly string[]])[] = [
  ['Node socket (net.Socket, TCP, stream states)', ['Socket', 'TCP', 'WritableState', 'ReadableState', 'HTTPParser', 'Duplex', 'Readable', 'Writable', 'Stream']],
  ['ws internals (WebSocket, Receiver, Sender)', ['WebSocket', 'PeerWebSocket', 'Receiver', 'Sender', 'WebSocketServer']],
  ['transport adapter (WsPeer)', ['WsPeer']],
  ['Connection (liveness counters, RTT, close)', ['Connection']],
  ['session (LiveSession: seqs, flags, channels)', ['LiveSession', 'SessionHandle']],
  ['outbound queue and replay log', ['BackpressureQueue', 'OutboundLog']],
  ['inbound (ClientInbound, cursor, ack timer)', ['ClientInbound', 'InboundCursor']],
  ['machine (SessionRunner, its host, timers)', ['SessionRunner', 'Timeout', 'TimersList']],
  ['store record (MemorySessionStore)', ['MemorySessionStore']],
  ['per-connection logger (SessionLog, pino child)', ['SessionLog', 'Pino', 'pino']],
  ['tracing span', ['OtelSessionSpan', 'NonRecordingSpan']],
  ['server indexes (registry, sweep, channels)', ['SessionRegistry', 'LifelineServer', 'LivenessSweep', 'LocalChannels', 'PeerAcceptor']],
  ['GC roots, code, module state', ['(root)', 'Module', 'ModuleWrap', 'BuiltinModule', 'global', 'process', 'EventEmitter', 'Server', 'AsyncWrap']],
];

function categoryOf(part: string): string {
  for (const [name, parts] of CATEGORIES) if (parts.includes(part)) return name;
  return 'other';
}

async function gcHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (the probe re-executes itself with it)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// load process: opens clients when asked
// ---------------------------------------------------------------------------

function loadRole(): void {
  const closers: (() => void)[] = [];
  process.on('message', (m: { kind: Kind; client: Client; port: number; n: number }) => {
    void (async () => {
      const url = `ws://127.0.0.1:${m.port}/lifeline`;
      if (m.kind === 'ws') {
        const all: WebSocket[] = await openMany(m.n, 100, () => connectWs(m.port));
        for (const w of all) closers.push(() => w.terminate());
      } else if (m.client === 'wire') {
        const all = await openMany(m.n, 100, () => WireClient.connect({ url }));
        for (const c of all) closers.push(() => c.drop());
      } else {
        const all = await openMany(m.n, 100, () => connectReference(url));
        for (const c of all) closers.push(() => void c.close());
      }
      process.send?.({ opened: closers.length });
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------
// server side (this process)
// ---------------------------------------------------------------------------

interface Result {
  readonly kind: Kind;
  readonly heapPerSession: number;
  readonly snapshotPerSession: number;
  readonly byPart: DiffRow[];
  readonly byOwner: DiffRow[];
}

async function measure(kind: Kind, client: Client, n: number, warm: number, dir: string): Promise<Result> {
  let port: number;
  let count: () => number;
  let stop: () => Promise<void>;
  if (kind === 'ws') {
    const s = await startWsServer(() => undefined);
    port = s.port;
    count = () => s.wss.clients.size;
    stop = async () => {
      for (const c of s.wss.clients) c.terminate();
      s.wss.close();
    };
  } else {
    const s = await startLifeline({});
    port = s.port;
    count = () => s.srv.stats().sessions;
    stop = () => s.srv.close();
  }
  const self = fileURLToPath(import.meta.url);
  const load: ChildProcess = fork(self, ['load'], { execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const open = async (more: number, total: number): Promise<void> => {
    const done = new Promise<void>((resolve) => load.once('message', () => resolve()));
    load.send({ kind, client, port, n: more });
    await done;
    const deadline = Date.now() + 120_000;
    while (count() < total && Date.now() < deadline) await sleep(100);
    if (count() < total) throw new Error(`${kind}: ${count()} of ${total} sessions`);
    await sleep(500); // handshake garbage becomes garbage (memory.ts does the same)
  };
  try {
    await open(warm, warm);
    // Both snapshots are read only at the end: a summary read in between would be in the second one.
    const heapBefore = await gcHeap();
    const first = writeHeapSnapshot(join(dir, `${kind}-${warm}.heapsnapshot`));
    await open(n - warm, n);
    const heapAfter = await gcHeap();
    const second = writeHeapSnapshot(join(dir, `${kind}-${n}.heapsnapshot`));
    load.kill();
    const base = summarise(readSnapshot(first), { retained: false });
    const after: Summary = summarise(readSnapshot(second), { retained: false });
    const per = n - warm;
    return {
      kind,
      heapPerSession: (heapAfter - heapBefore) / per,
      snapshotPerSession: (after.totalBytes - base.totalBytes) / per,
      byPart: diff(base.byPart, after.byPart, per),
      byOwner: diff(base.byOwner, after.byOwner, per),
    };
  } finally {
    load.kill();
    await stop();
  }
}

const B = (x: number) => Math.round(x).toLocaleString('en-US');

function byCategory(parts: readonly DiffRow[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of parts) m.set(categoryOf(p.name), (m.get(categoryOf(p.name)) ?? 0) + p.bytes);
  return m;
}

async function main(): Promise<void> {
  const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const n = Number(arg('n', '10000'));
  const kinds = arg('kinds', 'ws,lifeline').split(',') as Kind[];
  const client = arg('client', 'reference') as Client;
  const top = Number(arg('top', '25'));
  const dir = '/tmp/server-heap';
  mkdirSync(dir, { recursive: true });
  const results: Result[] = [];
  for (const kind of kinds) results.push(await measure(kind, client, n, 200, dir));
  rmSync(dir, { recursive: true, force: true });
  const ws = results.find((r) => r.kind === 'ws');
  console.log(`# Server heap per idle session (${new Date().toISOString()}, Node ${process.version}, N = ${B(n)}, Lifeline client: ${client})\n`);
  console.log('| contender | heapUsed B/session | × raw ws | snapshot B/session | × raw ws |\n| --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const x = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '—');
    console.log(`| ${r.kind} | ${B(r.heapPerSession)} | ${x(r.heapPerSession, ws?.heapPerSession)} | ${B(r.snapshotPerSession)} | ${x(r.snapshotPerSession, ws?.snapshotPerSession)} |`);
  }
  const cats = results.map((r) => byCategory(r.byPart));
  const names = [...new Set(cats.flatMap((c) => [...c.keys()]))].sort((a, b) => Math.abs(cats.at(-1)?.get(b) ?? 0) - Math.abs(cats.at(-1)?.get(a) ?? 0));
  console.log(`\n| by category (snapshot self bytes, B/session) | ${results.map((r) => r.kind).join(' | ')} |\n| --- |${results.map(() => ' ---: |').join('')}`);
  for (const c of names) console.log(`| ${c} | ${cats.map((m) => B(m.get(c) ?? 0)).join(' | ')} |`);
  for (const r of results) {
    console.log(`\n## ${r.kind}: by part (B/session)\n\n| part | B/session | objects/session |\n| --- | ---: | ---: |`);
    for (const p of r.byPart.filter((x) => Math.abs(x.bytes) >= 4).slice(0, top)) console.log(`| \`${p.name}\` | ${B(p.bytes)} | ${p.count.toFixed(2)} |`);
    console.log(`\n## ${r.kind}: by owner → class (B/session)\n\n| owner → class | B/session | objects/session |\n| --- | ---: | ---: |`);
    for (const p of r.byOwner.filter((x) => Math.abs(x.bytes) >= 4).slice(0, top)) console.log(`| \`${p.name.replace(/\|/g, '\\|')}\` | ${B(p.bytes)} | ${p.count.toFixed(2)} |`);
  }
}

const role = process.argv[2];
if (role === 'load') loadRole();
else if (!process.execArgv.includes('--expose-gc')) {
  // The server side needs gc(): run again with it (and room for 10,000 sessions' snapshots).
  const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { execArgv: ['--expose-gc', '--max-old-space-size=4096'], stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
} else
  main().then(
    () => process.exit(0), // the servers' listeners would keep the process alive
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
