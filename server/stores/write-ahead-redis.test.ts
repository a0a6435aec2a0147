/**
 * The write-ahead (MN-1) against a real redis-server (test/support/redis.ts): frames reach the
 * client once committed, the record in Redis holds them, an Ack follows its committed cursor, and
 * a Redis outage holds frames without ending the session; they flow when Redis returns (MN-6).
 */
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test, vi } from 'vitest';
import { Harness } from '../../test/support/server.js';
import { isRedisAvailable, startRedis } from '../../test/support/redis.js';
import { useRedisStores } from '../../test/support/redis-stores.js';
import { RedisSessionStore } from './redis-session-store.js';

const hasRedis = isRedisAvailable();
const h = new Harness();
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: { payload: Uint8Array }) => new TextDecoder().decode(b.payload);
const store = useRedisStores(h);

describe.skipIf(!hasRedis)('write-ahead on RedisSessionStore (MN-1)', () => {
  test('MN-1 SEQ-7 published frames reach the client in order and are in Redis; an Ack follows the committed cursor', async () => {
    const st = await store();
    const got: string[] = [];
    const srv = await h.server({ sessionStore: st, onMessage: (m) => void got.push(text(m)) });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    for (let i = 1; i <= 5; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    const msgs = await c.waitForCount('message', 5);
    expect(msgs.map((m) => [m.seq, text(m)])).toEqual(Array.from({ length: 5 }, (_, i) => [BigInt(i + 1), `m${i + 1}`]));
    expect((await st.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n, 4n, 5n]); // held before the client saw them
    c.message({ payload: enc('up') });
    const ack = await c.waitForBody('ack');
    expect(ack.seq).toBe(1n);
    expect((await st.load(id))?.inbound.lastProcessed).toBe(1n);
    expect(got).toEqual(['up']);
    c.ack(5n);
    await vi.waitFor(async () => expect((await st.load(id))?.outbound.replay).toEqual([]));
  });

  test('MN-6 Redis away: heartbeats answered, frames wait; Redis back (AOF: the session survived): they flow, none lost', async () => {
    const own = await startRedis({ appendonly: true }); // without persistence the session would be gone (MN-8)
    onTestFinished(() => own.stop());
    const st = await store(own.url);
    const srv = await h.server({ sessionStore: st });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await st.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    await own.kill();
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) }); // the memory broker: this node
    c.heartbeat();
    await c.waitForCount('heartbeatAck', 1, 5_000);
    expect(c.bodies('message')).toEqual([]);
    await own.start();
    const msgs = await c.waitForCount('message', 3, 15_000);
    expect(msgs.map(text)).toEqual(['m1', 'm2', 'm3']);
  }, 30_000);
});
