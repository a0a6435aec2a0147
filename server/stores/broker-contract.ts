/**
 * The Broker contract across nodes (issue 14, deliverable 2): every broker with positions runs this
 * suite, the in-process MemoryHub (memory-hub.test.ts) and RedisBroker (redis-broker.test.ts), with
 * two or three brokers on one hub or one Redis standing for two or three nodes.
 *
 *   brokerContract('RedisBroker', async () => redisCluster(url));
 *
 * Deliveries may arrive asynchronously (Redis): the suite waits for them with a bound that names
 * what it waited for, never for a fixed time. "Nothing arrived" is proved by a later marker that did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerUnavailableError, comparePositions, TRIMMED, type Broker, type Publication } from './broker.js';

/** What the suite drives: nodes on one shared backend, and the faults it injects. */
export interface BrokerCluster {
  /** The broker of one more node on the same hub or Redis. */
  node(nodeId: string): Broker | Promise<Broker>;
  /** Every node loses the backend (false: Redis away) or gets it back (true). */
  setAvailable(available: boolean): Promise<void>;
  /** Only `broker`'s node loses its connection to the backend, its reader too (false), or gets it back. */
  setNodeAvailable(broker: Broker, available: boolean): Promise<void>;
  /** Trim `channel`'s history to its newest `keep` entries (XTRIM MAXLEN = keep). */
  trim(channel: string, keep: number): Promise<void>;
  /** Release every node and connection; called after each test. */
  dispose(): Promise<void>;
}

export interface BrokerContractOptions {
  /** Bound of one wait for a delivery (default 5 000 ms: a busy machine, a reconnect). */
  readonly waitMs?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
let serial = 0;
/** Channel names unique per test, so a shared Redis needs no flush between tests. */
const channelName = (what: string) => `contract-${process.pid}-${Date.now()}-${serial++}-${what}`;

export const message = (channel: string, text: string): Publication => ({ kind: 'message', channel, message: { payload: enc.encode(text) } });
const textOf = (p: Publication) => (p.kind === 'message' ? dec.decode(p.message.payload) : `patch ${p.patch.version}`);

/** One node as the suite sees it: its broker bound to a recorder of what it delivered locally. */
interface Node {
  readonly broker: Broker;
  readonly got: Publication[];
  readonly gaps: Array<{ channel: string; lost: number | undefined }>;
  /** Texts received on `channel`, in order. */
  texts(channel: string): string[];
}

export function brokerContract(name: string, makeCluster: () => Promise<BrokerCluster>, o: BrokerContractOptions = {}): void {
  const waitMs = o.waitMs ?? 5_000;

  /** Poll until `ok()` holds; on timeout fail naming `what`. */
  async function until(what: string, ok: () => boolean): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`${name}: timed out after ${waitMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  describe(`Broker contract: ${name}`, () => {
    let cluster: BrokerCluster | undefined;
    afterEach(async () => {
      await cluster?.dispose();
      cluster = undefined;
    });

    const start = async () => (cluster = await makeCluster());
    const node = async (id: string): Promise<Node> => {
      const broker = await (cluster as BrokerCluster).node(`${id}-${process.pid}-${serial++}`);
      const got: Publication[] = [];
      const gaps: Node['gaps'] = [];
      broker.bind(
        (p) => {
          got.push(p);
          return 1;
        },
        (channel, lost) => gaps.push({ channel, lost }),
      );
      return { broker, got, gaps, texts: (ch) => got.filter((p) => p.channel === ch).map(textOf) };
    };
    /**
     * Join and wait until the join is in effect: a node's own publish is ordered after its join
     * (RedisBroker takes the join point on its command connection), so once its marker arrives,
     * every later publish from any node reaches it.
     */
    const join = async (n: Node, channel: string) => {
      n.broker.join(channel);
      const marker = `joined ${serial++}`;
      await n.broker.publish(message(channel, marker));
      await until(`the join marker on ${channel}`, () => n.texts(channel).includes(marker));
    };
    const onlyData = (texts: string[]) => texts.filter((t) => !t.startsWith('joined '));

    it('a publication reaches every node that joined, in the same order per channel on every node, positions growing', async () => {
      await start();
      const [a, b, c] = [await node('a'), await node('b'), await node('c')];
      const ch = channelName('order');
      await join(a, ch);
      await join(b, ch);
      c.broker.join(channelName('other')); // c never joins ch
      const sent = Array.from({ length: 20 }, (_, i) => i);
      await Promise.all([...sent.map((i) => a.broker.publish(message(ch, `a${i}`))), ...sent.map((i) => b.broker.publish(message(ch, `b${i}`)))]);
      await until('40 publications on both nodes', () => onlyData(a.texts(ch)).length === 40 && onlyData(b.texts(ch)).length === 40);
      const positions = (n: Node) => n.got.filter((p) => p.channel === ch && !textOf(p).startsWith('joined ')).map((p) => p.position as string);
      expect(onlyData(a.texts(ch))).toEqual(onlyData(b.texts(ch)));
      expect(positions(a)).toEqual(positions(b));
      const ps = positions(a);
      for (let i = 1; i < ps.length; i++) expect(comparePositions(ps[i - 1] as string, ps[i] as string)).toBeLessThan(0);
      // each node's own publications in its publish order
      expect(onlyData(a.texts(ch)).filter((t) => t.startsWith('a'))).toEqual(sent.map((i) => `a${i}`));
      expect(c.got.filter((p) => p.channel === ch)).toEqual([]);
    });

    it('publish resolves with the number of local sessions that queued it: 0 on a node that did not join', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('count');
      await join(a, ch);
      expect(await a.broker.publish(message(ch, 'x'))).toBe(1);
      expect(await b.broker.publish(message(ch, 'y'))).toBe(0);
      await until('y on a', () => a.texts(ch).includes('y'));
    });

    it('a node that left a channel receives nothing more of it', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('left');
      const other = channelName('marker');
      await join(a, ch);
      await join(b, ch);
      await join(b, other);
      b.broker.leave(ch);
      await a.broker.publish(message(ch, 'after leave'));
      await until('the publication on a', () => a.texts(ch).includes('after leave'));
      await a.broker.publish(message(other, 'later'));
      await until('the later marker on b', () => b.texts(other).includes('later'));
      expect(b.texts(ch)).not.toContain('after leave');
    });

    it('since returns exactly what followed a position, in order, and [] at the last one', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('since');
      await join(a, ch);
      for (let i = 0; i < 5; i++) await b.broker.publish(message(ch, `m${i}`));
      await until('5 publications on a', () => onlyData(a.texts(ch)).length === 5);
      const delivered = a.got.filter((p) => p.channel === ch && !textOf(p).startsWith('joined '));
      const from = delivered[1]?.position as string;
      const after = await b.broker.since?.(ch, from);
      expect(after).not.toBe(TRIMMED);
      expect((after as Publication[]).map(textOf)).toEqual(['m2', 'm3', 'm4']);
      expect((after as Publication[]).map((p) => p.position)).toEqual(delivered.slice(2).map((p) => p.position));
      expect(await b.broker.since?.(ch, delivered[4]?.position as string)).toEqual([]);
      expect(await b.broker.since?.(channelName('never-published'), '0-0')).toEqual([]);
    });

    it('since answers TRIMMED once entries after the position were trimmed, and what follows a kept one', async () => {
      await start();
      const a = await node('a');
      const ch = channelName('trim');
      await join(a, ch);
      for (let i = 0; i < 6; i++) await a.broker.publish(message(ch, `m${i}`));
      await until('6 publications on a', () => onlyData(a.texts(ch)).length === 6);
      const ps = a.got.filter((p) => p.channel === ch && !textOf(p).startsWith('joined ')).map((p) => p.position as string);
      await (cluster as BrokerCluster).trim(ch, 3);
      expect(await a.broker.since?.(ch, '0-0')).toBe(TRIMMED);
      expect(await a.broker.since?.(ch, ps[0] as string)).toBe(TRIMMED);
      expect(await a.broker.since?.(ch, ps[1] as string)).toBe(TRIMMED);
      // (ps[2], the newest trimmed: exact on MemoryHub; Redis keeps no trace of it and answers TRIMMED)
      expect(((await a.broker.since?.(ch, ps[3] as string)) as Publication[]).map(textOf)).toEqual(['m4', 'm5']);
    });

    it('publish and since reject BrokerUnavailableError while the backend is away; health follows; nothing is lost after', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('away');
      await join(a, ch);
      const changes: boolean[] = [];
      a.broker.health?.onHealth((r) => changes.push(r));
      expect(a.broker.health?.isReady() ?? true).toBe(true);
      await (cluster as BrokerCluster).setAvailable(false);
      await until('a not ready', () => a.broker.health?.isReady() === false);
      await expect(b.broker.publish(message(ch, 'lost?'))).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(a.broker.since?.(ch, '0-0')).rejects.toBeInstanceOf(BrokerUnavailableError);
      await (cluster as BrokerCluster).setAvailable(true);
      await until('a ready again', () => a.broker.health?.isReady() === true);
      expect(changes).toEqual([false, true]);
      await until('b ready again', () => b.broker.health?.isReady() !== false);
      await b.broker.publish(message(ch, 'back'));
      await until('the publication after the outage on a', () => a.texts(ch).includes('back'));
      expect(onlyData(a.texts(ch))).toEqual(['back']);
    });

    it('a node that loses its connection for a while gets everything published meanwhile, once, in order', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('catch-up');
      await join(a, ch);
      await join(b, ch);
      await a.broker.publish(message(ch, 'before'));
      await until('before on b', () => b.texts(ch).includes('before'));
      await (cluster as BrokerCluster).setNodeAvailable(b.broker, false);
      await until('b not ready', () => b.broker.health?.isReady() === false);
      for (let i = 0; i < 10; i++) await a.broker.publish(message(ch, `meanwhile ${i}`));
      await (cluster as BrokerCluster).setNodeAvailable(b.broker, true);
      await a.broker.publish(message(ch, 'after'));
      await until('after on b', () => b.texts(ch).includes('after'));
      const want = ['before', ...Array.from({ length: 10 }, (_, i) => `meanwhile ${i}`), 'after'];
      expect(onlyData(b.texts(ch))).toEqual(want);
      expect(onlyData(a.texts(ch))).toEqual(want);
      expect(b.gaps).toEqual([]);
    });

    it('a node away while entries it had not read were trimmed hears of the gap, then gets what is held, in order', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('gap');
      await join(b, ch);
      await (cluster as BrokerCluster).setNodeAvailable(b.broker, false);
      await until('b not ready', () => b.broker.health?.isReady() === false);
      for (let i = 0; i < 8; i++) await a.broker.publish(message(ch, `m${i}`));
      await (cluster as BrokerCluster).trim(ch, 3);
      await (cluster as BrokerCluster).setNodeAvailable(b.broker, true);
      await a.broker.publish(message(ch, 'after'));
      await until('after on b', () => b.texts(ch).includes('after'));
      expect(onlyData(b.texts(ch))).toEqual(['m5', 'm6', 'm7', 'after']);
      expect(b.gaps.length).toBe(1);
      expect(b.gaps[0]?.channel).toBe(ch);
      // the count is known where the backend can tell (MemoryHub exactly; Redis 7: from its counters)
      if (b.gaps[0]?.lost !== undefined) expect(b.gaps[0].lost).toBe(5);
    });

    it('patches travel whole: versions, digest, message id; a message keeps its key and id', async () => {
      await start();
      const [a, b] = [await node('a'), await node('b')];
      const ch = channelName('kinds');
      await join(b, ch);
      const patch: Publication = { kind: 'patch', channel: ch, patch: { baseVersion: 2n ** 63n, version: 2n ** 63n + 1n, delta: new Uint8Array([0, 255, 7]), digest: 0xdeadbeef, messageId: 'p-1' } };
      const msg: Publication = { kind: 'message', channel: ch, message: { payload: new Uint8Array([]), key: 'k', messageId: 'm-1' } };
      await a.broker.publish(patch);
      await a.broker.publish(msg);
      await until('both on b', () => b.got.filter((p) => p.channel === ch).length === 3);
      const [, gotPatch, gotMsg] = b.got.filter((p) => p.channel === ch);
      expect({ ...gotPatch, position: undefined }).toEqual({ ...patch, position: undefined });
      expect({ ...gotMsg, position: undefined }).toEqual({ ...msg, position: undefined });
      expect(gotPatch?.kind === 'patch' && gotPatch.patch.delta).toBeInstanceOf(Uint8Array);
    });
  });
}
