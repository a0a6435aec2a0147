/**
 * The server on a store that says it is shared (issue 14's Redis path, in memory): the record is
 * created and claimed at the lifecycle points, and replay appends and trims are written behind,
 * once per tick, so the store follows the live session's OutboundLog.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Harness } from '../../test/support/server.js';
import type { RawClient } from '../../testkit/raw-client.js';
import fc from 'fast-check';
import { encode } from '../../spec/protocol/codec.js';
import type { LifelineServer } from '../server.js';
import { MemoryBroker } from './broker.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { SessionRecord } from './session-record.js';
import type { RecordDelta, SessionStore } from './session-store.js';

const h = new Harness();
afterEach(() => h.cleanup());
const enc = (s: string) => new TextEncoder().encode(s);

class SharedTestStore extends MemorySessionStore {
  override readonly isShared = true;
  readonly calls: string[] = [];
  /** A store across a network: each replay or save write lands this long after it was issued. */
  latencyMs = 0;
  /** Commits wait for this (a store that has not answered yet), when set. */
  held: Promise<void> | undefined;
  /** Commits are refused (the store is away). */
  isDown = false;
  private later<T>(write: () => Promise<T>): Promise<T> {
    return this.latencyMs === 0 ? write() : new Promise((resolve) => setTimeout(resolve, this.latencyMs)).then(write);
  }
  /** Hold every commit from now until the returned function is called. */
  hold(): () => void {
    let release = (): void => {};
    this.held = new Promise((resolve) => (release = resolve));
    return () => {
      this.held = undefined;
      release();
    };
  }
  override save(record: SessionRecord, fence: number): Promise<void> {
    this.calls.push('save');
    return this.later(() => super.save(record, fence));
  }
  override create(record: SessionRecord, nodeId: string): Promise<number> {
    this.calls.push('create');
    return super.create(record, nodeId);
  }
  override commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    if (this.isDown) return Promise.reject(new Error('store unreachable'));
    const frames = delta.frames ?? [];
    if (frames.length > 0) this.calls.push(`append ${frames.length}`);
    if (delta.acked !== undefined) this.calls.push(`trim ${delta.acked}`);
    if (delta.inbound) this.calls.push(`inbound ${delta.inbound.lastProcessed}`);
    if (delta.positions) this.calls.push(`positions ${JSON.stringify(delta.positions)}`);
    const held = this.held;
    if (held) return held.then(() => super.commit(id, fence, delta));
    return this.later(() => super.commit(id, fence, delta));
  }
}

/** Dedupe that answers by promise, as a store across a network does (SEQ-8, MN-5). */
function withAsyncDedupe(store: SharedTestStore): SharedTestStore {
  const base = { has: store.hasMessageId.bind(store), add: store.addMessageId.bind(store) };
  const seam: SessionStore = store;
  seam.hasMessageId = (principal, messageId) => new Promise((resolve) => setTimeout(() => resolve(base.has(principal, messageId)), 2));
  seam.addMessageId = (principal, messageId) => new Promise((resolve) => setTimeout(() => resolve(base.add(principal, messageId)), 2));
  return store;
}

/** A HeartbeatAck came back: any frame the server wrote before it has arrived too (one socket, in order). */
async function roundTrip(c: RawClient): Promise<void> {
  const n = c.bodies('heartbeatAck').length;
  c.heartbeat();
  await c.waitForCount('heartbeatAck', n + 1);
}

describe('a shared session store', () => {
  test('SEQ-7 the store follows the replay: appends and trims written behind, batched per tick; detach saves, end forgets with its reason', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    for (let i = 1; i <= 4; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 4);
    await vi.waitFor(async () => expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n, 4n]));
    expect(store.calls.filter((x) => x.startsWith('append')).length).toBeLessThan(4); // batched, not one write per frame
    c.ack(3n);
    await vi.waitFor(async () => expect((await store.load(id))?.outbound).toMatchObject({ acked: 3n, next: 5n }));
    expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([4n]);
    c.destroy();
    await vi.waitFor(async () => expect((await store.load(id))?.expiresAtMs).toBeDefined()); // RS-1: saved at detach with its TTL
    srv.session(id)?.end();
    await vi.waitFor(async () => expect(await store.load(id)).toBeUndefined());
    expect(await store.endedReason(id)).toBe('ended');
  });

  test('SEQ-7 close() leaves a shared store current: the replay written behind is in the store when close resolves', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    store.latencyMs = 30;
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await srv.close(); // no wait after it: the store has the replay already
    expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n]);
  });

  test('DR-4 drain() leaves a shared store current: the detach saves are in the store when drain resolves', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    await srv.publish('feed', { payload: enc('m1') });
    await c.waitForCount('message', 1);
    store.latencyMs = 30;
    await srv.drain({ deadlineMs: 100, spreadMs: 10 });
    const record = await store.load(id);
    expect(record?.expiresAtMs).toBeDefined(); // RS-1: saved at its detach, with its TTL
    expect(record?.machine?.value).toBe('detached');
    expect(record?.outbound.replay.map((f) => f.seq)).toEqual([1n]);
  });
});

/** A new session on `srv` whose record is in the store (its fence known: commits may flow). */
async function stored(srv: LifelineServer, store: SharedTestStore, hello: Parameters<Harness['session']>[1] = {}): Promise<{ c: RawClient; id: string }> {
  const c = await h.session(srv, hello);
  const id = c.bodies('welcome')[0]?.sessionId as string;
  await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
  return { c, id };
}

const text = (b: { payload: Uint8Array }) => new TextDecoder().decode(b.payload);

describe('write-ahead to a shared store (MN-1)', () => {
  test('MN-1 no frame reaches the socket before the store holds it: held commits, nothing seen; released, all in order', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const { c, id } = await stored(srv, store, { channels: ['feed'] });
    const release = store.hold();
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await vi.waitFor(() => expect(store.calls.some((x) => x.startsWith('append'))).toBe(true)); // the commit is issued, and held
    await roundTrip(c); // a HeartbeatAck is not held (a control body) and comes after anything written before it
    expect(c.bodies('message')).toEqual([]);
    expect((await store.load(id))?.outbound.replay).toEqual([]);
    release();
    const got = await c.waitForCount('message', 3);
    expect(got.map((m) => [m.seq, text(m)])).toEqual([
      [1n, 'm1'],
      [2n, 'm2'],
      [3n, 'm3'],
    ]);
    expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n]);
  });

  test('MN-1 SEQ-5 no Ack before the store holds the inbound cursor at its seq', async () => {
    const store = new SharedTestStore();
    const got: string[] = [];
    const srv = await h.server({ sessionStore: store, onMessage: (m) => void got.push(text(m)) });
    const { c, id } = await stored(srv, store);
    const release = store.hold();
    c.message({ payload: enc('hello') });
    await vi.waitFor(() => expect(store.calls).toContain('inbound 1')); // the ack is due, its cursor's commit held
    expect(got).toEqual(['hello']); // the application has it
    await roundTrip(c);
    expect(c.bodies('ack')).toEqual([]);
    release();
    const ack = await c.waitForBody('ack');
    expect(ack.seq).toBe(1n);
    expect((await store.load(id))?.inbound.lastProcessed).toBe(1n);
  });

  test('MN-6 store away: the session stays up (heartbeats answered), memory stays bounded by the window, nothing is lost; frames flow when it returns', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const { c, id } = await stored(srv, store, { channels: ['feed'], receiveWindow: 4 });
    store.isDown = true;
    for (let i = 1; i <= 10; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    for (let k = 0; k < 3; k++) await roundTrip(c); // alive: control bodies need nothing from the store
    const s = srv.session(id);
    expect(s?.stats().inFlight).toBe(4); // BP-1: waiting for the store in the OutboundLog, no more than the window
    expect(s?.stats().queueLength).toBe(6);
    expect(c.bodies('message')).toEqual([]);
    await new Promise((r) => setTimeout(r, 120)); // a few retries (50 ms doubling) while it is away
    expect(s?.stats().inFlight).toBe(4);
    store.isDown = false;
    await c.waitForCount('message', 4, 5_000);
    c.ack(4n);
    await c.waitForCount('message', 8, 5_000);
    c.ack(8n);
    const all = await c.waitForCount('message', 10, 5_000);
    expect(all.map((m) => [m.seq, text(m)])).toEqual(Array.from({ length: 10 }, (_, i) => [BigInt(i + 1), `m${i + 1}`]));
  });

  test('MN-5 SEQ-8 a message id sent to two servers sharing one store reaches the application once', async () => {
    const store = withAsyncDedupe(new SharedTestStore());
    const got: string[] = [];
    const onMessage = (m: { payload: Uint8Array }) => void got.push(text(m));
    const a = await h.server({ sessionStore: store, onMessage });
    const b = await h.server({ sessionStore: store, onMessage });
    const ca = (await stored(a, store)).c;
    ca.message({ payload: enc('once'), messageId: 'mid-1' });
    ca.message({ payload: enc('two'), messageId: 'mid-2' });
    await ca.waitForBody('ack', undefined, (x) => x.seq === 2n);
    const cb = (await stored(b, store)).c;
    cb.message({ payload: enc('once'), messageId: 'mid-1' }); // the client resent it to another node (a NEW session)
    cb.message({ payload: enc('three'), messageId: 'mid-3' });
    await cb.waitForBody('ack', undefined, (x) => x.seq === 2n); // acked: processed once, held in order behind the async answer
    expect(got).toEqual(['once', 'two', 'three']);
  });

  test('MN-5 BP-17 messages held behind a dedupe answer are bounded by the window the server granted', async () => {
    const store = new SharedTestStore();
    let release = (): void => {};
    const answered = new Promise<void>((r) => (release = r));
    const seam: SessionStore = store;
    const has = store.hasMessageId.bind(store);
    seam.hasMessageId = (principal, messageId) => answered.then(() => has(principal, messageId));
    const got: string[] = [];
    const srv = await h.server({ sessionStore: store, receiveWindow: 4, onMessage: (m) => void got.push(text(m)) });
    const { c } = await stored(srv, store);
    for (let i = 1; i <= 4; i++) c.message({ payload: enc(`m${i}`), messageId: `id-${i}` });
    await roundTrip(c);
    expect(got).toEqual([]); // all four held behind the first answer (SEQ-10 order)
    c.message({ payload: enc('m5'), messageId: 'id-5' }); // beyond the window: refused, never held (BP-17)
    const closed = await c.waitForClose();
    expect(closed.code).toBe(1002);
    release();
  });

  test('MN-2 a redelivered publication (same position) is dropped; its position goes into the commit and the record', async () => {
    const store = new SharedTestStore();
    const broker = new MemoryBroker();
    const srv = await h.server({ sessionStore: store, broker });
    const { c, id } = await stored(srv, store, { channels: ['feed'] });
    const pub = (n: number, position: string) => broker.deliverNow({ kind: 'message', channel: 'feed', message: { payload: enc(`m${n}`) }, position });
    expect(pub(1, '10-0')).toBe(1);
    expect(pub(2, '10-1')).toBe(1);
    expect(pub(2, '10-1')).toBe(0); // redelivery (after a broker outage): dropped
    expect(pub(1, '9-5')).toBe(0); // below the last taken: catch-up overlap, dropped
    expect(pub(3, '11-0')).toBe(1);
    const got = await c.waitForCount('message', 3);
    expect(got.map(text)).toEqual(['m1', 'm2', 'm3']);
    expect(store.calls.filter((x) => x.startsWith('positions')).at(-1)).toBe('positions {"feed":"11-0"}'); // committed with its frame
    c.destroy(); // the detach saves the whole record: the channel with its position (SubscriptionRecord.position)
    await vi.waitFor(async () => expect((await store.load(id))?.subscriptions).toEqual([{ channel: 'feed', position: '11-0' }]));
  });
});

describe('MN-1 property: the shared path gives the client exactly what the memory path gives', () => {
  /** Run one script against a server and collect the client's sequenced frames (seq and bytes). */
  async function run(store: MemorySessionStore | undefined, script: readonly Step[]): Promise<string[]> {
    const srv = await h.server(store ? { sessionStore: store } : {});
    const c = await h.session(srv, { channels: ['feed'], receiveWindow: 3 });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    if (store) await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    let published = 0;
    for (const step of script) {
      if (step.kind === 'publish') {
        if (store instanceof SharedTestStore) store.latencyMs = step.latencyMs;
        for (let i = 0; i < step.count; i++) await srv.publish('feed', { payload: enc(`p${published++}`), key: '' });
      } else {
        await roundTrip(c);
        const last = c.lastSeq();
        if (last > 0n) c.ack(last);
      }
    }
    // Drain: ack until all published have arrived (the window is 3).
    for (let k = 0; k < published + 2 && c.bodies('message').length < published; k++) {
      await roundTrip(c);
      const last = c.lastSeq();
      if (last > 0n) c.ack(last);
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.waitForCount('message', published, 5_000);
    const out = c.frames.filter((e) => e.body.case === 'message' || e.body.case === 'snapshot').map((e) => toHex(encode(e)));
    await h.cleanup();
    return out;
  }

  type Step = { readonly kind: 'publish'; readonly count: number; readonly latencyMs: number } | { readonly kind: 'ack' };
  const step = fc.oneof(
    fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 4 }), latencyMs: fc.constantFrom(0, 0, 1, 5) }),
    fc.constant({ kind: 'ack' as const }),
  );

  test('MN-1 SEQ-2 for random publishes, acks and commit latencies: same seqs, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (script) => {
        const memory = await run(undefined, script);
        const shared = await run(new SharedTestStore(), script);
        expect(shared).toEqual(memory);
      }),
      { numRuns: 6 },
    );
  }, 60_000);
});

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
