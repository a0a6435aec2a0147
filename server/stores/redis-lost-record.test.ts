/**
 * A live session's commit refused by the shared store (issue 14, session 8): the node tells the two
 * causes apart. Another node holds the fence (a takeover this node did not hear of): 4002, "session
 * taken over by another node", `lifeline_sessions_lost_total{cause="taken_over"}` (MN-4, RS-7). No
 * record at all and no end remembered (Redis restarted without persistence, §21.8): 1011 (CC-5, so
 * the client comes back and hears NEW with UNKNOWN_SESSION, MN-8), "session record missing from the
 * store", `{cause="record_missing"}`. Each against a real redis-server (test/support/redis.ts).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { Harness } from '../../test/support/server.js';
import { isRedisAvailable, startRedis } from '../../test/support/redis.js';
import { useRedisStores } from '../../test/support/redis-stores.js';
import type { RawClient } from '../../testkit/raw-client.js';
import { createLifelineMetrics, type LifelineMetrics } from '../observability/metrics.js';
import type { LifelineServer } from '../server.js';
import { RedisSessionStore } from './redis-session-store.js';
import type { SessionStore } from './session-store.js';

const hasRedis = isRedisAvailable();
const h = new Harness();
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: { payload: Uint8Array }) => new TextDecoder().decode(b.payload);
/** Long enough that no heartbeat deadline falls inside a test on a loaded machine (none is awaited). */
const quietHeartbeats = { heartbeatIntervalMs: 30_000 };
const store = useRedisStores(h);

/** A node's view of the store that hears no claim notice (cut off from pub/sub): it learns of a claim at its next commit. */
function deaf(s: RedisSessionStore): SessionStore {
  return new Proxy(s, {
    get(target, key) {
      if (key === 'watchClaims') return undefined;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A node with metrics, its warn-and-above log lines as parsed JSON, and its session events. */
async function node(sessionStore: SessionStore) {
  const logs: { level: number; msg: string }[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (logs.push(...c.toString().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string })), cb()) });
  const metrics = createLifelineMetrics();
  const srv = await h.server({ ...quietHeartbeats, sessionStore, metrics, logger: pino({ level: 'warn' }, sink) });
  const events: string[] = [];
  srv.on('sessionMoved', () => events.push('moved'));
  srv.on('sessionEnded', () => events.push('ended'));
  srv.on('sessionClosed', (_s, info) => events.push(`closed ${info.code}`));
  return { srv, logs, metrics, events };
}

async function lossCount(metrics: LifelineMetrics, cause: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'lifeline_sessions_lost_total');
  return Number(m?.values.find((v) => v.labels.cause === cause)?.value ?? 0);
}

/** A session on `srv` with one publication received (its commits flow). */
async function liveSession(srv: LifelineServer): Promise<{ c: RawClient; id: string }> {
  const c = await h.session(srv, { channels: ['feed'] });
  const id = c.bodies('welcome')[0]?.sessionId as string;
  await srv.publish('feed', { payload: enc('m1') });
  await c.waitForCount('message', 1);
  return { c, id };
}

describe.skipIf(!hasRedis)('a live session the store refuses: takeover or lost record (MN-4, §21.8)', () => {
  test.each([
    ['claimed it', false],
    ['claimed it, then ended it (the store remembers why: no loss)', true],
  ])('MN-4 RS-7 another node %s unheard: the next commit is refused, the socket closes 4002, logged and counted as a takeover', async (_what, isEnded) => {
    const a = await node(deaf(await store()));
    const { c, id } = await liveSession(a.srv);
    const other = await store(); // node B's connection: its claim publishes a notice node A does not hear
    const fence = await other.claim(id, 'node-b');
    expect(fence).toBeGreaterThan(1);
    if (isEnded) await other.end(id, 'ended', fence);
    await a.srv.publish('feed', { payload: enc('m2') }); // its commit is refused under the old fence
    expect((await c.waitForClose(10_000)).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    expect(c.bodies('message').map(text)).toEqual(['m1']); // MN-4: nothing after the claim
    await vi.waitFor(() => expect(a.events).toEqual(['closed 4002', 'moved']));
    expect(a.srv.session(id)).toBeUndefined();
    expect(a.logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['session taken over by another node']);
    expect(await lossCount(a.metrics, 'taken_over')).toBe(1);
    expect(await lossCount(a.metrics, 'record_missing')).toBe(0);
  }, 30_000);

  test('§21.8 MN-8 CC-5 Redis restarted without persistence: the record is missing, the socket closes 1011, logged and counted as such; the client comes back to NEW with UNKNOWN_SESSION', async () => {
    const own = await startRedis(); // no persistence: a restart loses every record
    onTestFinished(() => own.stop());
    const st = await store(own.url);
    const a = await node(st);
    const { c, id } = await liveSession(a.srv);
    await own.restart();
    await vi.waitFor(() => expect(st.health.isReady()).toBe(true), { timeout: 15_000, interval: 20 });
    await a.srv.publish('feed', { payload: enc('m2') }); // the commit finds no record (retried while Redis came back: MN-6)
    const closed = await c.waitForClose(15_000);
    expect(closed.code).toBe(codeOf('INTERNAL_ERROR')); // backoff, no reset: the client comes back (not 4002's "none")
    expect(closed.reason).toContain('record missing');
    expect(c.bodies('message').map(text)).toEqual(['m1']); // MN-1: never written without the store holding it
    await vi.waitFor(() => expect(a.events).toEqual(['closed 1011', 'ended']));
    expect(a.srv.session(id)).toBeUndefined();
    const warned = a.logs.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warned).toContain('session record missing from the store');
    expect(warned).not.toContain('session taken over by another node');
    expect(await lossCount(a.metrics, 'record_missing')).toBe(1);
    expect(await lossCount(a.metrics, 'taken_over')).toBe(0);
    // MN-8: the resume is answered honestly.
    const c2 = await h.client(a.srv);
    const w = await c2.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.UNKNOWN_SESSION });
    expect(w.sessionId).not.toBe(id);
  }, 40_000);
});
