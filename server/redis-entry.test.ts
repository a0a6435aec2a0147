/**
 * The Redis entry (issue 14): `lifeline/server/redis` has the Redis store and broker; `lifeline/server`
 * must not load ioredis, so a single-node server pays nothing for it. Checked in a child process
 * (a fresh module cache): what importing each entry loads.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Import `entry` in a child (tsx) and report whether ioredis is in its module cache. */
function loadsIoredis(entry: string): { loaded: boolean; exports: string[] } {
  const code = `
    import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(entry)});
    const cache = createRequire(import.meta.url).cache;
    const loaded = Object.keys(cache).some((k) => k.includes('/node_modules/ioredis/'));
    console.log(JSON.stringify({ loaded, exports: Object.keys(m).sort() }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`child importing ${entry} exited ${r.status} (signal ${r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { loaded: boolean; exports: string[] };
}

describe('entry points for several nodes (issue 14)', () => {
  test('lifeline/server does not load ioredis; it has MemoryHub and BrokerUnavailableError', () => {
    const r = loadsIoredis('./server/index.ts');
    expect(r.loaded).toBe(false);
    expect(r.exports).toEqual(expect.arrayContaining(['MemoryHub', 'BrokerUnavailableError', 'MemorySessionStore', 'createServer']));
  }, 60_000);

  test('lifeline/server/redis has the Redis store, broker and their errors (and does load ioredis: the check above can fail)', () => {
    const r = loadsIoredis('./server/redis.ts');
    expect(r.loaded).toBe(true);
    expect(r.exports).toEqual(
      expect.arrayContaining(['RedisSessionStore', 'RedisBroker', 'RedisUnavailableError', 'BrokerUnavailableError', 'ReplayCapError', 'ReplayOrderError']),
    );
  }, 60_000);
});
