/**
 * Several Lifeline nodes on one Redis (issue 14, spec §21): the public entry `lifeline/server/redis`.
 * A subpath of its own so that a single-node server (`lifeline/server`) never loads ioredis: only
 * an application that imports this entry does.
 *
 * ```ts
 * import { createServer } from 'lifeline/server';
 * import { RedisBroker, RedisSessionStore } from 'lifeline/server/redis';
 * const sessionStore = new RedisSessionStore({ redis: 'redis://127.0.0.1:6379/0' });
 * const broker = new RedisBroker({ redis: 'redis://127.0.0.1:6379/0' });
 * const server = createServer({ sessionStore, broker });
 * ```
 *
 * @module lifeline/server/redis
 */
export { RedisSessionStore, ReplayCapError, ReplayOrderError, type RedisSessionStoreOptions } from './stores/redis-session-store.js';
export { RedisBroker, type RedisBrokerOptions } from './stores/redis-broker.js';
export { lifelineRedisOptions, RedisUnavailableError } from './stores/redis-connection.js';
export { BrokerUnavailableError } from './stores/broker.js';
