/**
 * How Lifeline talks to Redis (issue 14): the client options that make a Redis outage an error
 * at once rather than a hang, and the readiness of a connection as a Health (`/readyz`).
 * Shared by the session store and, if it likes, the broker.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Health } from './session-store.js';

/**
 * DESIGN-14 §6 "Redis away": fail fast, reconnect by itself.
 * - `enableOfflineQueue: false`: a command while disconnected rejects at once (no unbounded queue, no hang);
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when the
 *   connection drops rejects, never silently re-runs (a commit whose reply was lost may have been
 *   applied: its caller decides, see ReplayOrderError);
 * - `retryStrategy`: reconnect after 50 ms doubling, capped at 1 s, for ever;
 * - `enableAutoPipelining: true`: the commands of one tick (a tick's commits of many sessions) go
 *   out as one pipeline, one round trip.
 */
export const lifelineRedisOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  enableAutoPipelining: true,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.max(0, attempt - 1), 1_000),
  connectTimeout: 5_000,
};

/** A Redis client from a URL with lifelineRedisOptions, or the caller's own client as given. */
export function redisClient(redis: Redis | string, options: RedisOptions = {}): { readonly client: Redis; readonly isOwned: boolean } {
  if (typeof redis !== 'string') return { client: redis, isOwned: false };
  return { client: new Redis(redis, { ...lifelineRedisOptions, ...options }), isOwned: true };
}

/** Redis did not answer: it is away (or not yet connected). The cause is ioredis's error. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  constructor(what: string, options?: { cause?: unknown }) {
    super(`Redis unavailable: ${what}`, options);
  }
}

/** The connection's readiness: ready while ioredis says 'ready'; listeners hear every change. */
export class RedisHealth implements Health {
  private readonly listeners = new Set<(ready: boolean) => void>();
  private last: boolean;
  private readonly update = () => {
    const now = this.client.status === 'ready';
    if (now === this.last) return;
    this.last = now;
    for (const listener of [...this.listeners]) listener(now);
  };
  private static readonly events = ['ready', 'close', 'end', 'reconnecting', 'connect', 'error'] as const;

  constructor(private readonly client: Redis) {
    this.last = client.status === 'ready';
    for (const e of RedisHealth.events) client.on(e, this.update);
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  onHealth(listener: (ready: boolean) => void): () => void {
    const l = (ready: boolean) => listener(ready);
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  /** Resolves at the first 'ready' (at once if ready), rejects after `timeoutMs` naming Redis. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new RedisUnavailableError(`not ready within ${timeoutMs} ms (status ${this.client.status})`));
      }, timeoutMs);
      const stop = this.onHealth((ready) => {
        if (!ready) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  dispose(): void {
    for (const e of RedisHealth.events) this.client.off(e, this.update);
    this.listeners.clear();
  }
}
