/**
 * Several nodes (issue 14), what review found missing: a node lost right after a Subscribe (MN-15:
 * the channel list is in the write-ahead), and a node that missed a claim notice serving its older
 * copy (MN-16). Nodes share one MemorySessionStore({ shared: true }) and one MemoryHub; a node's
 * view of the store can be cut (a SIGKILL: nothing more reaches the store from it) or made deaf to
 * claim notices (cut off from the store's pub/sub while another node takes a session over).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome } from '../gen/lifeline/v1/envelope_pb.js';
import { SUBSCRIBED_CAPABILITY } from '../spec/protocol/defaults.js';
import type { RawClient } from '../testkit/raw-client.js';
import { Harness } from '../test/support/server.js';
import type { LifelineServer } from './server.js';
import { MemoryHub } from './stores/memory-hub.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import type { ClaimLost, SessionStore } from './stores/session-store.js';

const h = new Harness();
afterEach(() => h.cleanup());
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** One node's view of the shared store: `isCut` (the node is dead to it: every call fails), `isDeaf` (claim notices lost). */
class NodeView {
  isCut = false;
  isDeaf = false;
  readonly store: SessionStore;
  constructor(shared: MemorySessionStore) {
    const view = this;
    this.store = new Proxy(shared, {
      get(target, key, receiver) {
        const v: unknown = Reflect.get(target, key, receiver);
        if (key === 'watchClaims') {
          return (node: string, onLost: ClaimLost) => target.watchClaims(node, (id, fence, by) => !view.isDeaf && !view.isCut && onLost(id, fence, by));
        }
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => (view.isCut ? Promise.reject(new Error('node killed')) : (v as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  }
}

async function twoNodes() {
  const store = new MemorySessionStore({ shared: true });
  const hub = new MemoryHub();
  const viewA = new NodeView(store);
  const a = await h.server({ sessionStore: viewA.store, broker: hub.broker('na') });
  const b = await h.server({ sessionStore: store, broker: hub.broker('nb') });
  return { store, viewA, a, b };
}

const idOf = (c: RawClient): string => c.bodies('welcome')[0]?.sessionId as string;
const received = (c: RawClient, channel: string): [bigint, string][] =>
  c.bodies('message').flatMap((m) => (m.channel === channel ? [[m.seq, dec(m.payload)] as [bigint, string]] : []));

describe('several nodes: what a lost node or a missed claim notice must not cost', () => {
  test('MN-15 a Subscribed is written only once the store holds the channel; a node killed right after it loses no channel', async () => {
    const { store, viewA, a, b } = await twoNodes();
    const c = await h.session(a, { channels: ['feed'], capabilities: [SUBSCRIBED_CAPABILITY] });
    const id = idOf(c);
    c.subscribe(['news']);
    await c.waitForBody('subscribed');
    // MN-15: at the moment the client is told, the store has the list (the Hello's channel too).
    expect((await store.load(id))?.subscriptions.map((s) => s.channel)).toEqual(['feed', 'news']);

    // SIGKILL of node A: nothing more of it reaches the store (no save at detach), its socket just drops.
    viewA.isCut = true;
    c.terminate();
    const c2 = await h.client(b);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: c.lastSeq(), channels: ['feed', 'news'], capabilities: [SUBSCRIBED_CAPABILITY] });
    expect(w.sessionId).toBe(id);
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect([...(b.registry.liveSession(id)?.subscriptions ?? [])]).toEqual(['feed', 'news']);
    await b.publish('news', { payload: enc('n1') });
    await c2.waitForCount('message', 1);
    expect(received(c2, 'news')).toEqual([[1n, 'n1']]);
  });

  test('MN-2 a channel joined with nothing taken yet starts at the broker\'s tail: what is published while the session moves after a node loss arrives', async () => {
    const { store, viewA, a, b } = await twoNodes();
    await b.publish('news', { payload: enc('before') }); // history the session must not get: published before it joined
    const c = await h.session(a, { channels: ['feed'], capabilities: [SUBSCRIBED_CAPABILITY] });
    const id = idOf(c);
    c.subscribe(['news']);
    await c.waitForBody('subscribed');
    expect((await store.load(id))?.subscriptions.find((s) => s.channel === 'news')?.position).toBeDefined();
    viewA.isCut = true; // SIGKILL of node A
    c.terminate();
    await b.publish('news', { payload: enc('while-moving') }); // no node has a subscriber of news now
    const c2 = await h.client(b);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: c.lastSeq(), channels: ['feed', 'news'], capabilities: [SUBSCRIBED_CAPABILITY] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    await c2.waitForCount('message', 1);
    expect(received(c2, 'news').map(([, p]) => p)).toEqual(['while-moving']);
    viewA.isCut = false; // the test's end: A's close may flush (its writes are fenced out now) instead of waiting out its drain deadline
  });

  test('MN-15 an Unsubscribe reaches the store too: the node that continues the session does not join the channel again', async () => {
    const { store, viewA, a, b } = await twoNodes();
    const c = await h.session(a, { channels: ['feed', 'news'], capabilities: [SUBSCRIBED_CAPABILITY] });
    const id = idOf(c);
    await vi.waitFor(async () => expect((await store.load(id))?.subscriptions.map((s) => s.channel)).toEqual(['feed', 'news']));
    c.unsubscribe(['news']);
    await vi.waitFor(async () => expect((await store.load(id))?.subscriptions.map((s) => s.channel)).toEqual(['feed']));
    viewA.isCut = true;
    c.terminate();
    // Revived on B from the record alone (before any Hello restates the channels, RS-9).
    const c2 = await h.client(b);
    c2.hello({ protocolVersion: 1, sessionId: id, lastServerSeq: c.lastSeq(), channels: ['feed'] });
    await c2.waitForBody('welcome');
    expect([...(b.registry.liveSession(id)?.subscriptions ?? [])]).toEqual(['feed']);
  });

  test('MN-16 a node that missed a claim notice does not serve its older copy: the client comes back to it and is RESUMED from the store', async () => {
    const { viewA, a, b } = await twoNodes();
    const moved: string[] = [];
    a.on('sessionMoved', (s) => moved.push(s.id));
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    for (let i = 1; i <= 2; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 2);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    const stale = a.registry.liveSession(id);

    // B takes the session over; A does not hear it (cut off from the store's notices).
    viewA.isDeaf = true;
    const c2 = await h.client(b);
    const w2 = await c2.handshake({ sessionId: id, lastServerSeq: 2n, channels: ['feed'] });
    expect(w2.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    for (let i = 3; i <= 4; i++) await b.publish('feed', { payload: enc(`m${i}`) });
    await c2.waitForCount('message', 2);
    expect(received(c2, 'feed')).toEqual([[3n, 'm3'], [4n, 'm4']]);
    expect(a.session(id)?.state).toBe('detached'); // A still holds its copy, two frames behind
    c2.destroy();
    await vi.waitFor(() => expect(b.session(id)?.state).toBe('detached'));
    await b.registry.lifecycle.flush();

    // Back to A, having seen seq 4: the store says B claimed it since, so A revives the record.
    viewA.isDeaf = false;
    const c3 = await h.client(a);
    const w3 = await c3.handshake({ sessionId: id, lastServerSeq: 4n, channels: ['feed'] });
    expect(w3.sessionId).toBe(id);
    expect(w3.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, replayed: 0 });
    expect(moved).toEqual([id]);
    expect(a.registry.liveSession(id)).not.toBe(stale);
    await a.publish('feed', { payload: enc('m5') });
    await c3.waitForCount('message', 1);
    expect(received(c3, 'feed')).toEqual([[5n, 'm5']]);
    await vi.waitFor(() => expect(b.session(id)).toBeUndefined()); // MN-4: B let go of it
  });

  test('MN-16 a detached session still this node\'s own is resumed from its copy (the store agrees), and so it is while the store is away', async () => {
    const { viewA, a } = await twoNodes();
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    const mine = a.registry.liveSession(id);
    const c2 = await h.client(a);
    expect((await c2.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] })).resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(a.registry.liveSession(id)).toBe(mine);
    c2.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    viewA.isCut = true; // the store away: the local copy is all there is
    const c3 = await h.client(a);
    expect((await c3.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] })).resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(a.registry.liveSession(id)).toBe(mine);
  });

  /**
   * MN-17 MN-5 under load (issue 14's duplicate, e2e drain at load 15–25): node A's store round
   * trips for the dedupe ids take longer than its handoff bound. A delay on A's view of the store
   * stands for the load, deterministically.
   */
  async function slowIdsOnA(slow: 'hasMessageId' | 'addMessageId') {
    const store = new MemorySessionStore({ shared: true });
    const hub = new MemoryHub();
    const viewA = new Proxy(store, {
      get(target, key, receiver) {
        const v: unknown = Reflect.get(target, key, receiver);
        if (key !== slow || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        const call = (args: unknown[]): unknown => (v as (...a: unknown[]) => unknown).apply(target, args);
        const later = <T>(f: () => T): Promise<T> => new Promise((resolve) => setTimeout(resolve, 300)).then(f);
        // A lookup reads the store at once and its answer is late; a write lands late.
        return (...args: unknown[]) => (slow === 'hasMessageId' ? ((r) => later(() => r))(call(args)) : later(() => call(args)));
      },
    });
    const byApp: string[] = [];
    const a = await h.server({ sessionStore: viewA, broker: hub.broker('a'), handoffWaitMs: 50, onMessage: (m) => void byApp.push(`a:${dec(m.payload)}`) });
    const b = await h.server({ sessionStore: store, broker: hub.broker('b'), handoffWaitMs: 2_000, onMessage: (m) => void byApp.push(`b:${dec(m.payload)}`) });
    return { a, b, byApp };
  }

  /** The client moves from A to B with m1 unacknowledged, resends what B's Welcome does not cover (SEQ-9), then sends m2. */
  async function moveAndResend(c: RawClient, b: LifelineServer): Promise<void> {
    const id = idOf(c);
    c.destroy();
    const c2 = await h.client(b);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    if (w.lastClientSeq < 1n) c2.message({ seq: 1n, payload: enc('m1'), messageId: 'm1' });
    c2.message({ seq: 2n, payload: enc('m2'), messageId: 'm2' });
    await c2.waitForBody('ack', undefined, (ack) => ack.seq === 2n);
  }

  test('MN-17 MN-5 a message A\'s application got, whose id write outlasts A\'s handoff bound, is not delivered again on B: A stores the ids it handed over before it releases', async () => {
    const { a, b, byApp } = await slowIdsOnA('addMessageId');
    const c = await h.session(a, { channels: ['feed'] });
    c.message({ payload: enc('m1'), messageId: 'm1' });
    await vi.waitFor(() => expect(byApp).toEqual(['a:m1'])); // its id write is on its way (300 ms, past the 50 ms bound)
    await moveAndResend(c, b);
    expect(byApp).toEqual(['a:m1', 'b:m2']); // once each
  });

  test('MN-17 MN-5 a message still waiting for its dedupe answer on A when the client moves is held back there: it reaches the application once, on B', async () => {
    const { a, b, byApp } = await slowIdsOnA('hasMessageId');
    const c = await h.session(a, { channels: ['feed'] });
    const asked = vi.spyOn(a.registry.liveSession(idOf(c)) as { handleClientMessage(m: unknown): unknown }, 'handleClientMessage');
    c.message({ payload: enc('m1'), messageId: 'm1' });
    await vi.waitFor(() => expect(asked).toHaveBeenCalledTimes(1)); // A asks the store (300 ms)
    await moveAndResend(c, b);
    await new Promise((r) => setTimeout(r, 400)); // A's answer has come by now
    expect(byApp).toEqual(['b:m1', 'b:m2']);
  });
});
