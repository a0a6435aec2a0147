/**
 * The sessions the two Redis probes commit to (bench/probes/redis-commits.ts, redis-lua-parts.ts):
 * `n` records subscribed to one channel, created in the store as a node would (MN-1), with their fences.
 */
import { sampleRecord } from '../../server/stores/contract.js';
import type { RedisSessionStore } from '../../server/stores/redis-session-store.js';

export async function createProbeSessions(store: RedisSessionStore, n: number): Promise<{ id: string; fence: number }[]> {
  const ids: { id: string; fence: number }[] = [];
  for (let i = 0; i < n; i++) {
    const r = sampleRecord({ subscriptions: [{ channel: 'feed' }] });
    ids.push({ id: r.id, fence: await store.create(r, 'probe') });
  }
  return ids;
}
