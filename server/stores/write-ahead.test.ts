import { describe, expect, test } from 'vitest';
import { OutboundLog } from '../../spec/protocol/outbound-log.js';
import { sampleRecord } from './contract.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { SessionRecord, SubscriptionRecord } from './session-record.js';
import { ReplayCapError, ReplayOrderError, type RecordDelta } from './session-store.js';
import { Gate, RETRY_FIRST_MS, WriteAhead, type WriteAheadHost } from './write-ahead.js';

/** The memory store, saying it is shared; records every commit and can refuse them (a store away). */
class SharedTestStore extends MemorySessionStore {
  override readonly isShared = true;
  calls: string[] = [];
  isDown = false;
  override commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    if (this.isDown) return Promise.reject(new Error('store unreachable'));
    const frames = delta.frames ?? [];
    if (frames.length > 0) this.calls.push(`append ${frames.map((f) => f.seq).join(',')}`);
    if (delta.acked !== undefined) this.calls.push(`trim ${delta.acked}`);
    if (delta.inbound) this.calls.push(`inbound ${delta.inbound.lastProcessed}`);
    if (delta.positions) this.calls.push(`positions ${JSON.stringify(delta.positions)}`);
    if (delta.subscriptions) this.calls.push(`channels ${delta.subscriptions.map((c) => c.channel).join(',')}`);
    return super.commit(id, fence, delta);
  }
}

/** A session as the write-ahead sees it: a log, a cursor, a gate; counts its committed() calls. */
class FakeSession implements WriteAheadHost {
  readonly log = new OutboundLog<Uint8Array>({ window: 100 });
  readonly gate = new Gate();
  inbound: SessionRecord['inbound'] = { lastProcessed: 0n, lastAckSent: 0n };
  channels: SubscriptionRecord[] = [];
  failures: unknown[] = [];
  commits = 0;
  constructor(
    readonly id: string,
    public fence: number,
  ) {}
  inboundCursor(): SessionRecord['inbound'] {
    return this.inbound;
  }
  subscriptionList(): readonly SubscriptionRecord[] {
    return this.channels;
  }
  committed(): void {
    this.commits++;
  }
  commitFailed(err: unknown): void {
    this.failures.push(err);
  }
  send(n: number): void {
    this.log.send(new Uint8Array([n]), 1);
  }
}

function manual() {
  const queue: (() => void)[] = [];
  return { schedule: (fn: () => void) => void queue.push(fn), tick: () => queue.splice(0).forEach((fn) => fn()), queue };
}

async function setup(hooks: Partial<ConstructorParameters<typeof WriteAhead>[1]> = {}) {
  const store = new SharedTestStore();
  const r = sampleRecord();
  const fence = await store.create(r, 'n1');
  const m = manual();
  const stale: string[] = [];
  const errors: unknown[] = [];
  const w = new WriteAhead(store, { schedule: m.schedule, onStale: (id, f) => stale.push(`${id} ${f}`), onError: (e) => errors.push(e), ...hooks });
  const s = new FakeSession(r.id, fence);
  return { store, r, w, s, m, stale, errors };
}

describe('WriteAhead (MN-1: a shared store holds a session before its client sees it)', () => {
  test('MN-1 SEQ-7 the changes of one tick become one commit per session, read from the session; the session hears when it is stored', async () => {
    const { store, r, w, s, m } = await setup();
    s.send(1);
    w.touch(s);
    s.send(2);
    w.touch(s);
    s.send(3);
    w.touch(s);
    s.log.ack(1n);
    w.touch(s);
    s.gate.sequenced('feed', '5-0', 3n);
    expect(m.queue).toHaveLength(1); // one flush per tick, however many changes
    expect(store.calls).toEqual([]);
    m.tick();
    expect(s.commits).toBe(0); // not before the store answered
    await w.flush();
    expect(store.calls).toEqual(['append 2,3', 'trim 1', 'positions {"feed":"5-0"}']);
    expect(s.commits).toBe(1);
    expect(s.gate.storedSeq).toBe(3n);
    const back = await store.load(r.id);
    expect(back?.outbound).toMatchObject({ next: 4n, acked: 1n });
    expect(back?.outbound.replay.map((f) => f.seq)).toEqual([2n, 3n]);
  });

  test('MN-1 the inbound cursor goes in the commit, and the stored cursor is what an Ack may say', async () => {
    const { store, w, s, m } = await setup();
    s.inbound = { lastProcessed: 4n, lastAckSent: 4n };
    w.touch(s);
    m.tick();
    await w.flush();
    expect(store.calls).toEqual(['inbound 4']);
    expect(s.gate.storedProcessed).toBe(4n);
  });

  test('MN-1 one commit per session in flight: changes made meanwhile go in the next, after it', async () => {
    const { store, w, s, m } = await setup();
    s.send(1);
    w.touch(s);
    m.tick(); // commit 1 issued, not yet resolved
    s.send(2);
    w.touch(s);
    expect(m.queue).toHaveLength(0); // waits for the one in flight
    await w.flush();
    expect(store.calls).toEqual(['append 1', 'append 2']);
    expect(s.commits).toBe(2);
  });

  test('MN-1 nothing is committed before the store has the session (fence 0); refenced sends it', async () => {
    const { store, w, s, m } = await setup();
    const fence = s.fence;
    s.fence = 0;
    s.send(1);
    w.touch(s);
    m.tick();
    expect(store.calls).toEqual([]);
    s.fence = fence;
    w.refenced(s);
    m.tick();
    await w.flush();
    expect(store.calls).toEqual(['append 1']);
  });

  test('MN-6 store away: nothing is dropped; the delta (with what changed since) is retried with backoff until the store answers', async () => {
    const { store, r, w, s, m, errors } = await setup({ flushTimeoutMs: 20 });
    let recovered = 0;
    const w2 = new WriteAhead(store, { schedule: m.schedule, onStale: () => {}, onError: (e) => errors.push(e), onRecovered: () => recovered++ });
    void w;
    store.isDown = true;
    s.send(1);
    w2.touch(s);
    m.tick();
    await new Promise((res) => setTimeout(res, 0));
    expect(errors).toHaveLength(1);
    expect(w2.size).toBe(1); // kept, waiting for its retry
    s.send(2);
    w2.touch(s); // merged into the retry
    expect(m.queue).toHaveLength(0);
    await new Promise((res) => setTimeout(res, RETRY_FIRST_MS * 3)); // a few retries while it is down
    expect(errors).toHaveLength(1); // logged once per outage
    expect(s.commits).toBe(0);
    store.isDown = false;
    await w2.flush();
    expect(recovered).toBe(1);
    expect(s.commits).toBe(1);
    expect((await store.load(r.id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n]);
    w2.stop();
  });

  test('MN-6 flush never hangs on a store that does not answer: it gives up after its bound, with a log line', async () => {
    const { store, w: _w, s, m } = await setup();
    store.isDown = true;
    const gaveUp: number[] = [];
    const w = new WriteAhead(store, { schedule: m.schedule, onStale: () => {}, onError: () => {}, flushTimeoutMs: 30, onFlushTimeout: (n) => gaveUp.push(n) });
    s.send(1);
    w.touch(s);
    await w.flush();
    expect(gaveUp).toEqual([1]);
    w.stop();
  });

  test('RS-7 a takeover: a commit under the old fence is refused as stale; the delta is dropped and the owner told', async () => {
    const { store, r, w, s, stale } = await setup();
    await store.claim(r.id, 'n2');
    s.send(1);
    w.touch(s);
    await w.flush();
    expect(stale).toEqual([`${r.id} ${s.fence}`]);
    expect(w.size).toBe(0);
    expect(s.commits).toBe(0); // never released to the socket
    expect((await store.load(r.id))?.outbound.replay).toEqual([]);
  });

  test('MN-15 a changed channel list goes in the next commit, once; the stored count is what a held Subscribed waits for', async () => {
    const { store, r, w, s, m } = await setup();
    s.channels = [{ channel: 'feed' }, { channel: 'news' }];
    s.gate.channels++;
    w.touch(s);
    m.tick();
    expect(s.gate.storedChannels).toBe(0); // not before the store answered
    await w.flush();
    expect(s.gate.storedChannels).toBe(1);
    s.send(1);
    w.touch(s);
    m.tick();
    await w.flush();
    expect(store.calls).toEqual(['channels feed,news', 'append 1']); // the list once, not with every commit
    expect((await store.load(r.id))?.subscriptions.map((c) => c.channel)).toEqual(['feed', 'news']);
  });

  test('MN-15 a refused commit leaves the channel list to the retry', async () => {
    const { store, r, w, s, m } = await setup();
    store.isDown = true;
    s.channels = [{ channel: 'feed' }];
    s.gate.channels++;
    w.touch(s);
    m.tick();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(s.gate.storedChannels).toBe(0);
    store.isDown = false;
    await w.flush();
    expect(s.gate.storedChannels).toBe(1);
    expect((await store.load(r.id))?.subscriptions.map((c) => c.channel)).toEqual(['feed']);
    w.stop();
  });

  test('CC-5 a ReplayCapError is never retried: the session is told it failed, nothing more is committed for it', async () => {
    const store = new SharedTestStore();
    const r = sampleRecord();
    const fence = await store.create(r, 'n1');
    let calls = 0;
    const seam: Pick<typeof store, 'commit'> = {
      commit: () => {
        calls++;
        return Promise.reject(new ReplayCapError('commit: replay past its cap'));
      },
    };
    const errors: unknown[] = [];
    const w = new WriteAhead(seam, { onStale: () => {}, onError: (e) => errors.push(e) });
    const s = new FakeSession(r.id, fence);
    s.send(1);
    w.touch(s);
    await w.flush();
    expect(s.failures).toHaveLength(1);
    expect(s.failures[0]).toBeInstanceOf(ReplayCapError);
    expect(errors).toEqual([]); // not an outage: nothing to retry
    expect(w.size).toBe(0);
    s.send(2);
    w.touch(s);
    await w.flush();
    expect(calls).toBe(1);
    expect(s.commits).toBe(0); // frames never released to the socket
    w.stop();
  });

  test('a forgotten session (ended, moved) commits nothing more', async () => {
    const { store, w, s, m } = await setup();
    s.send(1);
    w.touch(s);
    w.forget(s);
    m.tick();
    await w.flush();
    expect(store.calls).toEqual([]);
  });
});

describe('WriteAhead: a store that already holds what a commit repeats', () => {
  test('SEQ-2 a refusal naming the stored last seq (a lost answer) moves on after it, without waiting for a backoff', async () => {
    const store = new SharedTestStore();
    const r = sampleRecord();
    const fence = await store.create(r, 'n1');
    await store.commit(r.id, fence, { frames: [{ seq: 1n, bytes: new Uint8Array([1]) }] }); // landed; its answer "lost"
    const seam: Pick<typeof store, 'commit'> = {
      commit: (id, f, delta) => {
        const first = delta.frames?.[0]?.seq;
        return first !== undefined && first <= 1n ? Promise.reject(new ReplayOrderError(id, first, 1n)) : store.commit(id, f, delta);
      },
    };
    const errors: unknown[] = [];
    const w = new WriteAhead(seam, { onStale: () => {}, onError: (e) => errors.push(e) });
    const s = new FakeSession(r.id, fence);
    s.send(1);
    s.send(2);
    w.touch(s);
    await w.flush();
    expect(errors).toEqual([]); // not an outage
    expect(s.gate.storedSeq).toBe(2n);
    expect((await store.load(r.id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n]);
    w.stop();
  });
});
