/**
 * The SessionStore contract (issue 12, deliverable 2): every store runs this suite, the in-memory
 * one (memory-session-store.test.ts) and any shared one (issue 14: Redis), so the server can rely
 * on the same semantics from each. Time is simulated: the store is built on the suite's clock.
 *
 *   sessionStoreContract('RedisSessionStore', (env) => new RedisSessionStore({ ...env, url }));
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackpressurePolicy, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import type { Clock } from '../../spec/protocol/clock.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import type { SessionRecord } from './session-record.js';
import { SessionExistsError, StaleFenceError, type SessionStore } from './session-store.js';

/** What the suite gives the store it builds: its clock and the bounds it checks. */
export interface ContractEnv {
  readonly clock: Pick<Clock, 'now'>;
  readonly endedMaxIds: number;
  readonly endedTtlMs: number;
  readonly dedupeMaxIds: number;
  readonly dedupeTtlMs: number;
}

export interface ContractOptions {
  /** Release what a store holds (connections) after each test. */
  readonly dispose?: (store: SessionStore) => void | Promise<void>;
}

/** A manual clock at an epoch-like start. */
class TestClock {
  ms = 1_700_000_000_000;
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

let serial = 0;

/** A record for tests; ids are unique per call, so a shared store needs no flush between tests. */
export function sampleRecord(patch: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: `contract-${process.pid}-${Date.now()}-${serial++}`,
    principal: 'alice',
    createdAtMs: 1_700_000_000_000,
    expiresAtMs: undefined,
    policy: BackpressurePolicy.DROP_OLDEST,
    receiveWindow: 256,
    outbound: { next: 1n, acked: 0n, replay: [] },
    inbound: { lastProcessed: 0n, lastAckSent: 0n },
    subscriptions: [{ channel: 'feed', version: 3n }, { channel: 'chat' }],
    isContinuityLost: false,
    newReason: ResumeReason.NOT_REQUESTED,
    machine: undefined,
    owner: undefined,
    ...patch,
  };
}

const frame = (seq: bigint) => ({ seq, bytes: new Uint8Array([Number(seq % 256n), 1, 2]) });
const seqs = (r: SessionRecord | undefined) => r?.outbound.replay.map((f) => f.seq);

export function sessionStoreContract(name: string, makeStore: (env: ContractEnv) => SessionStore | Promise<SessionStore>, o: ContractOptions = {}): void {
  describe(`SessionStore contract: ${name}`, () => {
    let clock: TestClock;
    let store: SessionStore;
    const env = (): ContractEnv => ({ clock, endedMaxIds: 3, endedTtlMs: 60_000, dedupeMaxIds: 100, dedupeTtlMs: 10_000 });
    const fresh = async () => {
      clock = new TestClock();
      store = await makeStore(env());
      return store;
    };
    afterEach(async () => {
      if (store) await o.dispose?.(store);
    });

    describe('create and load', () => {
      it('loads what was created, equal through the record codec, owned by the creating node with fence 1 or more', async () => {
        await fresh();
        const r = sampleRecord({ outbound: { next: 3n, acked: 0n, replay: [frame(1n), frame(2n)] }, machine: { value: { detached: 'waiting' }, context: { missed: 0, seq: 5n } } });
        const fence = await store.create(r, 'node-a');
        expect(fence).toBeGreaterThanOrEqual(1);
        const back = await store.load(r.id);
        expect(back?.owner).toEqual({ nodeId: 'node-a', fence });
        expect(decodeRecord(encodeRecord({ ...(back as SessionRecord), owner: undefined }))).toEqual(decodeRecord(encodeRecord(r)));
      });
      it('load of an unknown id is undefined; create of an existing id rejects SessionExistsError', async () => {
        await fresh();
        expect(await store.load('no-such-session')).toBeUndefined();
        const r = sampleRecord();
        await store.create(r, 'node-a');
        await expect(store.create(r, 'node-b')).rejects.toBeInstanceOf(SessionExistsError);
      });
      it('save writes the record back under the current fence; the owner stays the claim', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.save({ ...r, inbound: { lastProcessed: 7n, lastAckSent: 6n }, isContinuityLost: true }, fence);
        const back = await store.load(r.id);
        expect(back?.inbound).toEqual({ lastProcessed: 7n, lastAckSent: 6n });
        expect(back?.isContinuityLost).toBe(true);
        expect(back?.owner).toEqual({ nodeId: 'node-a', fence });
      });
    });

    describe('claims and fencing', () => {
      it('every claim returns a larger fence and moves the owner (a takeover)', async () => {
        await fresh();
        const r = sampleRecord();
        const f1 = await store.create(r, 'node-a');
        const f2 = (await store.claim(r.id, 'node-b')) as number;
        const f3 = (await store.claim(r.id, 'node-a')) as number;
        expect(f2).toBeGreaterThan(f1);
        expect(f3).toBeGreaterThan(f2);
        expect((await store.load(r.id))?.owner).toEqual({ nodeId: 'node-a', fence: f3 });
        expect(await store.claim('no-such-session', 'node-a')).toBeUndefined();
      });
      it('a write under an older fence rejects StaleFenceError and changes nothing: two nodes never both own a session', async () => {
        await fresh();
        const r = sampleRecord();
        const old = await store.create(r, 'node-a');
        const current = (await store.claim(r.id, 'node-b')) as number;
        await expect(store.save({ ...r, isContinuityLost: true }, old)).rejects.toBeInstanceOf(StaleFenceError);
        await expect(store.commit(r.id, old, { frames: [frame(1n)] })).rejects.toBeInstanceOf(StaleFenceError);
        await expect(store.commit(r.id, old, { acked: 0n })).rejects.toBeInstanceOf(StaleFenceError);
        await expect(store.end(r.id, 'ended', old)).rejects.toBeInstanceOf(StaleFenceError);
        const back = await store.load(r.id);
        expect(back?.isContinuityLost).toBe(false);
        expect(seqs(back)).toEqual([]);
        await store.commit(r.id, current, { frames: [frame(1n)] });
        expect(seqs(await store.load(r.id))).toEqual([1n]);
      });
      it('writes to a session that does not exist reject StaleFenceError', async () => {
        await fresh();
        await expect(store.commit('no-such-session', 1, { frames: [frame(1n)] })).rejects.toBeInstanceOf(StaleFenceError);
        await expect(store.save(sampleRecord(), 1)).rejects.toBeInstanceOf(StaleFenceError);
      });
    });

    describe('replay: append and trim (SEQ-7)', () => {
      it('appends keep seq order; the bytes come back as written; next moves past the last appended', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n)] });
        await store.commit(r.id, fence, { frames: [frame(3n)] });
        const back = await store.load(r.id);
        expect(seqs(back)).toEqual([1n, 2n, 3n]);
        expect(back?.outbound.replay[2]?.bytes).toEqual(frame(3n).bytes);
        expect(back?.outbound.next).toBe(4n);
      });
      it('an append that does not follow the last seq rejects (SEQ-2: no gap is filled twice)', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n)] });
        await expect(store.commit(r.id, fence, { frames: [frame(2n)] })).rejects.toThrow();
      });
      it('trim by a cumulative ack drops seq ≤ ack and records the ack; an older ack changes nothing', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n), frame(3n)] });
        await store.commit(r.id, fence, { acked: 2n });
        let back = await store.load(r.id);
        expect(seqs(back)).toEqual([3n]);
        expect(back?.outbound.acked).toBe(2n);
        await store.commit(r.id, fence, { acked: 1n });
        back = await store.load(r.id);
        expect(seqs(back)).toEqual([3n]);
        expect(back?.outbound.acked).toBe(2n);
        await store.commit(r.id, fence, { acked: 3n });
        expect(seqs(await store.load(r.id))).toEqual([]);
      });
    });

    describe('end, expiry and the ended reasons (RS-6, RS-11)', () => {
      it('end deletes the session and remembers why', async () => {
        await fresh();
        const a = sampleRecord();
        const b = sampleRecord();
        const fa = await store.create(a, 'node-a');
        await store.create(b, 'node-a');
        await store.end(a.id, 'evicted', fa);
        await store.end(b.id, 'ended');
        expect(await store.load(a.id)).toBeUndefined();
        expect(await store.endedReason(a.id)).toBe('evicted');
        expect(await store.endedReason(b.id)).toBe('ended');
        expect(await store.endedReason('no-such-session')).toBeUndefined();
        expect(await store.claim(a.id, 'node-b')).toBeUndefined();
      });
      it('a record past its expiry is gone and reads as expired (RS-6); one not yet due stays', async () => {
        await fresh();
        const r = sampleRecord({ expiresAtMs: clock.now() + 1000 });
        const fence = await store.create(r, 'node-a');
        clock.advance(999);
        expect(await store.load(r.id)).toBeDefined();
        clock.advance(1);
        expect(await store.load(r.id)).toBeUndefined();
        expect(await store.endedReason(r.id)).toBe('expired');
        await expect(store.save(r, fence)).rejects.toBeInstanceOf(StaleFenceError);
      });
      it('save can clear or move the expiry (attach and detach)', async () => {
        await fresh();
        const r = sampleRecord({ expiresAtMs: clock.now() + 1000 });
        const fence = await store.create(r, 'node-a');
        await store.save({ ...r, expiresAtMs: undefined }, fence);
        clock.advance(5000);
        expect(await store.load(r.id)).toBeDefined();
        await store.save({ ...r, expiresAtMs: clock.now() + 10 }, fence);
        clock.advance(10);
        expect(await store.load(r.id)).toBeUndefined();
      });
      it('the ended reasons are bounded in count (oldest forgotten first) and in time', async () => {
        await fresh();
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const r = sampleRecord();
          ids.push(r.id);
          await store.create(r, 'node-a');
          await store.end(r.id, 'expired');
        }
        expect(await store.endedReason(ids[0] as string)).toBeUndefined(); // endedMaxIds: 3
        expect(await store.endedReason(ids[3] as string)).toBe('expired');
        clock.advance(60_000);
        expect(await store.endedReason(ids[3] as string)).toBeUndefined(); // endedTtlMs
      });
    });

    describe('message-id dedupe (SEQ-8)', () => {
      it('an added id is seen for its principal only, until the dedupe TTL', async () => {
        await fresh();
        expect(await store.hasMessageId('alice', 'm1')).toBe(false);
        await store.addMessageId('alice', 'm1');
        expect(await store.hasMessageId('alice', 'm1')).toBe(true);
        expect(await store.hasMessageId('bob', 'm1')).toBe(false);
        clock.advance(9_999);
        expect(await store.hasMessageId('alice', 'm1')).toBe(true);
        clock.advance(1);
        expect(await store.hasMessageId('alice', 'm1')).toBe(false);
      });
      it('an empty message id is never a duplicate', async () => {
        await fresh();
        await store.addMessageId('alice', '');
        expect(await store.hasMessageId('alice', '')).toBe(false);
      });
      it('principal and id never spell another pair', async () => {
        await fresh();
        await store.addMessageId('ab', 'c');
        expect(await store.hasMessageId('a', 'bc')).toBe(false);
      });
    });
  });
}
