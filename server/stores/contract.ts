/**
 * The SessionStore contract (issue 12, deliverable 2): every store runs this suite, the in-memory
 * one (memory-session-store.test.ts) and any shared one (issue 14: Redis), so the server can rely
 * on the same semantics from each. Time is simulated: the store is built on the suite's clock.
 *
 *   sessionStoreContract('RedisSessionStore', (env) => new RedisSessionStore({ ...env, url }));
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackpressurePolicy, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import type { Clock } from '../../spec/protocol/clock.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import type { SessionRecord } from './session-record.js';
import { SessionExistsError, StaleFenceError, type ClaimLost, type SessionStore } from './session-store.js';

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

/** A claim notice as a listener heard it. */
interface Notice {
  readonly node: string;
  readonly id: string;
  readonly fence: number;
  readonly byNode: string;
}

/** Listeners that record what they hear, per watching node. */
function recorder(node: string, into: Notice[]): ClaimLost {
  return (id, fence, byNode) => into.push({ node, id, fence, byNode });
}

/**
 * A claim notice travels apart from the claim (Redis: pub/sub on another connection), so the suite
 * learns that a watch is live, and that earlier notices had their chance to arrive, by a probe: a
 * session of `node` claimed by another node until the probe's own notice is heard. Notices on one
 * node's channel arrive in the order of the claims.
 */
async function probeClaims(store: SessionStore, node: string, heard: readonly Notice[]): Promise<void> {
  const probe = sampleRecord();
  await store.create(probe, node);
  await vi.waitFor(
    async () => {
      await store.claim(probe.id, 'node-probe');
      await store.claim(probe.id, node);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(heard.some((n) => n.id === probe.id)).toBe(true);
    },
    { timeout: 5_000, interval: 1 },
  );
}

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
      it('end of an id never created remembers why, whatever the fence (issue 16: a non-shared store gets a record at its first save, so a session that never detached ends unstored)', async () => {
        await fresh();
        const [a, b, c] = [sampleRecord(), sampleRecord(), sampleRecord()];
        await store.end(a.id, 'evicted', 0); // the server's fence of a session it never stored
        await store.end(b.id, 'expired', 3);
        await store.end(c.id, 'ended');
        expect(await store.endedReason(a.id)).toBe('evicted');
        expect(await store.endedReason(b.id)).toBe('expired');
        expect(await store.endedReason(c.id)).toBe('ended');
        expect(await store.load(a.id)).toBeUndefined();
        expect(await store.claim(a.id, 'node-a')).toBeUndefined();
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

    describe('commit: one delta, all of it or none (issue 14)', () => {
      it('frames, ack, inbound cursor and channel positions land together', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, {
          frames: [frame(1n), frame(2n), frame(3n)],
          acked: 1n,
          inbound: { lastProcessed: 5n, lastAckSent: 4n },
          positions: { feed: '1700000000000-3', chat: '1700000000000-7' },
        });
        const back = await store.load(r.id);
        expect(seqs(back)).toEqual([2n, 3n]);
        expect(back?.outbound).toMatchObject({ next: 4n, acked: 1n });
        expect(back?.inbound).toEqual({ lastProcessed: 5n, lastAckSent: 4n });
        expect(back?.subscriptions).toEqual([
          { channel: 'feed', version: 3n, position: '1700000000000-3' },
          { channel: 'chat', position: '1700000000000-7' },
        ]);
        expect(back?.owner).toEqual({ nodeId: 'node-a', fence });
      });
      it('frames covered by the same delta\'s ack are trimmed at once; an ack past next moves next', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n)], acked: 2n });
        let back = await store.load(r.id);
        expect(seqs(back)).toEqual([]);
        expect(back?.outbound).toMatchObject({ next: 3n, acked: 2n });
        await store.commit(r.id, fence, { acked: 9n });
        back = await store.load(r.id);
        expect(back?.outbound).toMatchObject({ next: 10n, acked: 9n });
        await expect(store.commit(r.id, fence, { frames: [frame(9n)] })).rejects.toThrow(); // SEQ-2: at or below the ack
        await store.commit(r.id, fence, { frames: [frame(10n)] });
        expect(seqs(await store.load(r.id))).toEqual([10n]);
      });
      it('an out-of-order frame rejects and changes nothing of the rest of the delta (SEQ-2)', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n), frame(3n)], inbound: { lastProcessed: 2n, lastAckSent: 1n }, positions: { feed: '5-0' } });
        const before = await store.load(r.id);
        await expect(
          store.commit(r.id, fence, {
            frames: [frame(3n), frame(4n)],
            acked: 2n,
            inbound: { lastProcessed: 9n, lastAckSent: 9n },
            positions: { feed: '6-0', chat: '6-1' },
            subscriptions: [{ channel: 'news' }],
          }),
        ).rejects.toThrow();
        expect(await store.load(r.id)).toEqual(before);
      });
      it('the inbound cursor never moves back, field by field (SEQ-3, SEQ-5)', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { inbound: { lastProcessed: 10n, lastAckSent: 8n } });
        await store.commit(r.id, fence, { inbound: { lastProcessed: 7n, lastAckSent: 9n } });
        expect((await store.load(r.id))?.inbound).toEqual({ lastProcessed: 10n, lastAckSent: 9n });
      });
      it('positions of channels the session is not subscribed to are not kept; a save replaces them', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { positions: { other: '1-1', feed: '2-2' } });
        let back = await store.load(r.id);
        expect(back?.subscriptions.map((s) => s.position)).toEqual(['2-2', undefined]);
        await store.save({ ...r, subscriptions: [{ channel: 'other' }, { channel: 'feed', position: '1-0' }] }, fence);
        back = await store.load(r.id);
        expect(back?.subscriptions).toEqual([{ channel: 'other' }, { channel: 'feed', position: '1-0' }]);
        await store.commit(r.id, fence, { positions: { feed: '3-0' } });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'other' }, { channel: 'feed', position: '3-0' }]);
      });
      it('MN-15 a delta\'s channel list replaces the stored one: a kept channel keeps its version and position, a new one is stored as given', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { positions: { feed: '2-0', chat: '2-1' } });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'news', position: '1-5' }, { channel: 'feed' }, { channel: 'quiet' }] });
        expect((await store.load(r.id))?.subscriptions).toEqual([
          { channel: 'news', position: '1-5' },
          { channel: 'feed', version: 3n, position: '2-0' },
          { channel: 'quiet' },
        ]);
        // A channel left and its position are gone: joined again, it starts from what the delta says.
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'news' }] });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'news' }, { channel: 'chat' }] });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'news', position: '1-5' }, { channel: 'chat' }]);
        await store.commit(r.id, fence, { subscriptions: [] });
        expect((await store.load(r.id))?.subscriptions).toEqual([]);
      });
      it('MN-15 a channel left and joined again keeps nothing of before it left: its version is the joining delta\'s, on the next node\'s load too', async () => {
        await fresh();
        const r = sampleRecord(); // feed at version 3 in the record as created
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'chat' }] });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'chat' }, { channel: 'feed' }, { channel: 'news', version: 5n }] });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'chat' }, { channel: 'feed' }, { channel: 'news', version: 5n }]);
        // Left and joined again with a version: that one; kept: still that one (a later delta's is not taken).
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'chat' }] });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'chat' }, { channel: 'feed', version: 9n, position: '3-0' }] });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'feed', version: 1n }, { channel: 'chat' }] });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'feed', version: 9n, position: '3-0' }, { channel: 'chat' }]);
        // A save states every version again; a channel left after it loses its own.
        await store.save({ ...r, subscriptions: [{ channel: 'feed', version: 4n }, { channel: 'chat', version: 2n }] }, fence);
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'feed' }] });
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'feed' }, { channel: 'chat' }] });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'feed', version: 4n }, { channel: 'chat' }]);
      });
      it('MN-15 positions in the delta that joins their channel are kept; those of a channel it leaves are not', async () => {
        await fresh();
        const r = sampleRecord({ subscriptions: [] });
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'feed' }, { channel: 'chat' }], positions: { feed: '4-0', other: '4-1' } });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'feed', position: '4-0' }, { channel: 'chat' }]);
        await store.commit(r.id, fence, { subscriptions: [{ channel: 'chat' }], positions: { feed: '5-0', chat: '5-1' } });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'chat', position: '5-1' }]);
        await store.commit(r.id, fence, { positions: { feed: '6-0', chat: '6-1' } });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'chat', position: '6-1' }]);
        // A save replaces the list whole; commits continue from it.
        await store.save({ ...r, subscriptions: [{ channel: 'feed', position: '7-0' }] }, fence);
        await store.commit(r.id, fence, { positions: { chat: '8-0' } });
        expect((await store.load(r.id))?.subscriptions).toEqual([{ channel: 'feed', position: '7-0' }]);
      });
      it('a save after commits replaces the replay and the cursors; commits then follow the saved replay', async () => {
        await fresh();
        const r = sampleRecord();
        const fence = await store.create(r, 'node-a');
        await store.commit(r.id, fence, { frames: [frame(1n), frame(2n)] });
        await store.save({ ...r, outbound: { next: 6n, acked: 3n, replay: [frame(4n), frame(5n)] } }, fence);
        await store.commit(r.id, fence, { frames: [frame(6n)], acked: 4n });
        const back = await store.load(r.id);
        expect(seqs(back)).toEqual([5n, 6n]);
        expect(back?.outbound).toMatchObject({ next: 7n, acked: 4n });
      });
      it('an empty delta under the current fence changes nothing and resolves', async () => {
        await fresh();
        const r = sampleRecord({ outbound: { next: 2n, acked: 0n, replay: [frame(1n)] } });
        const fence = await store.create(r, 'node-a');
        const before = await store.load(r.id);
        await store.commit(r.id, fence, {});
        expect(await store.load(r.id)).toEqual(before);
      });
    });

    describe('claim notices (RS-7 across nodes), when the store has watchClaims', () => {
      it('a claim by node-b of node-a\'s session calls node-a\'s listener with the new fence, not node-b\'s', async (ctx) => {
        await fresh();
        if (!store.watchClaims) return ctx.skip();
        const heard: Notice[] = [];
        const stopA = store.watchClaims('node-a', recorder('node-a', heard));
        const stopB = store.watchClaims('node-b', recorder('node-b', heard));
        await probeClaims(store, 'node-a', heard);
        await probeClaims(store, 'node-b', heard);
        const r = sampleRecord();
        await store.create(r, 'node-a');
        const f2 = (await store.claim(r.id, 'node-b')) as number;
        await vi.waitFor(() => expect(heard.filter((n) => n.id === r.id)).toEqual([{ node: 'node-a', id: r.id, fence: f2, byNode: 'node-b' }]), { timeout: 5_000 });
        const f3 = (await store.claim(r.id, 'node-a')) as number; // and back: now node-b hears
        await vi.waitFor(() => expect(heard.filter((n) => n.id === r.id && n.node === 'node-b')).toEqual([{ node: 'node-b', id: r.id, fence: f3, byNode: 'node-a' }]), { timeout: 5_000 });
        expect(heard.filter((n) => n.id === r.id)).toHaveLength(2);
        stopA();
        stopB();
      });
      it('a claim by the same node is no takeover and calls nothing; a stopped watch hears nothing', async (ctx) => {
        await fresh();
        if (!store.watchClaims) return ctx.skip();
        const heard: Notice[] = [];
        const stop = store.watchClaims('node-a', recorder('node-a', heard));
        await probeClaims(store, 'node-a', heard);
        const r = sampleRecord();
        await store.create(r, 'node-a');
        await store.claim(r.id, 'node-a');
        await probeClaims(store, 'node-a', heard); // its notice comes after any the claim above made
        expect(heard.filter((n) => n.id === r.id)).toEqual([]);
        const quiet: Notice[] = [];
        const stopQuiet = store.watchClaims('node-a', recorder('quiet', quiet));
        stopQuiet();
        stop();
        await store.claim(r.id, 'node-b');
        const other: Notice[] = [];
        const stopOther = store.watchClaims('node-b', recorder('node-b', other));
        await probeClaims(store, 'node-b', other);
        expect(heard.filter((n) => n.id === r.id)).toEqual([]);
        expect(quiet).toEqual([]);
        stopOther();
      });
    });

    describe('health, when the store has it', () => {
      it('a store that answers is ready; onHealth returns a function that stops the calls', async (ctx) => {
        await fresh();
        if (!store.health) return ctx.skip();
        expect(store.health.isReady()).toBe(true);
        const stop = store.health.onHealth(() => {});
        expect(typeof stop).toBe('function');
        stop();
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
        await store.addMessageId('a:1', 'x');
        expect(await store.hasMessageId('a', '1:x')).toBe(false);
      });
      it('one principal\'s ids are bounded by dedupeMaxIds, oldest forgotten first', async () => {
        await fresh();
        for (let i = 0; i <= 100; i++) {
          await store.addMessageId('carol', `m${i}`);
          clock.advance(1);
        }
        expect(await store.hasMessageId('carol', 'm0')).toBe(false); // dedupeMaxIds: 100
        expect(await store.hasMessageId('carol', 'm1')).toBe(true);
        expect(await store.hasMessageId('carol', 'm100')).toBe(true);
      });
    });
  });
}
