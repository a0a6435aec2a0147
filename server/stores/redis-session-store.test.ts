/**
 * RedisSessionStore against a private redis-server (test/support/redis.ts): the store contract,
 * then what only Redis has: a Redis restart, a tick of commits as one round trip, Redis away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { isRedisAvailable, startRedis, type RedisProcess } from '../../test/support/redis.js';
import { sampleRecord, sessionStoreContract } from './contract.js';
import { nodeLeaseContract } from './lease-contract.js';
import { RedisUnavailableError, lifelineRedisOptions } from './redis-connection.js';
import { RedisSessionStore, ReplayCapError, ReplayOrderError } from './redis-session-store.js';
import { MemorySessionStore } from './memory-session-store.js';
import { applyDelta } from './record-delta.js';
import type { SessionRecord } from './session-record.js';
import { StaleFenceError, type RecordDelta, type SessionStore } from './session-store.js';

const hasRedis = isRedisAvailable();
let redis: RedisProcess;

// One redis-server for the file (ids are unique per test: no flush between tests).
beforeAll(async () => {
  if (hasRedis) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.skipIf(!hasRedis)('RedisSessionStore', () => {
  sessionStoreContract('RedisSessionStore', async (env) => {
    const store = new RedisSessionStore({ ...env, redis: redis.url });
    await store.ready();
    return store;
  }, { dispose: (store: SessionStore) => store.close?.() });
  nodeLeaseContract('RedisSessionStore', async () => {
    const store = new RedisSessionStore({ redis: redis.url });
    await store.ready();
    return store;
  }, (store) => store.close?.());
});

const enc = (...bytes: number[]) => new Uint8Array(bytes);
const seqsOf = (r: { outbound: { replay: readonly { seq: bigint }[] } } | undefined) => r?.outbound.replay.map((f) => f.seq);

/** Waits for `predicate`, naming what was awaited when it does not come within `ms`. */
async function until(what: string, predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rejects naming `what` if `p` has not settled within `ms` (a hang is a failure, not a test timeout). */
function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe.skipIf(!hasRedis)('RedisSessionStore only', () => {
  it('SEQ-7 replay frames come back byte for byte: every byte value, a colon, an empty frame, 1 MiB', async () => {
    const store = new RedisSessionStore({ redis: redis.url });
    try {
      const all = new Uint8Array(256).map((_, i) => i);
      const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);
      const r = sampleRecord();
      const fence = await store.create(r, 'node-a');
      await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: all }, { seq: 2n, bytes: enc(0x3a, 0x3a) }, { seq: 3n, bytes: enc() }, { seq: 4n, bytes: big }] });
      const back = await store.load(r.id);
      const replay = back?.outbound.replay ?? [];
      expect(replay.map((f) => f.seq)).toEqual([1n, 2n, 3n, 4n]);
      expect(replay.slice(0, 3).map((f) => f.bytes)).toEqual([all, enc(0x3a, 0x3a), enc()]);
      // A byte compare: element-wise toEqual of 1 MiB takes seconds.
      expect(Buffer.compare(replay[3]?.bytes ?? enc(), big)).toBe(0);
      expect(replay[0]?.bytes).toBeInstanceOf(Uint8Array);
    } finally {
      await store.close();
    }
  });

  it('SEQ-2 an out-of-order commit rejects ReplayOrderError naming the last stored seq (a retry of a commit that landed can see it did)', async () => {
    const store = new RedisSessionStore({ redis: redis.url });
    try {
      const r = sampleRecord();
      const fence = await store.create(r, 'node-a');
      await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: enc(1) }, { seq: 2n, bytes: enc(2) }] });
      const err = await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: enc(1) }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplayOrderError);
      expect(err).toBeInstanceOf(RangeError);
      expect(err).toMatchObject({ firstSeq: 1n, lastSeq: 2n });
    } finally {
      await store.close();
    }
  });

  it('MN-1 commitMany applies each session\'s delta exactly as commit does, in one call; a refusal (stale fence, SEQ-2, cap) is that session\'s alone', async () => {
    const store = new RedisSessionStore({ redis: redis.url, maxReplayFrames: 4 });
    const twin = new MemorySessionStore({ shared: true, maxReplayFrames: 4 } as never); // applyDelta: the one meaning of commit
    try {
      const ids: { id: string; fence: number; twin: number }[] = [];
      for (let i = 0; i < 6; i++) {
        const r = sampleRecord({ subscriptions: [{ channel: 'feed' }] });
        ids.push({ id: r.id, fence: await store.create(r, 'node-a'), twin: await twin.create(r, 'node-a') });
      }
      const [a, b, c, d, e, f] = ids as [typeof ids[0], typeof ids[0], typeof ids[0], typeof ids[0], typeof ids[0], typeof ids[0]];
      await store.commit(c.id, c.fence, { frames: [{ seq: 1n, bytes: enc(1) }] });
      await twin.commit(c.id, c.twin, { frames: [{ seq: 1n, bytes: enc(1) }] });
      const stale = await store.claim(d.id, 'node-b'); // d now belongs to node b
      const batch = [
        { ...a, delta: { frames: [{ seq: 1n, bytes: enc(1, 58, 2) }, { seq: 2n, bytes: enc() }], positions: { feed: '7-1' } } },
        { ...b, delta: { acked: 0n, inbound: { lastProcessed: 3n, lastAckSent: 2n }, subscriptions: [{ channel: 'feed' }, { channel: 'news', position: '5-0' }] } },
        { ...c, delta: { frames: [{ seq: 1n, bytes: enc(9) }] } }, // SEQ-2: 1 is stored already
        { ...d, delta: { frames: [{ seq: 1n, bytes: enc(1) }] } }, // fenced out
        { ...e, delta: { frames: [1n, 2n, 3n, 4n, 5n].map((seq) => ({ seq, bytes: enc(1) })) } }, // past the cap
        { ...f, delta: { frames: [{ seq: 1n, bytes: enc(1) }, { seq: 2n, bytes: enc(2) }], acked: 1n, positions: { feed: '9-0' } } },
      ];
      const out = await store.commitMany(batch);
      expect(out[0]).toBeUndefined();
      expect(out[1]).toBeUndefined();
      expect(out[2]).toBeInstanceOf(ReplayOrderError);
      expect(out[2]).toMatchObject({ lastSeq: 1n });
      expect(out[3]).toBeInstanceOf(StaleFenceError);
      expect(out[3]).toMatchObject({ currentFence: stale });
      expect(out[4]).toBeInstanceOf(ReplayCapError);
      expect(out[5]).toBeUndefined();
      for (const [i, x] of batch.entries()) {
        if (out[i] !== undefined) continue;
        await twin.commit(x.id, x.twin, x.delta);
        const [got, want] = [await store.load(x.id), await twin.load(x.id)];
        expect({ outbound: got?.outbound, inbound: got?.inbound, subscriptions: got?.subscriptions }).toEqual({ outbound: want?.outbound, inbound: want?.inbound, subscriptions: want?.subscriptions });
      }
      expect(seqsOf(await store.load(c.id))).toEqual([1n]); // refused: unchanged
      expect(seqsOf(await store.load(e.id))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('MN-1 property: commitMany (one binary argument, a trim by count when the seqs have no gap) and commit apply every delta as applyDelta does, SEQ-2 and cap refusals included', async () => {
    const caps = { maxReplayFrames: 6, maxReplayBytes: 40 };
    const store = new RedisSessionStore({ redis: redis.url, ...caps });
    const channels = ['feed', 'ché', '频道', 'a:b'];
    const step = fc.record({
      gap: fc.constantFrom(0n, 0n, 0n, 0n, 1n, 3n), // seqs skipped before the first frame (the server never skips: the slow trim)
      jump: fc.constantFrom(false, false, false, false, false, false, false, true), // an ack to 2^60: seqs past 2^53
      repeat: fc.constantFrom(false, false, false, false, false, false, false, false, false, true), // SEQ-2: a frame already stored
      frames: fc.array(fc.uint8Array({ maxLength: 9 }).map((b) => (b.length > 0 ? b.map((x, i) => (i === 0 && x % 5 === 0 ? 0x3a : x)) : b)), { maxLength: 3 }),
      ackBack: fc.option(fc.integer({ min: -1, max: 4 }), { nil: undefined }), // the ack, this far below the top
      inbound: fc.option(fc.record({ lastProcessed: fc.bigInt({ min: 0n, max: 9n }), lastAckSent: fc.bigInt({ min: 0n, max: 9n }) }), { nil: undefined }),
      positions: fc.option(fc.dictionary(fc.constantFrom(...channels), fc.tuple(fc.nat(99), fc.nat(9)).map(([a, b]) => `${a}-${b}`), { maxKeys: 3 }), { nil: undefined }),
      subs: fc.option(fc.subarray(channels), { nil: undefined }),
      // MN-15: a channel the list joins (again) is stored with the version given; one it keeps keeps its own
      versions: fc.array(fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }), { minLength: channels.length, maxLength: channels.length }),
      single: fc.boolean(), // commit rather than in the commitMany batch
    });
    try {
      await store.ready();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(step, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 8 }), async (rounds) => {
          const models: SessionRecord[] = [];
          const fences: number[] = [];
          for (let i = 0; i < 3; i++) {
            const r = sampleRecord({ subscriptions: [{ channel: 'feed', version: 2n }] });
            fences.push(await store.create(r, 'node-a'));
            models.push((await store.load(r.id)) as SessionRecord);
          }
          for (const round of rounds) {
            const deltas = round.map((st, i): RecordDelta => {
              const m = models[i] as SessionRecord;
              const last = m.outbound.replay[m.outbound.replay.length - 1]?.seq ?? m.outbound.acked;
              if (st.jump) return { acked: 2n ** 60n + last };
              const first = st.repeat && last > 0n ? last : last + 1n + st.gap;
              const frames = st.frames.map((bytes, k) => ({ seq: first + BigInt(k), bytes }));
              const top = frames.length > 0 ? first + BigInt(frames.length - 1) : last;
              const acked = st.ackBack === undefined ? undefined : top - BigInt(st.ackBack);
              return {
                ...(frames.length > 0 && { frames }),
                ...(acked !== undefined && acked >= 0n && { acked }),
                ...(st.inbound && { inbound: st.inbound }),
                ...(st.positions && { positions: st.positions }),
                ...(st.subs && { subscriptions: st.subs.map((channel, k) => (st.versions[k] === undefined ? { channel } : { channel, version: st.versions[k] })) }),
              };
            });
            // the oracle: applyDelta, and the caps on what it leaves
            const expected = deltas.map((d, i): SessionRecord | 'order' | 'cap' => {
              let next: SessionRecord;
              try {
                next = applyDelta(models[i] as SessionRecord, d);
              } catch (err) {
                if (err instanceof ReplayOrderError) return 'order';
                throw err;
              }
              const bytes = next.outbound.replay.reduce((n, f) => n + f.bytes.byteLength, 0);
              return next.outbound.replay.length > caps.maxReplayFrames || bytes > caps.maxReplayBytes ? 'cap' : next;
            });
            const batched = round.map((st, i) => (st.single ? -1 : i)).filter((i) => i >= 0);
            const many = batched.length > 0 ? await store.commitMany(batched.map((i) => ({ id: (models[i] as SessionRecord).id, fence: fences[i] as number, delta: deltas[i] as RecordDelta }))) : [];
            for (let i = 0; i < 3; i++) {
              const m = models[i] as SessionRecord;
              const at = batched.indexOf(i);
              const err = at >= 0 ? many[at] : await store.commit(m.id, fences[i] as number, deltas[i] as RecordDelta).then(() => undefined, (e: unknown) => e);
              const want = expected[i];
              if (want === 'order') expect(err).toBeInstanceOf(ReplayOrderError);
              else if (want === 'cap') expect(err).toBeInstanceOf(ReplayCapError);
              else {
                expect(err).toBeUndefined();
                models[i] = want as SessionRecord;
              }
              const got = await store.load(m.id);
              const model = models[i] as SessionRecord;
              // versions too: a channel left and joined since the last save has the joining delta's, not the save's (MN-15)
              expect({ outbound: got?.outbound, inbound: got?.inbound, subscriptions: got?.subscriptions }).toEqual({
                outbound: model.outbound,
                inbound: model.inbound,
                subscriptions: model.subscriptions,
              });
            }
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      await store.close();
    }
  });

  it('MN-1 commitMany: a session whose commit cannot be encoded (a field past its length) is refused alone, ReplayCapError (never retried); the others are applied', async () => {
    const store = new RedisSessionStore({ redis: redis.url });
    try {
      const a = sampleRecord({ subscriptions: [{ channel: 'feed' }] });
      const b = sampleRecord({ subscriptions: [{ channel: 'feed' }] });
      const [fa, fb] = [await store.create(a, 'node-a'), await store.create(b, 'node-a')];
      const out = await store.commitMany([
        { id: a.id, fence: fa, delta: { frames: [{ seq: 1n, bytes: enc(1) }], positions: { ['x'.repeat(70_000)]: '1-0' } } },
        { id: b.id, fence: fb, delta: { frames: [{ seq: 1n, bytes: enc(2) }], positions: { feed: '1-0' } } },
      ]);
      expect(out[0]).toBeInstanceOf(ReplayCapError);
      expect(out[1]).toBeUndefined();
      expect(seqsOf(await store.load(a.id))).toEqual([]);
      expect((await store.load(b.id))?.outbound.replay).toEqual([{ seq: 1n, bytes: enc(2) }]);
    } finally {
      await store.close();
    }
  });

  it('the replay has a hard cap: a commit past it rejects ReplayCapError and changes nothing; what an ack releases makes room', async () => {
    const store = new RedisSessionStore({ redis: redis.url, maxReplayFrames: 3, maxReplayBytes: 10 });
    try {
      const r = sampleRecord();
      const fence = await store.create(r, 'node-a');
      await store.commit(r.id, fence, { frames: [1n, 2n, 3n].map((seq) => ({ seq, bytes: enc(1, 2) })) });
      await expect(store.commit(r.id, fence, { frames: [{ seq: 4n, bytes: enc(1) }], inbound: { lastProcessed: 3n, lastAckSent: 3n } })).rejects.toBeInstanceOf(ReplayCapError);
      expect((await store.load(r.id))?.inbound.lastProcessed).toBe(0n);
      await store.commit(r.id, fence, { frames: [{ seq: 4n, bytes: enc(1) }], acked: 1n });
      expect(seqsOf(await store.load(r.id))).toEqual([2n, 3n, 4n]);
      await expect(store.commit(r.id, fence, { frames: [{ seq: 5n, bytes: new Uint8Array(11) }], acked: 4n })).rejects.toBeInstanceOf(ReplayCapError); // bytes
    } finally {
      await store.close();
    }
  });

  it('the commits of 1,000 sessions issued in one tick go out as one pipeline: few round trips, not 1,000', async () => {
    const client = new Redis(redis.url, lifelineRedisOptions);
    const store = new RedisSessionStore({ redis: client });
    try {
      await store.ready();
      const records = Array.from({ length: 1000 }, () => sampleRecord());
      const fences = await Promise.all(records.map((r) => store.create(r, 'node-a')));
      let writes = 0;
      const socket = client.stream;
      const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
      socket.write = ((...a: unknown[]) => {
        writes++;
        return write(...a);
      }) as typeof socket.write;
      const before = await evalshaCalls(client);
      await Promise.all(
        records.map((r, i) =>
          store.commit(r.id, fences[i] as number, { frames: [{ seq: 1n, bytes: enc(i & 0xff, 1, 2, 3) }], inbound: { lastProcessed: 1n, lastAckSent: 1n }, positions: { feed: `${i}-0` } }),
        ),
      );
      const commands = (await evalshaCalls(client)) - before;
      socket.write = write as typeof socket.write;
      expect(commands).toBe(1000); // one script call per session
      expect(writes).toBeLessThanOrEqual(3); // the INFO before and after, and one pipeline of 1,000 commits
      const back = await store.load((records[999] as { id: string }).id);
      expect(back?.outbound.replay[0]?.bytes).toEqual(enc(999 & 0xff, 1, 2, 3));
      expect(back?.subscriptions.find((s) => s.channel === 'feed')?.position).toBe('999-0');
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});

/** Server-side count of script calls (INFO commandstats). */
async function evalshaCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls('evalsha') + calls('eval'); // the first call of a script on a connection is an EVAL
}

describe.skipIf(!hasRedis)('RedisSessionStore when Redis goes away (DESIGN-14 §6, §8)', () => {
  let persisted: RedisProcess;
  beforeAll(async () => {
    persisted = await startRedis({ appendonly: true });
  });
  afterAll(async () => {
    await persisted?.stop();
  });

  it('survives a Redis restart with appendonly yes: the records are there after it; health goes false, then true; claim notices resume', async () => {
    const store = new RedisSessionStore({ redis: persisted.url });
    try {
      await store.ready();
      const seen: boolean[] = [];
      store.health.onHealth((ready) => seen.push(ready));
      const heard: string[] = [];
      store.watchClaims('node-a', (id, fence, byNode) => heard.push(`${id} ${fence} ${byNode}`));
      const r = sampleRecord();
      const fence = await store.create(r, 'node-a');
      await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: enc(7, 8) }], inbound: { lastProcessed: 4n, lastAckSent: 4n }, positions: { chat: '9-1' } });
      await store.addMessageId('alice', 'm-1');
      const before = await store.load(r.id);

      await persisted.restart();
      await until('health to go false and come back true after the restart', () => seen.includes(false) && store.health.isReady(), 10_000);
      expect(seen.slice(0, 1)).toEqual([false]);
      expect(seen[seen.length - 1]).toBe(true);

      expect(await store.load(r.id)).toEqual(before);
      expect(await store.hasMessageId('alice', 'm-1')).toBe(true);
      await store.commit(r.id, fence, { frames: [{ seq: 2n, bytes: enc(9) }] }); // scripts load again (NOSCRIPT → EVAL)
      expect(seqsOf(await store.load(r.id))).toEqual([1n, 2n]);
      // RS-7: the subscriber connection resubscribed by itself
      await until('a claim notice after the restart', () => {
        void store.claim(r.id, 'node-b').then(() => store.claim(r.id, 'node-a')).catch(() => {}); // until it is heard
        return heard.length > 0;
      }, 10_000);
      expect(heard[0]).toMatch(new RegExp(`^${r.id} \\d+ node-b$`));
    } finally {
      await store.close();
    }
  });

  it('while Redis is away every call rejects at once with RedisUnavailableError (never a hang); when it returns, calls work again by themselves', async () => {
    const store = new RedisSessionStore({ redis: persisted.url });
    try {
      await store.ready();
      const r = sampleRecord();
      const fence = await store.create(r, 'node-a');
      await persisted.kill();
      await until('health to go false after Redis was killed', () => !store.health.isReady(), 10_000);
      const calls: Array<[string, Promise<unknown>]> = [
        ['commit', store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: enc(1) }] })],
        ['load', store.load(r.id)],
        ['claim', store.claim(r.id, 'node-b')],
        ['endedReason', store.endedReason(r.id)],
        ['hasMessageId', store.hasMessageId('alice', 'm')],
        ['addMessageId', store.addMessageId('alice', 'm')],
      ];
      const outcomes = await Promise.all(calls.map(([what, p]) => within(`${what} while Redis is away`, p, 2_000).then(() => `${what} resolved`, (e: unknown) => e)));
      for (const outcome of outcomes) expect(outcome).toBeInstanceOf(RedisUnavailableError);
      await persisted.start();
      // retryStrategy caps the reconnect delay at 1 s: back within that plus an allowance.
      await until('health to come back after Redis restarted', () => store.health.isReady(), 10_000);
      await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: enc(1) }] });
      expect(seqsOf(await store.load(r.id))).toEqual([1n]);
    } finally {
      await store.close();
    }
  });

  it('a call made before the first connection waits for it rather than failing', async () => {
    const store = new RedisSessionStore({ redis: persisted.url });
    try {
      const r = sampleRecord();
      expect(store.health.isReady()).toBe(false);
      expect(await store.create(r, 'node-a')).toBe(1);
    } finally {
      await store.close();
    }
  });
});
