/**
 * The Lifeline contender of the two-node scenario (issue 14): one reference server per process on
 * a shared Redis, RedisSessionStore (write-ahead of every sequenced frame, MN-1) and RedisBroker
 * (publications on Redis Streams, MN-2), with the bench's limits off (contenders/lifeline.ts).
 * Imported lazily by the scenario, like every Lifeline contender.
 */
import type { LifelineServerOptions } from '../../server/options.js';
import type { LifelineServer } from '../../server/server.js';
import { startLifeline } from './lifeline.js';

export interface LifelineRedisNode {
  readonly srv: LifelineServer;
  readonly port: number;
  close(): Promise<void>;
}

export async function startLifelineRedis(redisUrl: string, nodeId: string, options: LifelineServerOptions = {}): Promise<LifelineRedisNode> {
  const { RedisSessionStore } = await import('../../server/stores/redis-session-store.js');
  const { RedisBroker } = await import('../../server/stores/redis-broker.js');
  const store = new RedisSessionStore({ redis: redisUrl });
  const broker = new RedisBroker({ redis: redisUrl, nodeId });
  await Promise.all([store.ready(), broker.ready()]);
  const { srv, port } = await startLifeline({ sessionStore: store, broker, ...options });
  return {
    srv,
    port,
    close: async () => {
      await srv.close();
      await Promise.all([broker.close(), store.close()]);
    },
  };
}
