/**
 * Probe (issue 14): where COMMIT_MANY's Redis CPU goes, per session commit. Runs the script cut
 * short at a few points (a `return` put in its text) on a tick of N sessions each committing one
 * frame, an ack and a position (as bench/probes/redis-commits.ts), and prints Redis CPU per session
 * for each cut: `decodeOnly` reads the binary batch (commit-batch.ts) and nothing else, `loop` also
 * builds each session's keys and arguments, `hmget` also reads the hash, `checks` everything up
 * to the first write, `full` the whole commit. The differences are the parts' costs. Noisy on a
 * loaded machine: run it twice.
 *
 *   npx tsx bench/probes/redis-lua-parts.ts [sessions=1000] [ticks=20] [payloadBytes=140]
 */
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.js';
import { RedisSessionStore } from '../../server/stores/redis-session-store.js';
import { CommitBatchWriter } from '../../server/stores/commit-batch.js';
import { COMMIT_MANY } from '../../server/stores/redis-scripts.js';
import { redisCpuSeconds } from '../lib/redis-cpu.js';
import { createProbeSessions } from '../lib/redis-probe-sessions.js';

const sessions = Number(process.argv[2] ?? 1000);
const ticks = Number(process.argv[3] ?? 20);
const payloadBytes = Number(process.argv[4] ?? 140);
const redis = await startRedis();
const store = new RedisSessionStore({ redis: redis.url });
const admin = new Redis(redis.url);
/** COMMIT_MANY with `marker` replaced (the probe stops when the script no longer has it). */
function cut(marker: string, by: string): string {
  if (!COMMIT_MANY.includes(marker)) throw new Error(`COMMIT_MANY has no ${JSON.stringify(marker)} any more: update the probe`);
  return COMMIT_MANY.replace(marker, by);
}
const cuts: Record<string, string> = {
  full: COMMIT_MANY,
  decodeOnly: cut('local ok, r = pcall(commit_one)', 'local ok, r = true, 1'),
  loop: cut('local function commit_one()\n', 'local function commit_one()\ndo return 1 end\n'),
  hmget: cut('local nxt, acked, lp, la, rb', 'do return 1 end\nlocal nxt, acked, lp, la, rb'),
  checks: cut('-- everything checked: write', 'do return 1 end'),
};
try {
  await store.ready();
  const ids = await createProbeSessions(store, sessions);
  const payload = new Uint8Array(payloadBytes).fill(7);
  const s = store;
  const k = s.keys;
  let t = 0;
  const argsOf = () => {
    t++;
    const seq = BigInt(t);
    const w = new CommitBatchWriter();
    for (const { id, fence } of ids) w.add({ id, fence, delta: { frames: [{ seq, bytes: payload }], positions: { feed: `${1000 + t}-0` }, ...(t > 1 && { acked: seq - 1n }) } });
    return [2, k.endedOrder(), k.endedSerial(), Date.now(), 3_600_000, 10_000, k.endedStem(), ids.length, 16384, 64 << 20, k.sessionStem(), k.replayStem(), w.finish()];
  };
  // warm: the real script so the data is realistic (list of 1 frame, acked moving)
  const c = admin as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const [name, lua] of Object.entries(cuts)) admin.defineCommand(`cut_${name}`, { lua });
  for (let w = 0; w < 3; w++) await c.cut_full!(...argsOf());
  for (const name of Object.keys(cuts)) {
    // each cut run leaves the data as 'full' would only for 'full': run full between to keep state moving
    let cpu = 0;
    for (let i = 0; i < ticks; i++) {
      const a = argsOf();
      const c0 = await redisCpuSeconds(admin);
      const out = (await c[`cut_${name}`]!(...a)) as string[];
      cpu += (await redisCpuSeconds(admin)) - c0;
      if (out.length > 0) throw new Error(`${name}: ${out[1]}`);
      if (name !== 'full') {
        t--; // the same tick again, whole, so the next one finds the replay as a real tick leaves it
        const whole = (await c.cut_full!(...argsOf())) as unknown[];
        if (whole.length > 0) throw new Error(`full after ${name}: ${String(whole[1])}`);
      }
    }
    console.log(`${name.padEnd(14)} ${(1e6 * cpu / ticks / sessions).toFixed(2)} µs Redis CPU per session (payload ${payloadBytes} B)`);
  }
} finally {
  admin.disconnect();
  await store.close();
  await redis.stop();
}
