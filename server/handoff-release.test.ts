/**
 * MN-17's tail across nodes, closed (MN-18): a node resuming a session another node holds attached
 * asks that node to release it and waits for the release while the node's liveness lease is alive;
 * a node whose lease is gone (dead) is not waited for. Each case for the in-process shared store and
 * for Redis (a private redis-server, test/support/redis-stores.ts). Before MN-18 the resuming node
 * waited a fixed bound and claimed: an owner slower than that bound, or one whose socket was
 * half-open (it never saw the close), let a message its application had taken reach the
 * application again; a dead owner cost the whole bound.
 *
 * A node's view of the store is a Proxy: `isCut` (the node is dead to the store: every call fails,
 * no notice reaches it), `slowIdsMs` (its message id writes land that late: a loaded machine, a
 * slow store), deterministically; `isOldRelease` (a node of a release before MN-18, in a rolling
 * upgrade: its store has no lease or release-request methods, so it keeps no lease and hears no request).
 */
import { describe, expect, test, vi } from 'vitest';
import { ResumeOutcome } from '../gen/lifeline/v1/envelope_pb.js';
import type { RawClient } from '../testkit/raw-client.js';
import { isRedisAvailable } from '../test/support/redis.js';
import { useRedisStores } from '../test/support/redis-stores.js';
import { Harness } from '../test/support/server.js';
import { createLifelineMetrics, type LifelineMetrics } from './observability/metrics.js';
import type { LifelineServer } from './server.js';
import { resolveOptions, type LifelineServerOptions } from './options.js';
import { MemoryHub } from './stores/memory-hub.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import type { SessionStore } from './stores/session-store.js';

const h = new Harness();
const openRedis = useRedisStores(h); // its afterEach closes the harness's servers and clients too
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Message ids unique per test: the Redis store's dedupe ids outlive a test (one redis-server per file). */
let run = 0;
const mid = (name: string): string => `${run}-${name}`;

/** What the store of a node of the release before MN-18 lacks: it neither keeps a lease nor hears release requests. */
const OLD_RELEASE_LACKS = new Set(['renewLease', 'leaseState', 'endLease', 'requestRelease', 'watchReleaseRequests']);

/** One node's view of the shared store (see the file's comment). */
class NodeView {
  isCut = false;
  slowIdsMs = 0;
  readonly store: SessionStore;
  /** The node's watches of the store's notices, stopped by kill(). */
  private readonly watches: (() => void)[] = [];
  /** The node's process ends (SIGKILL): cut off, and its store connections close, so it listens for nothing (its lease lives on until its TTL). */
  kill(): void {
    this.isCut = true;
    for (const stop of this.watches.splice(0)) stop();
  }
  constructor(shared: SessionStore, isOldRelease = false) {
    const view = this;
    this.store = new Proxy(shared, {
      get(target, key, receiver) {
        if (isOldRelease && typeof key === 'string' && OLD_RELEASE_LACKS.has(key)) return undefined;
        const v: unknown = Reflect.get(target, key, receiver);
        if (typeof v !== 'function') return v;
        const call = (args: unknown[]): unknown => (v as (...a: unknown[]) => unknown).apply(target, args);
        if (key === 'watchClaims' || key === 'watchReleaseRequests') {
          // A notice reaches a node only while it is not cut off (a dead node hears nothing).
          return (node: string, listener: (...a: unknown[]) => void) => {
            const stop = call([node, (...a: unknown[]) => !view.isCut && listener(...a)]) as () => void;
            view.watches.push(stop);
            return stop;
          };
        }
        return (...args: unknown[]) => {
          if (view.isCut) return Promise.reject(new Error('node killed'));
          if (key === 'addMessageId' && view.slowIdsMs > 0) return sleep(view.slowIdsMs).then(() => call(args));
          return call(args);
        };
      },
    });
  }
}

/** The store each node uses: one shared MemorySessionStore, or one RedisSessionStore per node on one redis-server. */
type Stores = () => Promise<{ readonly a: SessionStore; readonly b: SessionStore }>;
const kinds: [string, Stores][] = [
  [
    'memory',
    () => {
      const s = new MemorySessionStore({ shared: true });
      return Promise.resolve({ a: s, b: s });
    },
  ],
  ['redis', async () => ({ a: await openRedis(), b: await openRedis() })],
];

/** Generous handshake timeout: the waits here are up to half of it (HS-10), well past the old bound. */
const HANDSHAKE_MS = 6000;

async function nodes(stores: Stores, a: LifelineServerOptions, b: LifelineServerOptions, isOldReleaseA = false) {
  run++;
  const { a: storeA, b: storeB } = await stores();
  const viewA = new NodeView(storeA, isOldReleaseA);
  const hub = new MemoryHub();
  const byApp: string[] = [];
  const metricsB = createLifelineMetrics();
  const onMessage = (node: string) => (m: { payload: Uint8Array }) => void byApp.push(`${node}:${dec(m.payload)}`);
  const srvA = await h.server({ handshakeTimeoutMs: HANDSHAKE_MS, onMessage: onMessage('a'), ...a, sessionStore: viewA.store, broker: hub.broker('a') });
  const srvB = await h.server({ handshakeTimeoutMs: HANDSHAKE_MS, onMessage: onMessage('b'), ...b, sessionStore: storeB, broker: hub.broker('b'), metrics: metricsB });
  return { a: srvA, b: srvB, viewA, storeB, byApp, metricsB };
}

const idOf = (c: RawClient): string => c.bodies('welcome')[0]?.sessionId as string;

/** The client resumes on B (its old socket as the test left it), resends what B's Welcome does not cover (SEQ-9), then sends m2. */
async function resumeAndResend(id: string, b: LifelineServer): Promise<{ lastClientSeq: bigint }> {
  const c2 = await h.client(b);
  const w = await c2.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] });
  expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
  if (w.lastClientSeq < 1n) c2.message({ seq: 1n, payload: enc('m1'), messageId: mid('m1') });
  c2.message({ seq: 2n, payload: enc('m2'), messageId: mid('m2') });
  await c2.waitForBody('ack', undefined, (ack) => ack.seq === 2n);
  return { lastClientSeq: w.lastClientSeq };
}

async function claimsBy(m: LifelineMetrics): Promise<Record<string, number>> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'lifeline_handoff_claims_total');
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.cause), v.value]));
}

describe.each(kinds)('MN-17 MN-18 the handoff across nodes: release on request, node leases (%s store)', (kind, stores) => {
  const skip = kind === 'redis' && !isRedisAvailable();

  test('MN-17 MN-18 A slower than B\'s old bound (its id writes late): B waits for A\'s release while A\'s lease lives, and m1 reaches the application once', async (ctx) => {
    if (skip) return ctx.skip();
    // B's handoffWaitMs (200) is the old fixed bound; A needs ~2 × 400 ms to write m1's id and release.
    const { a, b, viewA, byApp, metricsB } = await nodes(stores, { handoffWaitMs: 3000 }, { handoffWaitMs: 200 });
    const c = await h.session(a, { channels: ['feed'] });
    viewA.slowIdsMs = 400;
    c.message({ payload: enc('m1'), messageId: mid('m1') });
    await vi.waitFor(() => expect(byApp).toEqual(['a:m1']));
    c.destroy(); // A sees the close and starts its release
    const { lastClientSeq } = await resumeAndResend(idOf(c), b);
    expect(byApp).toEqual(['a:m1', 'b:m2']); // once each
    expect(lastClientSeq).toBe(1n); // B resumed from A's released record: m1 is covered, not even resent
    expect(await claimsBy(metricsB)).toEqual({ released: 1 });
  });

  test('MN-18 MN-17 rolling upgrade: A of the release before MN-18 (no lease ever, deaf to requests) is waited for up to B\'s handoffWaitMs, not claimed at once; m1 reaches the application once', async (ctx) => {
    if (skip) return ctx.skip();
    // A needs ~2 × 400 ms to write m1's id and release once it sees the close; B's old MN-17 bound is 2.5 s.
    // Read as dead (no lease, nobody hears the request), A would be claimed at once and m1 delivered again on B.
    const { a, b, viewA, byApp, metricsB } = await nodes(stores, { handoffWaitMs: 3000 }, { handoffWaitMs: 2500, releaseWaitMs: 100 }, true);
    const c = await h.session(a, { channels: ['feed'] });
    viewA.slowIdsMs = 400;
    c.message({ payload: enc('m1'), messageId: mid('m1') });
    await vi.waitFor(() => expect(byApp).toEqual(['a:m1']));
    c.destroy(); // A sees the close and starts its release (on its own: it hears no request)
    const { lastClientSeq } = await resumeAndResend(idOf(c), b);
    expect(byApp).toEqual(['a:m1', 'b:m2']); // once each
    expect(lastClientSeq).toBe(1n); // B resumed from A's released record
    expect(await claimsBy(metricsB)).toEqual({ released: 1 });
  });

  test('MN-17 RS-7 A half-open (it never saw the close) while its application holds m1: B asks, A closes the old socket and releases; m1 reaches the application once', async (ctx) => {
    if (skip) return ctx.skip();
    let finish: () => void = () => undefined;
    const held = new Promise<void>((r) => (finish = r));
    const byApp: string[] = [];
    const slowHandler = (m: { payload: Uint8Array }) => {
      byApp.push(`a:${dec(m.payload)}`);
      setTimeout(finish, 500); // the application works on m1 for 500 ms (past the old bound, 200)
      return held;
    };
    // A's lease is short (1 s) but renewed (every 100 ms): B must find it alive 2 s after A started.
    const optsA = { handoffWaitMs: 3000, onMessage: slowHandler, nodeLeaseTtlMs: 1000, nodeLeaseRenewMs: 100 };
    const { a, b, metricsB } = await nodes(stores, optsA, { handoffWaitMs: 200, onMessage: (m) => void byApp.push(`b:${dec(m.payload)}`) });
    const closedOnA: { code: number; byPeer: boolean }[] = [];
    a.on('sessionClosed', (_s, info) => closedOnA.push(info));
    const c = await h.session(a, { channels: ['feed'] });
    await sleep(2000); // MN-18: twice A's lease TTL
    c.message({ payload: enc('m1'), messageId: mid('m1') });
    await vi.waitFor(() => expect(byApp).toEqual(['a:m1']));
    // The client is on B now; its socket to A stays open as far as A can tell (no close, no FIN).
    const { lastClientSeq } = await resumeAndResend(idOf(c), b);
    expect(byApp).toEqual(['a:m1', 'b:m2']);
    expect(lastClientSeq).toBe(1n);
    expect(await c.waitForClose()).toMatchObject({ code: 4002, reason: 'RS-7: resumed on another node' }); // RS-7: A closed the old socket on B's request, SESSION_TAKEN_OVER
    expect(closedOnA).toEqual([{ code: 4002, byPeer: false }]); // reported as A's own close, as a takeover's (not the peer's 1006)
    expect(a.session(idOf(c))).toBeUndefined(); // and let go of the session once B claimed it (MN-4)
    expect(await claimsBy(metricsB)).toEqual({ released: 1 });
  });

  test('MN-18 MN-7 A dead (its lease ran out): B claims at once instead of waiting its bound', async (ctx) => {
    if (skip) return ctx.skip();
    // B's bounds are long (2.5 s, as the old fixed wait was); A's lease is short so that it lapses soon.
    const { a, b, viewA, metricsB } = await nodes(stores, { nodeLeaseTtlMs: 300, nodeLeaseRenewMs: 100 }, { handoffWaitMs: 2500, releaseWaitMs: 2500 });
    const c = await h.session(a, { channels: ['feed'] });
    await a.publish('feed', { payload: enc('p1') });
    await c.waitForCount('message', 1);
    viewA.isCut = true; // SIGKILL of node A: nothing more of it reaches the store, its socket just drops
    c.terminate();
    await sleep(600); // past A's lease (300 ms)
    const c2 = await h.client(b);
    const t0 = performance.now();
    const w = await c2.handshake({ sessionId: idOf(c), lastServerSeq: 1n, channels: ['feed'] });
    const waited = performance.now() - t0;
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(waited).toBeLessThan(1500); // the bound was 2500: not waited
    expect(await claimsBy(metricsB)).toEqual({ lease_expired: 1 });
    viewA.isCut = false; // the test's end: A's close may flush (fenced out now) instead of waiting
  });

  test('MN-18 MN-7 A\'s process gone (it listens for release requests no more; its lease still alive): B claims at once', async (ctx) => {
    if (skip) return ctx.skip();
    const { a, b, viewA, metricsB } = await nodes(stores, { nodeLeaseTtlMs: 10_000 }, { handoffWaitMs: 2500, releaseWaitMs: 2500 });
    const c = await h.session(a, { channels: ['feed'] });
    viewA.kill();
    c.terminate();
    const c2 = await h.client(b);
    const t0 = performance.now();
    const w = await c2.handshake({ sessionId: idOf(c), lastServerSeq: 0n, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(performance.now() - t0).toBeLessThan(1500); // the bound was 2500, A's lease 10 s: neither waited
    expect(await claimsBy(metricsB)).toEqual({ not_listening: 1 });
    viewA.isCut = false;
  });

  test('MN-18 a live node that does not release (deaf to requests, its socket attached) is claimed after releaseWaitMs, stated as the bound', async (ctx) => {
    if (skip) return ctx.skip();
    const { a, b, metricsB } = await nodes(stores, {}, { releaseWaitMs: 300 });
    a.registry.lifecycle.releaseRequested = () => undefined; // A hears nothing of the request
    const c = await h.session(a, { channels: ['feed'] });
    const c2 = await h.client(b);
    const t0 = performance.now();
    const w = await c2.handshake({ sessionId: idOf(c), lastServerSeq: 0n, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
    expect(await claimsBy(metricsB)).toEqual({ bound: 1 });
    await c.waitForClose(); // MN-4: the claim closes A's socket anyway
  });
});

test('MN-18 HS-10 the release wait is at most half the handshake timeout (the Hello waits meanwhile); a lease is renewed at least three times per TTL', () => {
  expect(resolveOptions({})).toMatchObject({ releaseWaitMs: 2500, nodeLeaseTtlMs: 3000, nodeLeaseRenewMs: 1000 });
  expect(resolveOptions({ handshakeTimeoutMs: 2000, releaseWaitMs: 5000 }).releaseWaitMs).toBe(1000);
  expect(resolveOptions({ handshakeTimeoutMs: 2000 }).releaseWaitMs).toBe(1000);
  expect(resolveOptions({ releaseWaitMs: 0 }).releaseWaitMs).toBe(0);
  expect(resolveOptions({ nodeLeaseTtlMs: 600, nodeLeaseRenewMs: 1000 }).nodeLeaseRenewMs).toBe(200);
  expect(() => resolveOptions({ nodeLeaseTtlMs: 0 })).toThrow(RangeError);
});
