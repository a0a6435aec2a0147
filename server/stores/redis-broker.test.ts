/**
 * RedisBroker on a real redis-server (issue 14): the Broker contract with two or three nodes on one
 * Redis, each through its own cuttable TCP path (a node losing Redis while the others keep it), and
 * what only Redis has: the reader's connection killed (CLIENT KILL), redeliveries dropped.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRedisAvailable, startRedis, type RedisProcess } from '../../test/support/redis.js';
import { TcpProxy } from '../../test/support/tcp-proxy.js';
import { brokerContract, message } from './broker-contract.js';
import type { Broker, Publication } from './broker.js';
import { RedisBroker } from './redis-broker.js';
import { StreamReader } from './redis-stream-reader.js';

const PREFIX = 'lifeline-test:';
const hasRedis = isRedisAvailable();
let redis: RedisProcess;
let admin: Redis;
// one redis-server for the file, with AOF for the restart case (channels are unique per test)
beforeAll(async () => {
  if (!hasRedis) return;
  redis = await startRedis({ appendonly: true });
  admin = new Redis(redis.url);
  admin.on('error', () => {});
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

/** A node: its broker on its own path to Redis. */
async function openNode(nodeId: string, proxies: Map<Broker, TcpProxy>): Promise<RedisBroker> {
  const proxy = await new TcpProxy(redis.port).listen();
  const broker = new RedisBroker({ redis: proxy.url, prefix: PREFIX, nodeId, blockMs: 500 });
  proxies.set(broker, proxy);
  await broker.ready();
  return broker;
}

describe.skipIf(!hasRedis)('RedisBroker contract', () => {
brokerContract('RedisBroker', () => {
  const proxies = new Map<Broker, TcpProxy>();
  return Promise.resolve({
    node: (id: string) => openNode(id, proxies),
    setAvailable: async (available: boolean) => {
      for (const p of proxies.values()) available ? p.restore() : p.cut();
    },
    setNodeAvailable: async (b: Broker, available: boolean) => {
      const p = proxies.get(b);
      if (available) p?.restore();
      else p?.cut();
    },
    trim: async (channel: string, keep: number) => {
      await admin.xtrim(`${PREFIX}ch:${channel}`, 'MAXLEN', keep);
    },
    dispose: async () => {
      for (const [b, p] of proxies) {
        await b.close?.();
        await p.close();
      }
      proxies.clear();
    },
  });
});
});

describe.skipIf(!hasRedis)('RedisBroker', () => {
  const until = async (what: string, ok: () => boolean, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  it('survives CLIENT KILL of its reader: reads on from its last id, everything once, in order', async () => {
    const a = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `kill-a-${process.pid}`, blockMs: 500 });
    const b = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `kill-b-${process.pid}`, blockMs: 500 });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const got: string[] = [];
      b.bind((p) => {
        if (p.kind === 'message') got.push(new TextDecoder().decode(p.message.payload));
        return 1;
      });
      const ch = `kill-${Date.now()}`;
      b.join(ch);
      expect(await b.publish(message(ch, 'joined'))).toBe(1);
      const publishing = (async () => {
        for (let i = 0; i < 200; i++) await a.publish(message(ch, `m${i}`));
      })();
      await until('some publications on b', () => got.length > 20);
      const killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes', 'ID', await readerId(`kill-b-${process.pid}`));
      expect(killed).toBe(1);
      await publishing;
      await until('all 200 on b', () => got.length === 201);
      expect(got).toEqual(['joined', ...Array.from({ length: 200 }, (_, i) => `m${i}`)]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('MN-2 a since asked in the tick of the first join reads up to the join point: Redis runs its range after the join point, so no publication falls between catch-up and the live reads', async () => {
    // The resume-after-drain loss (issue 14): since's MULTI was written at once, ahead of the
    // join point's XINFO that ioredis auto-pipelines; a publication Redis ran between the two was in neither.
    // The monitor first, alone: a command Redis echoes to it before ioredis has switched the connection
    // to monitor mode (the broker's CLIENT ID at connect) is taken for a reply ("Command queue state error").
    const monitor = await admin.monitor(); // its own connection, in monitor mode from the start
    const b = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `join-since-${process.pid}` });
    try {
      await b.ready();
      b.bind(() => 1);
      const ch = `join-since-${Date.now()}`;
      const key = `${PREFIX}ch:${ch}`;
      await admin.xadd(key, '*', 'm', 'before');
      // What Redis ran on the stream, in order: the join point (XINFO), since's transaction (MULTI … XRANGE … EXEC).
      const seen: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        const cmd = (args[0] ?? '').toUpperCase();
        if (cmd === 'MULTI' || (args.includes(key) && (cmd === 'XINFO' || cmd === 'XRANGE'))) seen.push(cmd);
      });
      b.join(ch); // the first local subscriber (a session revived here) …
      const got = await b.since(ch, '0-0'); // … and its catch-up, in the same tick (catch-up.ts)
      expect(got).not.toBe('trimmed');
      await until('the monitor saw the range', () => seen.includes('XRANGE'));
      expect(seen.slice(0, 2)).toEqual(['XINFO', 'MULTI']); // the join point first, then the range's transaction
    } finally {
      monitor.disconnect();
      await b.close();
    }
  });

  it('resolves a publish with 0 when the node joined only after it, and rejects at once when closed', async () => {
    const a = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `count-${process.pid}` });
    await a.ready();
    a.bind(() => 1);
    const ch = `count-${Date.now()}`;
    const before = a.publish(message(ch, 'before join'));
    a.join(ch);
    expect(await before).toBe(0);
    expect(await a.publish(message(ch, 'after join'))).toBe(1);
    await a.close();
    await expect(a.publish(message(ch, 'closed'))).rejects.toThrow(/unavailable/);
    expect(a.health.isReady()).toBe(false);
  });

  it('a Redis restart with AOF: both nodes reconnect by themselves and read on from their last ids, nothing twice', async () => {
    const a = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `restart-a-${process.pid}`, blockMs: 500 });
    const b = new RedisBroker({ redis: redis.url, prefix: PREFIX, nodeId: `restart-b-${process.pid}`, blockMs: 500 });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const got: string[] = [];
      b.bind((p) => (p.kind === 'message' && got.push(new TextDecoder().decode(p.message.payload)), 1));
      const ch = `restart-${Date.now()}`;
      b.join(ch);
      await b.publish(message(ch, 'joined'));
      for (let i = 0; i < 5; i++) await a.publish(message(ch, `before ${i}`));
      await until('the publications before the restart on b', () => got.length === 6);
      await redis.restart();
      await until('a and b ready after the restart', () => a.health.isReady() && b.health.isReady(), 15_000);
      for (let i = 0; i < 5; i++) await a.publish(message(ch, `after ${i}`));
      await until('the publications after the restart on b', () => got.length === 11);
      expect(got.slice(1)).toEqual([...Array.from({ length: 5 }, (_, i) => `before ${i}`), ...Array.from({ length: 5 }, (_, i) => `after ${i}`)]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the reader drops a redelivered entry (an id at or below the last it delivered)', async () => {
    const e = (id: string, text: string): [Buffer, Buffer[]] => [Buffer.from(id), [Buffer.from('m'), Buffer.from(text)]];
    const replies: unknown[] = [
      [[Buffer.from(`${PREFIX}ch:x`), [e('1-1', 'a'), e('1-2', 'b')]]],
      [[Buffer.from(`${PREFIX}ch:x`), [e('1-1', 'a'), e('1-2', 'b'), e('1-3', 'c')]]],
    ];
    const got: Publication[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    const conn = {
      status: 'ready',
      on: () => conn,
      client: () => Promise.resolve(7),
      callBuffer: () => {
        const r = replies.shift();
        if (r === undefined) {
          done();
          return new Promise(() => {}); // blocks forever, as an idle XREAD
        }
        return Promise.resolve(r);
      },
    };
    const reader = new StreamReader(conn as unknown as Redis, conn as unknown as Redis, { prefix: PREFIX, blockMs: 10, batch: 100 }, {
      deliver: (p) => (got.push(p), 1),
      delivered: () => {},
      gap: () => {},
      error: (err) => {
        throw err;
      },
    });
    reader.add('x', { id: '0-0', added: 0 });
    reader.start();
    await finished;
    expect(got.map((p) => p.position)).toEqual(['1-1', '1-2', '1-3']);
  });
});

/** The client id of a node's reader connection (named lifeline-broker-reader:<nodeId>). */
async function readerId(nodeId: string): Promise<string> {
  const list = String(await admin.client('LIST'));
  const line = list.split('\n').find((l) => l.includes(`name=lifeline-broker-reader:${nodeId} `));
  const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
  if (!id) throw new Error(`no reader connection for ${nodeId} in CLIENT LIST`);
  return id;
}
