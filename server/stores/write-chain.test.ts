/**
 * MN-1, MN-2 under random interleavings (issue 14, the resume-after-drain loss): one session's
 * write-ahead commits and whole-record writes (the drain save, the detach save, MN-17's deferred
 * save, a claim at attach) with publications, acks, failed and half-failed store calls and a
 * takeover by another node, against the memory store and Redis. Whatever the order, the stored
 * record is one the session went through: its replay is every frame between its ack and its
 * next seq, as sequenced; each channel's position is the one of the last publication among those
 * frames (never ahead, so catch-up from it skips nothing; never behind, so it repeats nothing);
 * and the client has seen no frame the store does not hold.
 *
 * The store is reached through a FIFO "connection" the property drives: calls execute in the
 * order they were made (as on one Redis connection), each when the property says, and its answer
 * may be lost (executed, then rejected) or the call dropped (rejected unexecuted).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OutboundLog } from '../../spec/protocol/outbound-log.js';
import { isRedisAvailable, startRedis, type RedisProcess } from '../../test/support/redis.js';
import { sampleRecord } from './contract.js';
import { MemorySessionStore } from './memory-session-store.js';
import { RedisSessionStore } from './redis-session-store.js';
import type { SessionRecord, SubscriptionRecord } from './session-record.js';
import { StaleFenceError, type SessionStore } from './session-store.js';
import { Gate, WriteAhead, type WriteAheadHost } from './write-ahead.js';
import { WriteChain } from './write-chain.js';

const CHANNELS = ['a', 'b'] as const;
const FIRST_POSITION: Readonly<Record<string, string | undefined>> = { a: '999-0', b: undefined };
const positionOf = (n: number) => `${1000 + n}-0`;
const frameBytes = (seq: bigint, channel: string, position: string) => new TextEncoder().encode(`${seq}|${channel}|${position}`);

type Mode = 'ok' | 'lost' | 'dropped';

/** One connection to the store: calls wait in order until the property executes them. */
class Connection {
  private readonly queue: { readonly run: () => Promise<unknown>; readonly settle: (mode: Mode, v: unknown, err?: unknown) => void }[] = [];

  get size(): number {
    return this.queue.length;
  }

  call<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run,
        settle: (mode, v, err) => {
          if (err !== undefined) reject(err);
          else if (mode === 'ok') resolve(v as T);
          else reject(new Error(`connection lost (${mode})`));
        },
      });
    });
  }

  /** Execute the oldest call (unless dropped) and answer it. */
  async step(mode: Mode): Promise<void> {
    const c = this.queue.shift();
    if (!c) return;
    if (mode === 'dropped') return c.settle(mode, undefined);
    try {
      c.settle(mode, await c.run());
    } catch (err) {
      c.settle(mode, undefined, err);
    }
  }
}

/** A session as the write-ahead and the write chain see it; the frames it sequenced, and what its client saw. */
class Session implements WriteAheadHost {
  readonly log = new OutboundLog<Uint8Array>({ window: 100_000 });
  readonly gate = new Gate();
  readonly inbound = { lastProcessed: 0n, lastAckSent: 0n };
  /** seq → [channel, position] of every publication frame sequenced. */
  readonly published = new Map<bigint, readonly [string, string]>();
  /** Highest seq written to the client (only what the store held then, MN-1). */
  wire = 0n;
  isGone = false;
  constructor(
    readonly id: string,
    public fence: number,
    private readonly base: SessionRecord,
  ) {
    for (const c of CHANNELS) {
      const p = FIRST_POSITION[c];
      if (p !== undefined) this.gate.restored(c, p);
    }
  }
  inboundCursor(): SessionRecord['inbound'] {
    return this.inbound;
  }
  subscriptionList(): readonly SubscriptionRecord[] {
    return CHANNELS.map((channel) => {
      const position = this.gate.sentPositions?.get(channel);
      return position === undefined ? { channel } : { channel, position };
    });
  }
  committed(): void {
    if (this.gate.storedSeq > this.wire) this.wire = this.gate.storedSeq; // MN-1: what the store holds may go out
  }
  commitFailed(): void {}
  publish(channel: string, position: string): void {
    const seq = this.log.next;
    this.published.set(seq, [channel, position]);
    this.gate.sequenced(channel, position, seq);
    this.log.send(frameBytes(seq, channel, position), 1);
  }
  /** The whole record now (as session-record-io.ts reads a live session). */
  record(expiresAtMs: number | undefined): SessionRecord {
    return {
      ...this.base,
      expiresAtMs,
      outbound: { next: this.log.next, acked: this.log.acked, replay: this.log.pending().map((f) => ({ seq: f.seq, bytes: f.item })) },
      inbound: { ...this.inbound },
      subscriptions: this.subscriptionList(),
    };
  }
}

type Action =
  | { readonly t: 'publish'; readonly channel: 0 | 1 }
  | { readonly t: 'ack' }
  | { readonly t: 'tick' }
  | { readonly t: 'step'; readonly mode: Mode }
  | { readonly t: 'save'; readonly kind: 'drain' | 'detach' | 'deferred' }
  | { readonly t: 'idle' }
  | { readonly t: 'claimSelf' }
  | { readonly t: 'claimOther' }
  | { readonly t: 'retry' };

const actions: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('publish' as const), channel: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'ack' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'tick' as const }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('step' as const), mode: fc.constantFrom<Mode>('ok', 'ok', 'ok', 'ok', 'lost', 'dropped') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('save' as const), kind: fc.constantFrom('drain' as const, 'detach' as const, 'deferred' as const) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'idle' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'claimSelf' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'retry' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'claimOther' as const }) },
);

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Run `acts` against `store`, then check the stored record. */
async function run(store: SessionStore, acts: readonly Action[]): Promise<void> {
  const base = sampleRecord({ subscriptions: CHANNELS.map((channel) => ({ channel })) });
  const fence = await store.create({ ...base, subscriptions: CHANNELS.map((c) => ({ channel: c, ...(FIRST_POSITION[c] && { position: FIRST_POSITION[c] }) })) }, 'n1');
  const conn = new Connection();
  let scheduled: (() => void)[] = [];
  const s = new Session(base.id, fence, base);
  const gone = () => {
    s.isGone = true;
  };
  const wa = new WriteAhead(
    { commit: (id, f, delta) => conn.call(() => store.commit(id, f, delta)) },
    { schedule: (fn) => void scheduled.push(fn), onStale: gone, onError: () => {} },
  );
  const chain = new WriteChain<Session>(wa, (_h, err) => {
    if (err instanceof StaleFenceError) gone(); // another node owns it (RS-7 across nodes)
  });
  const idles: (() => void)[] = [];
  const save = (expiresAtMs: number | undefined) =>
    chain.run(s, async () => {
      const r = s.record(expiresAtMs); // read when it runs (write-chain.ts)
      await conn.call(() => store.save(r, s.fence));
      wa.saved(s, r);
    });
  const tick = () => {
    const due = scheduled;
    scheduled = [];
    for (const fn of due) fn();
  };
  let n = 0;
  for (const a of acts) {
    if (s.isGone && a.t !== 'step' && a.t !== 'tick') continue;
    switch (a.t) {
      case 'publish':
        s.publish(CHANNELS[a.channel], positionOf(n++));
        wa.touch(s);
        break;
      case 'ack':
        if (s.wire > s.log.acked) {
          s.log.ack(s.wire);
          wa.touch(s);
        }
        break;
      case 'tick':
        tick();
        break;
      case 'step':
        await conn.step(a.mode);
        break;
      case 'save':
        if (a.kind === 'deferred') {
          chain.after(s, () => new Promise<void>((resolve) => idles.push(resolve))); // MN-17: the application finishes first
          save(Date.now() + 60_000);
        } else save(a.kind === 'detach' ? Date.now() + 60_000 : undefined);
        break;
      case 'idle':
        for (const resolve of idles.splice(0)) resolve();
        break;
      case 'claimSelf':
        chain.run(s, async () => {
          const f = await conn.call(() => store.claim(s.id, 'n1'));
          if (f === undefined) return;
          s.fence = f;
          wa.refenced(s);
        });
        break;
      case 'claimOther':
        await store.claim(s.id, 'n2'); // another node, another connection: at once
        break;
      case 'retry':
        void wa.flush();
        break;
    }
    await settle();
  }
  // Everything settles: the idle waits end, every call executes, retries go at once.
  for (const resolve of idles.splice(0)) resolve();
  for (let i = 0; i < 500 && (conn.size > 0 || scheduled.length > 0 || wa.size > 0 || chain.has(s.id)); i++) {
    tick();
    if (conn.size > 0) await conn.step('ok');
    else void wa.flush();
    await settle();
  }
  wa.stop();
  expect(conn.size).toBe(0);

  const r = (await store.load(s.id)) as SessionRecord;
  const { next, acked, replay } = r.outbound;
  // The replay: every frame in (acked, next), as the session sequenced it (no hole, none lost).
  const want: string[] = [];
  for (let seq = acked + 1n; seq < next; seq++) want.push(new TextDecoder().decode(s.log.pending().find((f) => f.seq === seq)?.item ?? frameOf(s, seq)));
  expect(replay.map((f) => new TextDecoder().decode(f.bytes))).toEqual(want);
  // MN-2: each channel's position is the one of its last publication before `next`.
  for (const channel of CHANNELS) {
    let last = FIRST_POSITION[channel];
    for (const [seq, [c, p]] of s.published) if (c === channel && seq < next) last = p;
    expect({ channel, position: r.subscriptions.find((sub) => sub.channel === channel)?.position }).toEqual({ channel, position: last });
  }
  // MN-1: the client saw nothing the store does not hold.
  expect(s.wire).toBeLessThan(next);
}

/** The bytes of frame `seq` as sequenced (acked frames are no longer in the log). */
function frameOf(s: Session, seq: bigint): Uint8Array {
  const p = s.published.get(seq);
  if (!p) throw new Error(`no frame ${seq}`);
  return frameBytes(seq, p[0], p[1]);
}

const program = fc.array(actions, { minLength: 1, maxLength: 50 });

describe('MN-1 MN-2 one ordering chain per session (write-chain.ts, write-ahead.ts)', () => {
  test('MN-2 memory store: the stored position of a channel is never ahead of (nor behind) its last stored frame; no stored frame lost', async () => {
    const store = new MemorySessionStore({ shared: true });
    await fc.assert(
      fc.asyncProperty(program, (acts) => run(store, acts)),
      { numRuns: 500 },
    );
  }, 120_000);
});

const hasRedis = isRedisAvailable();
let redis: RedisProcess;
describe.skipIf(!hasRedis)('MN-1 MN-2 one ordering chain per session, on Redis', () => {
  let store: RedisSessionStore;
  beforeAll(async () => {
    redis = await startRedis();
    store = new RedisSessionStore({ redis: redis.url });
    await store.ready();
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });
  test('MN-2 Redis store: the stored position of a channel is never ahead of (nor behind) its last stored frame; no stored frame lost', async () => {
    await fc.assert(
      fc.asyncProperty(program, (acts) => run(store, acts)),
      { numRuns: 150 },
    );
  }, 180_000);
});
