/**
 * One redis-server per test file (test/support/redis.ts) and the RedisSessionStores its tests open:
 * each store is closed after its test (with the harness's servers), the redis-server after the file.
 * Nothing starts when no redis-server is installed (the file's tests skip themselves).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RedisSessionStore } from '../../server/stores/redis-session-store.js';
import { isRedisAvailable, startRedis, type RedisProcess } from './redis.js';
import type { Harness } from './server.js';

/** Opens a ready store on the file's redis-server (or on `url`: another one a test started). */
export type OpenRedisStore = (url?: string) => Promise<RedisSessionStore>;

export function useRedisStores(h: Harness): OpenRedisStore {
  let redis: RedisProcess | undefined;
  const stores: RedisSessionStore[] = [];
  beforeAll(async () => {
    if (isRedisAvailable()) redis = await startRedis();
  });
  afterEach(async () => {
    await h.cleanup();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return async (url) => {
    const at = url ?? redis?.url;
    if (at === undefined) throw new Error('useRedisStores: no redis-server (isRedisAvailable() is false)');
    const s = new RedisSessionStore({ redis: at });
    stores.push(s);
    await s.ready();
    return s;
  };
}
