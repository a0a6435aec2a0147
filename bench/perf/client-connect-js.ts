/**
 * The reference client's own JS per connect, without sockets (issue 16: time to open 10,000
 * connections): createNodeClient's path (createClient with a shared transport) over a fake socket
 * that opens on the next macrotask and answers the Hello with a Welcome on the next, `parallel`
 * attempts in flight back to back as the bench's `openMany`. Prints µs of CPU per connect.
 *
 *   npx tsx bench/perf/client-connect-js.ts [--n=20000] [--parallel=100] [--rounds=3]
 *   node --cpu-prof .bench-build/bench/perf/client-connect-js.js      (after npx tsc -p tsconfig.bench.json)
 */
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, ResumeOutcome, ResumeReason, ResumeResultSchema, WelcomeSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { createClient, type LifelineClient } from '../../client/create-client.js';
import type { Transport, TransportHandlers, TransportSocket } from '../../client/transport.js';

const welcome = encode(
  create(EnvelopeSchema, {
    body: {
      case: 'welcome',
      value: create(WelcomeSchema, {
        sessionId: 's-0123456789abcdef0123456789abcdef',
        heartbeatIntervalMs: 25_000,
        heartbeatMissedMax: 2,
        receiveWindow: 256,
        maxPayloadBytes: 1024 * 1024,
        resumeTtlMs: 120_000,
        replayWindowMessages: 1024,
        queueLimitMessages: 1024,
        heartbeatIntervalMaxMs: 25_000,
        resume: create(ResumeResultSchema, { outcome: ResumeOutcome.NEW, reason: ResumeReason.NOT_REQUESTED }),
        serverTimeMs: BigInt(Date.now()),
        capabilities: ['state', 'drain', 'subscribed'],
      }),
    },
  }),
);

class FakeSocket implements TransportSocket {
  readonly bufferedAmount = 0;
  constructor(private readonly h: TransportHandlers) {
    setImmediate(() => h.onOpen());
  }
  send(): void {
    setImmediate(() => this.h.onBinary(welcome.slice()));
  }
  close(): void {}
}

const fake: Transport = (_url, handlers) => new FakeSocket(handlers);

async function round(n: number, parallel: number): Promise<number> {
  const all: LifelineClient[] = [];
  let next = 0;
  const c0 = process.cpuUsage();
  const worker = async () => {
    while (next < n) {
      next++;
      const c = createClient({ url: 'ws://127.0.0.1:1/lifeline', transport: fake, httpTransport: fake });
      all.push(c);
      await c.ready();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const c = process.cpuUsage(c0);
  for (const x of all) x.close();
  return (c.user + c.system) / n;
}

const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const n = Number(arg('n', '20000'));
const parallel = Number(arg('parallel', '100'));
const rounds = Number(arg('rounds', '3'));
for (let r = 0; r < rounds; r++) console.log(`round ${r + 1}: ${(await round(n, parallel)).toFixed(1)} µs CPU per connect (n ${n}, ${parallel} in flight)`);
