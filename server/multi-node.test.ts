/**
 * Several nodes on one shared store and one broker (issue 14): two or three LifelineServers in one
 * process on one MemorySessionStore({ shared: true }) and one MemoryHub, the in-process doubles of
 * Redis. Resume on another node (MN-3), catch-up of what was published meanwhile (MN-2), takeover
 * across nodes (MN-4, RS-7), a drain moving every client (DR-*, MN-3), the store away (MN-6), and
 * frames pipelined behind a Hello the store takes time to decide (HS-8).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { RawClient } from '../testkit/raw-client.js';
import { Harness, httpUrl } from '../test/support/server.js';
import type { LifelineServerOptions } from './options.js';
import type { LifelineServer } from './server.js';
import { HealthFlag } from './stores/health-flag.js';
import { MemoryHub } from './stores/memory-hub.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import type { Publication, TRIMMED } from './stores/broker.js';
import type { SessionRecord } from './stores/session-record.js';

const h = new Harness();
afterEach(() => h.cleanup());
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A shared store with a health flag (MN-12, MN-14) and a latency on the calls a cross-node Hello makes. */
class SlowSharedStore extends MemorySessionStore {
  readonly health = new HealthFlag(true);
  latencyMs = 0;
  constructor() {
    super({ shared: true });
  }
  private later<T>(v: () => Promise<T>): Promise<T> {
    if (!this.health.isReady()) return Promise.reject(new Error('store away'));
    if (this.latencyMs === 0) return v();
    return new Promise((resolve) => setTimeout(resolve, this.latencyMs)).then(v);
  }
  override load(id: string): Promise<SessionRecord | undefined> {
    return this.later(() => super.load(id));
  }
  override claim(id: string, nodeId: string): Promise<number | undefined> {
    return this.later(() => super.claim(id, nodeId));
  }
}

/** Nodes on one store and one hub: each its own registry, broker connection and node id. */
async function cluster(n: number, opts: LifelineServerOptions = {}) {
  const store = new SlowSharedStore();
  const hub = new MemoryHub();
  const nodes: LifelineServer[] = [];
  for (let i = 0; i < n; i++) nodes.push(await h.server({ sessionStore: store, broker: hub.broker(`n${i}`), dedupeMessageIds: true, ...opts }));
  return { store, hub, nodes };
}

/** Payloads of the Messages a client received on `channel`, with their seqs. */
function received(c: RawClient, channel = 'feed'): [bigint, string][] {
  return c.bodies('message').flatMap((m) => (m.channel === channel ? [[m.seq, dec(m.payload)] as [bigint, string]] : []));
}

/** The session's id from a client's first Welcome. */
const idOf = (c: RawClient): string => c.bodies('welcome')[0]?.sessionId as string;

/** MN-2: the store holds, with the session's frames, the position of the last publication it took. */
async function expectStoredPosition(store: MemorySessionStore, id: string, channel: string, position: string): Promise<void> {
  await vi.waitFor(async () => expect((await store.load(id))?.subscriptions).toEqual([{ channel, position }]));
}

describe('several nodes on one shared store (issue 14)', () => {
  test('MN-3 RS-2 SEQ-9 a session dropped from node A resumes on node B: RESUMED with exactly the missed frames, seqs continue both ways', async () => {
    const { nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const moved: string[] = [];
    const ended: string[] = [];
    a.on('sessionMoved', (s) => moved.push(s.id));
    a.on('sessionEnded', (s) => ended.push(s.id));
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    c.message({ payload: enc('up1') });
    c.message({ payload: enc('up2') });
    for (let i = 1; i <= 5; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 5);
    c.ack(2n);
    await vi.waitFor(() => expect(a.session(id)?.stats()).toMatchObject({ lastAckedSeq: 2n, lastClientSeq: 2n }));
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();

    const c2 = await h.client(b);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: 3n, channels: ['feed'] });
    expect(w.sessionId).toBe(id);
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 4n, replayed: 2 }); // RS-5
    expect(w.lastClientSeq).toBe(2n); // SEQ-9
    await c2.waitForCount('message', 2);
    expect(received(c2)).toEqual([[4n, 'm4'], [5n, 'm5']]);
    // MN-4: node A let it go without ending it; node B serves it, and the stream goes on.
    await vi.waitFor(() => expect(a.session(id)).toBeUndefined());
    expect(moved).toEqual([id]);
    expect(ended).toEqual([]);
    await b.publish('feed', { payload: enc('m6') });
    await c2.waitForCount('message', 3);
    expect(received(c2).at(-1)).toEqual([6n, 'm6']);
    c2.message({ seq: 3n, payload: enc('up3') });
    await c2.waitForBody('ack', undefined, (ack) => ack.seq === 3n);
  });

  test('MN-2 publications made while the session moved reach it once, in order: catch-up from its position, then live, the overlap dropped', async () => {
    const { store, nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    for (let i = 1; i <= 3; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 3);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    await expectStoredPosition(store, id, 'feed', '0-3'); // m3's position, committed with seq 3 (MN-1)
    // Published while the client is away: queued on A (detached), never sequenced, never committed.
    await a.publish('feed', { payload: enc('m4') });
    await b.publish('feed', { payload: enc('m5') });

    // B reads the channel's history while one more is published: held live, then dropped as overlap.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const since = b.broker.since?.bind(b.broker);
    if (!since) throw new Error('the hub broker has since');
    (b.broker as { since: typeof since }).since = async (ch: string, pos: string): Promise<readonly Publication[] | typeof TRIMMED> => {
      await gate;
      return since(ch, pos);
    };
    const c2 = await h.client(b);
    c2.hello({ protocolVersion: 1, sessionId: id, lastServerSeq: 3n, channels: ['feed'] });
    await vi.waitFor(() => expect(b.registry.catchUps.holding.size).toBe(1));
    await a.publish('feed', { payload: enc('m6') }); // live on B during the catch-up
    release();
    const w = await c2.waitForBody('welcome');
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, replayed: 0 });
    await c2.waitForCount('message', 3);
    await b.publish('feed', { payload: enc('m7') });
    await c2.waitForCount('message', 4);
    expect(received(c2)).toEqual([[4n, 'm4'], [5n, 'm5'], [6n, 'm6'], [7n, 'm7']]);
  });

  test('MN-10 a channel whose history after the position was trimmed loses continuity: the next Message says dropped_before', async () => {
    const { store, hub, nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    await a.publish('feed', { payload: enc('m1') });
    await c.waitForCount('message', 1);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    await expectStoredPosition(store, id, 'feed', '0-1');
    for (let i = 2; i <= 4; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    hub.trim('feed', 1); // m2, m3 gone from the history
    const c2 = await h.client(b);
    await c2.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    await b.publish('feed', { payload: enc('m5') });
    const m = await c2.waitForBody('message');
    expect(dec(m.payload)).toBe('m5');
    expect(m.droppedBefore).toBeGreaterThanOrEqual(1); // BP-10: the loss is said, not hidden
  });

  test('MN-4 RS-7 a resume on node B while node A still holds the socket: A closes it 4002 and drops its copy; B serves the session', async () => {
    const { nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const ended: string[] = [];
    a.on('sessionEnded', (s) => ended.push(s.id));
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    for (let i = 1; i <= 3; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 3);
    await a.registry.lifecycle.flush();
    const c2 = await h.client(b);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, fromSeq: 2n, replayed: 2 });
    expect((await c.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    expect(a.session(id)).toBeUndefined();
    expect(ended).toEqual([]); // it moved, it did not end
    await b.publish('feed', { payload: enc('m4') });
    await c2.waitForCount('message', 3);
    expect(received(c2)).toEqual([[2n, 'm2'], [3n, 'm3'], [4n, 'm4']]);
    expect(b.session(id)?.state).toBe('active');
  });

  test('MN-4 two Hellos racing for one session on two nodes: fencing decides, the loser closes 4002', async () => {
    const { store, nodes } = await cluster(3);
    const [a, b, d] = nodes as [LifelineServer, LifelineServer, LifelineServer];
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    store.latencyMs = 20;
    const [x, y] = await Promise.all([h.client(b), h.client(d)]);
    x.hello({ protocolVersion: 1, sessionId: id, channels: ['feed'] });
    y.hello({ protocolVersion: 1, sessionId: id, channels: ['feed'] });
    await Promise.all([x.waitForBody('welcome'), y.waitForBody('welcome')]);
    // One claim is newer: its node keeps the session; the other node hears of it and lets go.
    const loser = await Promise.race([x.waitForClose().then(() => x), y.waitForClose().then(() => y)]);
    expect(loser.closeFrameCode() ?? (await loser.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    const [winnerNode, loserNode] = loser === x ? [d, b] : [b, d];
    await vi.waitFor(() => expect(loserNode.session(id)).toBeUndefined());
    expect(winnerNode.session(id)?.state).toBe('active');
    const stored = await store.load(id);
    expect(stored?.owner?.nodeId).toBe(winnerNode.nodeId);
  });

  test('MN-11 MN-3 MN-5 DR-4 a drain of node A moves every client to node B: RESUMED, nothing lost or duplicated either way, with and without message ids', async () => {
    const { nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const byApp = new Map<string, string[]>(); // session id → client payloads the application got, on any node
    for (const srv of [a, b]) srv.on('message', (s, m) => byApp.set(s.id, [...(byApp.get(s.id) ?? []), dec(m.payload)]));
    const clients = await Promise.all(Array.from({ length: 4 }, () => h.session(a, { channels: ['feed'] })));
    for (const [i, c] of clients.entries()) {
      c.message({ payload: enc(`c${i}-1`), messageId: `c${i}-1` });
      c.message({ payload: enc(`c${i}-2`) });
    }
    for (let i = 1; i <= 3; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await Promise.all(clients.map((c) => c.waitForCount('message', 3)));
    await vi.waitFor(() => expect([...byApp.values()].flat()).toHaveLength(8));
    const drained = a.drain({ deadlineMs: 300, spreadMs: 0 });
    await Promise.all(clients.map((c) => c.waitForClose()));
    await drained;

    for (const [i, c] of clients.entries()) {
      const id = idOf(c);
      const last = c.lastSeq();
      const c2 = h.track(await h.client(b).then((x) => x));
      const w = await c2.handshake({ sessionId: id, lastServerSeq: last, channels: ['feed'] });
      expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
      // The client re-sends what Welcome.last_client_seq does not cover (SEQ-9), both messages again.
      for (const [seq, body, mid] of [[1n, `c${i}-1`, `c${i}-1`], [2n, `c${i}-2`, '']] as const) if (seq > w.lastClientSeq) c2.message({ seq, payload: enc(body), messageId: mid });
      c2.message({ seq: 3n, payload: enc(`c${i}-3`), messageId: `c${i}-3` });
      await c2.waitForBody('ack', undefined, (ack) => ack.seq === 3n);
    }
    await b.publish('feed', { payload: enc('m4') });
    for (const [i, c] of clients.entries()) {
      expect(byApp.get(idOf(c))).toEqual([`c${i}-1`, `c${i}-2`, `c${i}-3`]); // once each, in order
    }
    const seen = await Promise.all(
      clients.map(async (c) => {
        const id = idOf(c);
        const s = b.session(id);
        await vi.waitFor(() => expect(s?.stats().lastSentSeq).toBe(4n));
        return s?.stats().lastSentSeq;
      }),
    );
    expect(seen).toEqual([4n, 4n, 4n, 4n]);
  });

  test('MN-17 MN-5 a message still in the application\'s hands on node A when its client moves to node B reaches the application once: B waits for A\'s release', async () => {
    const store = new SlowSharedStore();
    const hub = new MemoryHub();
    const byApp: string[] = [];
    let releaseA: (() => void) | undefined;
    const a = await h.server({
      sessionStore: store,
      broker: hub.broker('a'),
      onMessage: (m) => {
        byApp.push(`a:${dec(m.payload)}`);
        return new Promise<void>((resolve) => (releaseA = resolve)); // the application on A is still working on it
      },
    });
    const b = await h.server({ sessionStore: store, broker: hub.broker('b'), onMessage: (m) => void byApp.push(`b:${dec(m.payload)}`) });
    const c = await h.session(a, { channels: ['feed'] });
    const id = idOf(c);
    c.message({ payload: enc('m1'), messageId: 'm1' });
    await vi.waitFor(() => expect(byApp).toEqual(['a:m1']));
    c.destroy(); // the client moves while A's application holds m1 (no Ack: SEQ-9, it will resend)
    const c2 = await h.client(b);
    const welcome = c2.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] });
    await new Promise((r) => setTimeout(r, 50));
    releaseA?.(); // A's application finishes: A stores the session detached with m1's id and cursor
    const w = await welcome;
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(w.lastClientSeq).toBe(1n); // B resumed from A's release, not from the record before it
    if (w.lastClientSeq < 1n) c2.message({ seq: 1n, payload: enc('m1'), messageId: 'm1' });
    c2.message({ seq: 2n, payload: enc('m2'), messageId: 'm2' });
    await c2.waitForBody('ack', undefined, (ack) => ack.seq === 2n);
    expect(byApp).toEqual(['a:m1', 'b:m2']); // once each
  });

  test('MN-6 MN-12 MN-14 the store away: /readyz 503, a new Hello and a cross-node resume close 1013; live sessions stay up; back: ready', async () => {
    const { store, nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const live = await h.session(a, { channels: ['feed'] });
    const id = idOf(live);
    expect((await fetch(httpUrl(a, '/readyz'))).status).toBe(200);
    store.health.set(false);
    expect((await fetch(httpUrl(a, '/readyz'))).status).toBe(503);
    const fresh = await h.client(b);
    fresh.hello({ protocolVersion: 1 });
    expect((await fresh.waitForClose()).code).toBe(codeOf('TRY_AGAIN_LATER'));
    const mover = await h.client(b);
    mover.hello({ protocolVersion: 1, sessionId: id });
    expect((await mover.waitForClose()).code).toBe(codeOf('TRY_AGAIN_LATER'));
    // The live session is served meanwhile: heartbeats answered.
    const hb = live.heartbeat();
    await live.waitForBody('heartbeatAck', undefined, (ack) => ack.id === hb);
    store.health.set(true);
    expect((await fetch(httpUrl(a, '/readyz'))).status).toBe(200);
    const again = await h.session(b);
    expect(again.bodies('welcome')[0]?.resume?.outcome).toBe(ResumeOutcome.NEW);
  });

  test('HS-8 MN-3 frames pipelined behind a Hello the shared store takes time to decide wait for it: no 1002, delivered after the Welcome', async () => {
    const { store, nodes } = await cluster(2);
    const [a, b] = nodes as [LifelineServer, LifelineServer];
    const got: string[] = [];
    b.on('message', (_s, m) => got.push(dec(m.payload)));
    const c = await h.session(a);
    const id = idOf(c);
    c.message({ payload: enc('up1') });
    await c.waitForBody('ack', undefined, (ack) => ack.seq === 1n);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    await a.registry.lifecycle.flush();
    store.latencyMs = 30;
    const c2 = await h.client(b);
    c2.hello({ protocolVersion: 1, sessionId: id });
    c2.message({ seq: 2n, payload: enc('up2') }); // behind the Hello, before its Welcome
    c2.heartbeat();
    const w = await c2.waitForBody('welcome');
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    await c2.waitForBody('ack', undefined, (ack) => ack.seq === 2n);
    await c2.waitForBody('heartbeatAck');
    expect(got).toEqual(['up2']);
    expect(c2.isOpen).toBe(true);
  });
});
