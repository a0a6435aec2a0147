/**
 * `lifeline serve --redis <url>` (issue 14, spec §21): the session store and the broker that every
 * node of a deployment shares, on one Redis. Any node then resumes any session (RESUMED, exactly the
 * missed frames) and a publish reaches every node's subscribers through Redis Streams. Loaded only
 * when --redis is given, so a single node never loads ioredis.
 */
import { InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import type { Broker } from './stores/broker.js';
import type { SessionStore } from './stores/session-store.js';

export interface SharedBackends {
  readonly store: SessionStore;
  readonly broker: Broker;
  /** Quit the Redis connections: after the server closed (the drain's last commits are in). */
  close(): Promise<void>;
}

export interface RedisBackendOptions {
  readonly url: string;
  /** Prefix of every key, stream and pub/sub channel (several deployments on one Redis). */
  readonly prefix: string;
  readonly nodeId: string;
  readonly log: Logger;
}

/** A redis://, rediss:// (TLS) or unix:// URL, checked while the flags are parsed. */
export function redisUrlArg(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('must be a URL such as redis://127.0.0.1:6379');
  }
  if (!['redis:', 'rediss:', 'unix:'].includes(u.protocol)) throw new InvalidArgumentError('must be a redis://, rediss:// or unix:// URL');
  return v;
}

/** The URL without credentials, for logs and the start line (SEC-2). */
export function redisUrlForDisplay(v: string): string {
  const u = new URL(v);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** Open the store and the broker on one Redis; their health drives /readyz (spec §21, MN-14). */
export async function openRedisBackends(o: RedisBackendOptions): Promise<SharedBackends> {
  const [{ RedisSessionStore }, { RedisBroker }] = await Promise.all([import('./stores/redis-session-store.js'), import('./stores/redis-broker.js')]);
  const store = new RedisSessionStore({ redis: o.url, prefix: o.prefix });
  const broker = new RedisBroker({
    redis: o.url,
    prefix: o.prefix,
    nodeId: o.nodeId,
    onError: (err) => o.log.warn({ err }, 'redis broker: delivery or read failed'),
  });
  const where = redisUrlForDisplay(o.url);
  // One line per change, not per reconnect attempt: an outage is two lines in the log.
  store.health.onHealth((ready) => (ready ? o.log.info({ redis: where }, 'session store: redis ready') : o.log.warn({ redis: where }, 'session store: redis unavailable')));
  broker.health.onHealth((ready) => (ready ? o.log.info({ redis: where }, 'broker: redis ready') : o.log.warn({ redis: where }, 'broker: redis unavailable')));
  return {
    store,
    broker,
    close: async () => {
      await Promise.allSettled([store.close(), broker.close()]);
    },
  };
}
