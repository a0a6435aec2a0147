/**
 * Probe (issue 16): the reference client's CPU per send, with the batching fixed by the driver, so
 * that a busy machine changes the wall time but not the work per message. The echo bench's load-gen
 * CPU µs/rt moves with how many frames a tick carries, which a starved server changes.
 *
 *   npx tsc -p tsconfig.bench.json            (in each tree to compare)
 *   node .bench-build/bench/probes/client-send.js <tree>[,<tree>…] [payloadBytes=64] [rounds=3] [echo|burst]
 *
 * For each tree, interleaved per round: a lean server child (raw ws: Welcome, one cumulative Ack per
 * inbound chunk, and in `echo` mode a server Message back for each client Message) and, in this
 * process, 100 clients of that tree's `.bench-build/client/node.js`. `echo`: 16 in flight per client,
 * the reply sent from each message event (the echo bench's load generator, against a server that
 * costs little, so the clients are the bottleneck). `burst`: no echo; each client posts 16 messages
 * per tick from a timer (sends outside any inbound callback) while its window has room. Reported:
 * this process's CPU (user + system) per message over a 2 s window after a 1 s warm-up, `post()`
 * and `send()` apart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';

const CONNS = 100;
const BURST = 16;
const WARMUP_MS = 1_000;
const MEASURE_MS = 2_000;

interface Tree {
  createNodeClient: (o: { url: string }) => {
    ready(): Promise<unknown>;
    post(p: Uint8Array): string;
    send(p: Uint8Array): Promise<void>;
    stats(): { inFlight: number; queued: number };
    close(): void;
  };
}

async function sink(root: string, isEcho: boolean, payloadBytes: number): Promise<void> {
  const reply = new Uint8Array(payloadBytes);
  const { holdWrites } = (await import(`${root}/.bench-build/bench/contenders/ws-batched.js`)) as typeof import('../contenders/ws-batched.js');
  const fast = (await import(`${root}/.bench-build/spec/protocol/fast-codec.js`)) as typeof import('../../spec/protocol/fast-codec.js');
  const { create } = (await import(`${root}/node_modules/@bufbuild/protobuf/dist/esm/index.js`)) as typeof import('@bufbuild/protobuf');
  const pb = (await import(`${root}/.bench-build/gen/lifeline/v1/envelope_pb.js`)) as typeof import('../../gen/lifeline/v1/envelope_pb.js');
  const codec = (await import(`${root}/.bench-build/spec/protocol/codec.js`)) as typeof import('../../spec/protocol/codec.js');
  const welcome = codec.encode(create(pb.EnvelopeSchema, {
    body: {
      case: 'welcome',
      value: create(pb.WelcomeSchema, {
        sessionId: 's', heartbeatIntervalMs: 60_000, heartbeatMissedMax: 3, maxPayloadBytes: 1 << 20, resumeTtlMs: 60_000,
        replayWindowMessages: 1024, receiveWindow: 256,
        resume: create(pb.ResumeResultSchema, { outcome: pb.ResumeOutcome.NEW, reason: pb.ResumeReason.NOT_REQUESTED, fromSeq: 1n }),
      }),
    },
  }));
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: () => 'lifeline.v1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws: WebSocket) => {
    let hasHello = false;
    let seen = 0n;
    let out = 0n;
    let isAckDue = false;
    ws.on('message', () => {
      holdWrites(ws); // the replies to one inbound chunk leave in one write, as the reference server's do
      if (!hasHello) {
        hasHello = true;
        ws.send(welcome);
        return;
      }
      seen++; // every later frame is a Message: seqs 1, 2, 3 … (heartbeats are a minute apart)
      if (isEcho) {
        // The echo: a server Message with the next seq and the same payload size.
        out++;
        ws.send(codec.encode(fast.messageEnvelope(out, '', '', '', reply, 0)));
      }
      if (isAckDue) return;
      isAckDue = true;
      setImmediate(() => {
        isAckDue = false;
        ws.send(codec.encode(create(pb.EnvelopeSchema, { body: { case: 'ack', value: create(pb.AckSchema, { seq: seen }) } })));
      });
    });
  });
  const port = (wss.address() as { port: number }).port;
  process.send?.({ port });
}

type Mode = 'echo' | 'burst';

async function measure(root: string, payloadBytes: number, how: 'post' | 'send', mode: Mode): Promise<{ usPerMsg: number; msgsPerS: number }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--sink', root, mode, String(payloadBytes)], { stdio: 'inherit' });
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
    const { createNodeClient } = (await import(`${root}/.bench-build/client/node.js`)) as Tree;
    const clients = Array.from({ length: CONNS }, () => createNodeClient({ url: `ws://127.0.0.1:${port}/lifeline` }));
    await Promise.all(clients.map((c) => c.ready()));
    const payload = new Uint8Array(payloadBytes).map((_, i) => i & 0xff);
    let isRunning = true;
    let sent = 0;
    if (mode === 'echo') {
      // As the echo bench's load generator: BURST in flight per client, a reply sent from each message event.
      for (const c of clients) {
        (c as unknown as { on(t: 'message', fn: () => void): void }).on('message', () => {
          if (!isRunning) return;
          if (how === 'post') c.post(payload);
          else void c.send(payload);
          sent++;
        });
        for (let k = 0; k < BURST; k++) c.post(payload);
      }
    }
    const tick = () => {
      if (mode === 'echo') return;
      if (!isRunning) return;
      for (const c of clients) {
        if (c.stats().inFlight + BURST > 256 - BURST) continue; // stay inside the window: no queueing
        for (let k = 0; k < BURST; k++) {
          if (how === 'post') c.post(payload);
          else void c.send(payload);
        }
        sent += BURST;
      }
      setImmediate(tick);
    };
    tick();
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const s0 = sent;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const c1 = process.cpuUsage(c0);
    const n = sent - s0;
    const secs = (performance.now() - t0) / 1000;
    isRunning = false;
    for (const c of clients) c.close();
    return { usPerMsg: (c1.user + c1.system) / n, msgsPerS: n / secs };
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--sink') return sink(process.argv[3] as string, process.argv[4] === 'echo', Number(process.argv[5]));
  const roots = (process.argv[2] ?? process.cwd()).split(',');
  const payloadBytes = Number(process.argv[3] ?? 64);
  const rounds = Number(process.argv[4] ?? 3);
  const mode = (process.argv[5] ?? 'echo') as Mode;
  for (let r = 0; r < rounds; r++) {
    for (const how of ['post', 'send'] as const) {
      for (const root of r % 2 === 0 ? roots : [...roots].reverse()) {
        const m = await measure(root, payloadBytes, how, mode);
        console.log(`${root}\t${mode}\t${payloadBytes} B\t${how}\tround ${r + 1}\t${m.usPerMsg.toFixed(2)} µs/msg\t${Math.round(m.msgsPerS)} msg/s`);
      }
    }
  }
  process.exit(0);
}

void main();
