/**
 * The reference client's CPU per inbound message (issue 16: the saturating fan-out and echo are bound
 * by the load generator, one core holding every client). N reference clients (`createNodeClient`,
 * defaults) subscribe to one channel in one process; a server process publishes bursts to the
 * channel faster than they read; the client process's CPU from the first publish until every
 * delivery arrived ÷ deliveries is the figure. Acks (SEQ-5) are part of it. Run by hand, compiled
 * as the bench runs:
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/probes/client-inbound.js \
 *     [--n=500] [--messages=400] [--burst=20] [--payload=100] [--reps=3] [--prof=DIR] \
 *     [--builds=/tmp/base/.bench-build,.bench-build]
 *
 * `--builds`: compiled trees whose client/node.js the client process loads (an A/B of the client
 * alone: the server is always this tree's), run interleaved, rep by rep; `wire` is the lean bench
 * wire client instead, the floor of what a client must do. `--prof=DIR`: a CPU profile
 * of the client process over the measured span only (node:inspector), DIR/<build#>-<rep>.cpuprofile,
 * for bench/lib/profile-summary.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startLifeline } from '../contenders/lifeline.js';

const CHANNEL = 'sat';

type Msg = Record<string, unknown>;

function ask(child: ChildProcess, m: Msg): Promise<Msg> {
  return new Promise((res) => {
    child.once('message', (r: Msg) => res(r));
    child.send(m);
  });
}

async function serverRole(clientAckDelayMs: number): Promise<void> {
  const s = await startLifeline({ heartbeatIntervalMs: 25_000, clientAckDelayMs });
  process.on('message', (m: Msg) => {
    if (m['type'] !== 'publish') return;
    const count = m['messages'] as number;
    const burst = m['burst'] as number;
    const payload = new Uint8Array(m['payload'] as number).fill(7);
    let sent = 0;
    const c0 = process.cpuUsage();
    // Bursts a macrotask apart: the server's write batch flushes each, the clients read them as they come.
    const tick = () => {
      for (let i = 0; i < burst && sent < count; i++, sent++) void s.srv.publish(CHANNEL, { payload });
      if (sent < count) setImmediate(tick);
      else {
        const c = process.cpuUsage(c0);
        process.send?.({ cpuUs: c.user + c.system });
      }
    };
    tick();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port: s.port });
}

/** `wire`: the lean bench wire client (bench/contenders/lifeline-wire.ts, ack delay 50 ms like the reference's default): the floor. */
async function openOne(build: string, url: string, onMessage: () => void): Promise<{ close(): void }> {
  if (build === 'wire') {
    const { WireClient } = await import('../contenders/lifeline-wire.js');
    const c = await WireClient.connect({ url, channels: [CHANNEL], ackDelayMs: 50, onMessage });
    return { close: () => c.drop() };
  }
  const mod = (await import(pathToFileURL(join(build, 'client/node.js')).href)) as typeof import('../../client/node.js');
  const c = mod.createNodeClient<Uint8Array>({ url, channels: [CHANNEL] });
  c.on('message', onMessage);
  await c.ready();
  return c;
}

async function clientRole(build: string): Promise<void> {
  // Every frame a subscriber writes here is an Ack (heartbeats are 25 s apart): count them, both
  // clients write through ws.
  const { WebSocket } = await import('ws');
  let writes = 0;
  const proto = WebSocket.prototype as unknown as { send: (...a: unknown[]) => void };
  const send = proto.send;
  proto.send = function (this: unknown, ...a: unknown[]) {
    writes++;
    send.apply(this, a);
  };
  let received = 0;
  let expected = 0;
  let done: (() => void) | undefined;
  const clients: { close(): void }[] = [];
  process.on('message', async (m: Msg) => {
    if (m['type'] === 'open') {
      const url = `ws://127.0.0.1:${m['port'] as number}/lifeline`;
      const n = m['n'] as number;
      for (let i = 0; i < n; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, async () => {
            const c = await openOne(build, url, () => {
              if (++received === expected) done?.();
            });
            clients.push(c);
          }),
        );
      }
      process.send?.({ ok: true });
    } else if (m['type'] === 'arm') {
      received = 0;
      writes = 0;
      expected = m['expected'] as number;
      const prof = m['prof'] as string | undefined;
      const session = prof === undefined ? undefined : new Session();
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 }); // µs: enough samples in a few seconds
        await session.post('Profiler.start');
      }
      const finished = new Promise<void>((r) => (done = r));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      process.send?.({ armed: true });
      await finished;
      const c = process.cpuUsage(c0);
      const wallMs = performance.now() - t0;
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(prof as string, JSON.stringify(profile));
        session.disconnect();
      }
      process.send?.({ cpuUs: c.user + c.system, userUs: c.user, wallMs, acks: writes });
    }
  });
  process.on('disconnect', () => {
    for (const c of clients) c.close();
    process.exit(0);
  });
  process.send?.({ ready: true });
}

async function main(): Promise<void> {
  const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const n = Number(arg('n', '500'));
  const messages = Number(arg('messages', '400'));
  const burst = Number(arg('burst', '20'));
  const payload = Number(arg('payload', '100'));
  const reps = Number(arg('reps', '3'));
  // SEQ-12: the ack delay the server states. The default (0: the client's own 50 ms) makes the number
  // of Acks per delivery depend on how fast the run goes (one per client per 50 ms): a long one
  // leaves only the half-window acks (SEQ-5), one per 128 deliveries, whatever the machine's load.
  const ackDelay = Number(arg('client-ack-delay-ms', '0'));
  const self = fileURLToPath(import.meta.url);
  const builds = arg('builds', resolve(self, '../../..')).split(',').map((b) => (b === 'wire' ? b : resolve(b)));
  const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice('--prof='.length);
  if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
  const execArgv = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const server = fork(self, ['server', String(ackDelay)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = (await new Promise<Msg>((r) => server.once('message', r))) as { port: number };
  const clients: ChildProcess[] = [];
  try {
    for (const b of builds) {
      const c = fork(self, ['client', b], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await new Promise((r) => c.once('message', r));
      await ask(c, { type: 'open', port, n });
      clients.push(c);
    }
    console.log(`# Reference client CPU per inbound message (${new Date().toISOString()}, Node ${process.version})\n`);
    console.log(`${n} clients on one channel, ${messages} × ${payload} B published in bursts of ${burst}, ${reps} rep(s) per build, interleaved; client ack delay ${ackDelay || 'the client\'s own'}${ackDelay ? ' ms (SEQ-12)' : ''}.\n`);
    console.log('| build | rep | deliveries | client CPU µs/delivery | of it user | Acks per 100 deliveries | wall ms | deliveries/s | server publish CPU µs/delivery |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const per: number[][] = builds.map(() => []);
    const perUser: number[][] = builds.map(() => []);
    for (let rep = 0; rep < reps + 1; rep++) {
      for (let bi = 0; bi < builds.length; bi++) {
        const c = clients[bi] as ChildProcess;
        const expected = n * messages;
        const prof = profDir !== undefined && rep > 0 ? join(profDir, `${bi}-${rep}.cpuprofile`) : undefined;
        const result = new Promise<Msg>((r) => {
          const on = (m: Msg) => {
            if (m['cpuUs'] === undefined) return;
            c.off('message', on);
            r(m);
          };
          c.on('message', on);
        });
        await ask(c, { type: 'arm', expected, ...(prof && { prof }) });
        const srv = await ask(server, { type: 'publish', messages, burst, payload });
        const r = await result;
        const us = (r['cpuUs'] as number) / expected;
        // rep 0 warms both builds up (JIT, buffers) and is not reported.
        if (rep === 0) continue;
        (per[bi] as number[]).push(us);
        (perUser[bi] as number[]).push((r['userUs'] as number) / expected);
        const wall = r['wallMs'] as number;
        console.log(`| ${bi}: ${builds[bi]} | ${rep} | ${expected} | ${us.toFixed(2)} | ${((r['userUs'] as number) / expected).toFixed(2)} | ${((100 * (r['acks'] as number)) / expected).toFixed(2)} | ${wall.toFixed(0)} | ${((expected / wall) * 1000).toFixed(0)} | ${((srv['cpuUs'] as number) / expected).toFixed(2)} |`);
      }
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    console.log('\nmedian client CPU µs/delivery (user only):');
    builds.forEach((b, i) => console.log(`  ${i}: ${b}  ${med(per[i] as number[]).toFixed(2)} (${med(perUser[i] as number[]).toFixed(2)})`));
    // Paired: each rep's builds ran back to back, so their ratio cancels the machine's slower drift.
    for (let i = 1; i < builds.length; i++) {
      const ratios = (per[i] as number[]).map((v, k) => v / ((per[0] as number[])[k] as number));
      console.log(`median of per-rep ratios, build ${i} ÷ build 0: ${med(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(2)).join(', ')})`);
    }
  } finally {
    for (const c of clients) c.kill();
    server.kill();
  }
  process.exit(0);
}

const [role, build] = process.argv.slice(2);
if (role === 'server') void serverRole(Number(build));
else if (role === 'client') void clientRole(build as string);
else
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
