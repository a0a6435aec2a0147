/**
 * The fuzz rig (issue 13): one reference server with declared limits, a canary
 * session that keeps receiving an ordered stream and measures its latency, heap
 * measurements after GC, and the case budget (10,000 in `npm test`, 100,000 with
 * LIFELINE_THOROUGH=1 or `npm run soak`).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { decode } from '../../spec/protocol/codec.js';
import { createServer, type LifelineServer } from '../../server/server.js';
import type { LifelineServerOptions } from '../../server/options.js';
import { connectRaw, type RawClient } from '../raw-client.js';
import type { FuzzServerLimits } from './frame-cases.js';

export const isThorough = process.env.LIFELINE_THOROUGH === '1';
/** Total fuzz cases of a run (frames and upgrades together). */
export const FUZZ_CASES = isThorough ? 100_000 : 10_000;

export const ALLOWED_ORIGIN = 'http://allowed.test';
export const limits: FuzzServerLimits = { maxPayloadBytes: 4096, maxChannelsPerSession: 6 };

/**
 * Options of the fuzz server. Every limit that would refuse the fuzzer's own volume from one
 * address (upgrade rate, pending caps, message rate) is set explicitly out of reach, so the
 * answers depend only on the frames and requests; the limits under test are declared in `limits`.
 */
export const fuzzServerOptions: LifelineServerOptions = {
  maxPayloadBytes: limits.maxPayloadBytes,
  maxChannelsPerSession: limits.maxChannelsPerSession,
  heartbeatIntervalMs: 10_000,
  handshakeTimeoutMs: 10_000,
  resumeTtlMs: 60_000,
  ackDelayMs: 5,
  allowedOrigins: [ALLOWED_ORIGIN],
  upgradeRatePerSecond: 1e9,
  upgradeBurst: 1e9,
  messageRatePerSecond: 1e9,
  messageBurst: 1e9,
  maxPendingUpgradesPerIp: 100_000,
  maxPendingUpgrades: 100_000,
};

export async function startFuzzServer(extra: LifelineServerOptions = {}): Promise<LifelineServer> {
  const srv = createServer({ ...fuzzServerOptions, ...extra });
  await srv.listen(0, '127.0.0.1');
  return srv;
}

let gcFn: (() => void) | undefined;
/** Heap in use after a full GC (vitest workers do not start with --expose-gc). */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

/** Quantile of a sample (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * A session on the fuzzed server that receives a message every `everyMs` and acks each:
 * its stream must stay ordered and gap-free and its latency normal (SEC-4).
 */
export class Canary {
  readonly seqs: bigint[] = [];
  private latencies: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    readonly client: RawClient,
    private readonly srv: LifelineServer,
  ) {}

  static async start(srv: LifelineServer, everyMs = 20): Promise<Canary> {
    const client = await connectRaw(srv.url(), { origin: ALLOWED_ORIGIN });
    await client.handshake({ channels: ['canary'] });
    const c = new Canary(client, srv);
    client.ws.on('message', (data: Buffer) => {
      const r = decode(data, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      if (!r.ok || r.envelope.body.case !== 'message') return;
      const m = r.envelope.body.value;
      c.seqs.push(m.seq);
      c.latencies.push(performance.now() - new DataView(m.payload.buffer, m.payload.byteOffset).getFloat64(0));
      client.ack(m.seq);
    });
    c.timer = setInterval(() => {
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setFloat64(0, performance.now());
      srv.publish('canary', { payload }).catch((err: unknown) => console.error('canary publish failed', err));
    }, everyMs);
    return c;
  }

  /** Latencies since the last call (ms). */
  takeLatencies(): number[] {
    const l = this.latencies;
    this.latencies = [];
    return l;
  }

  /** The stream so far is 1, 2, 3 … with no gap, no repeat (SEQ-2). */
  isOrdered(): boolean {
    return this.seqs.every((s, i) => s === BigInt(i + 1));
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.close(1000);
  }

  get isOpen(): boolean {
    return this.client.isOpen;
  }

  get server(): LifelineServer {
    return this.srv;
  }
}

/** Run `items` through `worker` with at most `concurrency` at once. */
export async function pool<T>(items: Iterable<T>, concurrency: number, worker: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const run = async () => {
    for (;;) {
      const n = it.next();
      if (n.done) return;
      await worker(n.value);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, run));
}
