/**
 * Probe (issue 14, the two-node fan-out cost): what the write-ahead costs Redis when one publication
 * reaches N sessions of one node: N sessions each commit one frame and its channel position per
 * tick (MN-1), `ticks` times. Prints the wall time per tick and Redis's own CPU (INFO commandstats:
 * calls and µs per call of each command, INFO cpu) so a change to the commit path is measured where
 * it costs: in Redis.
 *
 * Also prints this process's CPU per session commit (building the arguments, ioredis, the reply):
 * on the bench's two nodes that is node CPU, on the core both share.
 *
 *   npx tsx bench/probes/redis-commits.ts [sessions=2000] [ticks=50] [mode=each|many] [payloadBytes=140]
 */
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.js';
import { RedisSessionStore } from '../../server/stores/redis-session-store.js';
import type { RecordDelta } from '../../server/stores/session-store.js';
import { redisCpuSeconds } from '../lib/redis-cpu.js';
import { createProbeSessions } from '../lib/redis-probe-sessions.js';

const sessions = Number(process.argv[2] ?? 2000);
const ticks = Number(process.argv[3] ?? 50);
const mode = process.argv[4] ?? 'many';
const payloadBytes = Number(process.argv[5] ?? 140);

const redis = await startRedis();
const store = new RedisSessionStore({ redis: redis.url });
const admin = new Redis(redis.url);
try {
  await store.ready();
  const ids = await createProbeSessions(store, sessions);
  const payload = new Uint8Array(payloadBytes).fill(7);
  await admin.config('RESETSTAT');
  const cpu0 = await redisCpuSeconds(admin);
  const t0 = performance.now();
  const node0 = process.cpuUsage();
  for (let t = 1; t <= ticks; t++) {
    const seq = BigInt(t);
    const acked = t > 1 ? seq - 1n : undefined;
    const batch = ids.map(({ id, fence }) => {
      const delta: RecordDelta = { frames: [{ seq, bytes: payload }], positions: { feed: `${1000 + t}-0` }, ...(acked !== undefined && { acked }) };
      return { id, fence, delta };
    });
    if (mode === 'many' && 'commitMany' in store) {
      const out = await (store as unknown as { commitMany(b: typeof batch): Promise<readonly unknown[]> }).commitMany(batch);
      const failed = out.filter((e) => e !== undefined);
      if (failed.length > 0) throw failed[0];
    } else {
      await Promise.all(batch.map((b) => store.commit(b.id, b.fence, b.delta)));
    }
  }
  const ms = performance.now() - t0;
  const node = process.cpuUsage(node0);
  const cpu = (await redisCpuSeconds(admin)) - cpu0;
  const stats = String(await admin.info('commandstats'))
    .split('\n')
    .filter((l) => /cmdstat_(evalsha|eval):/.test(l))
    .map((l) => l.trim());
  const perCommit = (us: number) => (us / ticks / sessions).toFixed(2);
  console.log(`${mode}: ${sessions} sessions × ${ticks} ticks, ${payloadBytes} B frames: ${(ms / ticks).toFixed(1)} ms per tick, Redis CPU ${((1000 * cpu) / ticks).toFixed(1)} ms per tick`);
  console.log(`  per session commit: Redis CPU ${perCommit(1e6 * cpu)} µs, this process's CPU ${perCommit(node.user + node.system)} µs`);
  for (const s of stats) console.log(`  ${s}`);
} finally {
  admin.disconnect();
  await store.close();
  await redis.stop();
}
