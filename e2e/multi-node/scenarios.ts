/**
 * The three scenarios of the multi-node e2e test (issue 14, deliverable 7), each on a fresh
 * cluster (cluster.ts): steady traffic both ways, then the event, then steady traffic until every
 * client is back in service, then a quiet settle and the per-client verdict (verdict.ts).
 *
 * (a) drain: node a gets SIGTERM: /readyz 503, HAProxy takes it out of rotation within the
 *     drain delay, then its clients move to b at their DR-3 slots: RESUMED, 0 lost, 0 duplicated.
 * (b) kill: node a gets SIGKILL: its clients resume on b from Redis: 0 lost either way; client
 *     messages the application may see twice are only those un-acked at the kill (spec §21).
 * (c) redis: Redis crashes and restarts 1.5 s later (AOF, appendfsync always: its data survives):
 *     no session closes, /readyz 503 then 200 on both nodes, publishes meanwhile are rejected
 *     (counted, not lost), nothing acknowledged is lost, nothing is duplicated.
 */
import { Cluster } from './cluster.js';
import { Fleet, FEED } from './fleet.js';
import type { NodeProcess } from './node-process.js';
import { Publisher } from './publisher.js';
import { verdict, type Verdict } from './verdict.js';

export type ScenarioName = 'drain' | 'kill' | 'redis';

export interface ScenarioSize {
  readonly clients: number;
  /** Each client sends one message per this many ms. */
  readonly sendIntervalMs: number;
  /** Publications per second to the channel every client subscribes to. */
  readonly publishPerSecond: number;
  /** Steady traffic before the event and after every client is back. */
  readonly steadyMs: number;
  /** How long Redis stays away in (c). */
  readonly redisOutageMs: number;
}

export const ciSize: ScenarioSize = { clients: 200, sendIntervalMs: 500, publishPerSecond: 20, steadyMs: 1500, redisOutageMs: 1500 };
export const thoroughSize: ScenarioSize = { clients: 1000, sendIntervalMs: 500, publishPerSecond: 50, steadyMs: 8000, redisOutageMs: 5000 };

export interface ScenarioResult extends Verdict {
  /** What else the scenario saw, printed under the table. */
  readonly notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll a node's /readyz until `done`; the distinct statuses in order (e.g. [200, 503, 200]). */
function watchReadyz(node: NodeProcess): { statuses: number[]; stop: () => void } {
  const statuses: number[] = [];
  let isOn = true;
  void (async () => {
    while (isOn) {
      const s = await node.readyz(2000);
      // 0: no answer within 2 s (a loaded machine); only answers count.
      if (s !== 0 && statuses.at(-1) !== s) statuses.push(s);
      await sleep(50);
    }
  })();
  return { statuses, stop: () => (isOn = false) };
}

/** What the clients and the nodes saw: close codes, client states, the nodes' logged problems. */
function diagnosis(fleet: Fleet, cluster: Cluster): string[] {
  const count = (keys: string[]) => {
    const m: Record<string, number> = {};
    for (const k of keys) m[k] = (m[k] ?? 0) + 1;
    return Object.entries(m).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none';
  };
  const out = [
    `closes seen by clients: ${count(fleet.clients.flatMap((c) => c.closes.map((x) => `${x.code}${x.byClient ? ' by client' : ''}`)))}`,
    `client states: ${count(fleet.clients.map((c) => c.client.state))}`,
    `client transports: ${count(fleet.clients.map((c) => c.client.transport))}`,
  ];
  for (const n of cluster.nodes) {
    if (n.problems.size > 0) out.push(`node ${n.name} logged: ${[...n.problems.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([k, v]) => `${v}× ${k}`).join(' | ')}`);
  }
  return out;
}

/** Run one scenario on `cluster` (started here; the caller stops it, also on failure). */
export async function runScenario(name: ScenarioName, size: ScenarioSize, cluster: Cluster, notes: string[] = []): Promise<ScenarioResult> {
  let tPhase = performance.now();
  /** Phase durations go into the notes: on a loaded machine they say where the time went. */
  const phase = (what: string) => {
    const now = performance.now();
    notes.push(`${what}: ${Math.round(now - tPhase)} ms`);
    tPhase = now;
  };
  await cluster.start();
  phase('redis, two nodes and haproxy started');
  const [a, b] = [cluster.node('a'), cluster.node('b')];
  const haproxy = cluster.haproxy;
  if (!haproxy) throw new Error('no haproxy');
  const fleet = new Fleet(haproxy.url(), size.clients);
  const publisher = new Publisher(FEED, cluster.nodes);
  try {
    await fleet.connect(30_000);
    phase(`${size.clients} clients connected through haproxy`);
    publisher.start(size.publishPerSecond);
    fleet.startSending(size.sendIntervalMs);
    await sleep(size.steadyMs);

    const before = await Promise.all(cluster.nodes.map(async (n) => `${n.name} ${(await n.stats())?.sessions ?? '?'}`));
    notes.push(`sessions per node before the event: ${before.join(', ')}`);
    let unackedAtKill: Map<number, Set<number>> | undefined;
    const tEvent = performance.now();
    if (name === 'drain' || name === 'kill') {
      phase('steady traffic');
      publisher.targets = [b];
      if (name === 'drain') a.signal('SIGTERM');
      else {
        a.signal('SIGKILL');
        // What the clients had sent and not seen acknowledged when a died (an Ack on its way counts as un-acked: an upper bound).
        unackedAtKill = new Map(fleet.clients.map((c) => [c.index, new Set(c.unacked())]));
      }
      const exit = await a.exited;
      await a.outputDone;
      notes.push(`node a exited ${exit.signal ?? exit.code} ${Math.round(performance.now() - tEvent)} ms after ${name === 'drain' ? 'SIGTERM' : 'SIGKILL'}`);
      if (name === 'drain' && exit.code !== 0) throw new Error(`node a did not exit 0 after its drain: ${JSON.stringify(exit)}\n${a.output()}`);
      // Every client in service again: it got a publication made after a was gone, so through b.
      const mark = publisher.published;
      await fleet.waitAll((c) => c.client.connected && (c.feed.at(-1) ?? 0) > mark, 'every client back in service on b (a publication made after a was gone)', 60_000);
      const moved = fleet.clients.filter((c) => c.closes.length > 0).length;
      notes.push(`${moved} clients moved from a to b; all back in service ${Math.round(performance.now() - tEvent)} ms after the ${name === 'drain' ? 'SIGTERM' : 'SIGKILL'}`);
    } else {
      const redis = cluster.redis;
      if (!redis) throw new Error('no redis');
      phase('steady traffic');
      const watch = cluster.nodes.map((n) => ({ n, w: watchReadyz(n) }));
      await sleep(200);
      await redis.kill();
      await sleep(size.redisOutageMs);
      await redis.start();
      const tBack = performance.now();
      await cluster.waitReady(cluster.nodes, 20_000);
      const mark = publisher.published;
      await fleet.waitAll((c) => c.client.connected && (c.feed.at(-1) ?? 0) > mark, 'every client receiving again (a publication made after Redis was back)', 60_000);
      notes.push(`Redis away ${size.redisOutageMs} ms (SIGKILL, restart on the same port and AOF dir); both nodes ready ${Math.round(performance.now() - tBack)} ms after it answered again`);
      for (const { n, w } of watch) {
        w.stop();
        notes.push(`node ${n.name} /readyz: ${w.statuses.join(' → ')}`);
        if (!(w.statuses.includes(503) && w.statuses.at(-1) === 200)) throw new Error(`node ${n.name} /readyz did not go 503 then 200 while Redis was away: ${w.statuses.join(' → ')}`);
      }
    }
    phase('the event, until every client was back in service');
    await sleep(size.steadyMs);
    fleet.stopSending();
    await publisher.stop();
    await fleet.settled(20_000);
    phase('steady traffic, then every message acknowledged');
    // Every accepted publication reaches every client; the application's records of what it processed
    // arrive over a pipe, not over the ack's socket: allow them a moment.
    await fleet.waitAll((c) => c.feed.length >= publisher.accepted.size, 'every accepted publication received', 15_000).catch((err: unknown) => notes.push(String(err)));
    await sleep(300);
    phase('every publication received');
    if (name === 'redis') {
      const closed = fleet.clients.filter((c) => c.closes.length > 0);
      if (closed.length > 0) notes.push(`FAIL: ${closed.length} clients lost their connection during the Redis restart (codes ${[...new Set(closed.flatMap((c) => c.closes.map((x) => x.code)))].join(',')})`);
      const reasons = publisher.rejectionReasons();
      notes.push(`publishes rejected while Redis was away: ${publisher.rejected.size} (${Object.entries(reasons).map(([k, v]) => `${v}× ${k}`).join('; ').slice(0, 300)})`);
    } else if (publisher.rejected.size > 0) {
      notes.push(`publishes rejected: ${JSON.stringify(publisher.rejectionReasons()).slice(0, 300)}`);
    }
    notes.push(...diagnosis(fleet, cluster));
    notes.push(`application records: ${[...cluster.app.byNode.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const v = verdict(fleet, publisher, cluster.app, { scenario: name, mustResume: name !== 'kill', ...(unackedAtKill ? { unackedAtKill } : {}) });
    const failures = [...v.failures, ...notes.filter((n) => n.startsWith('FAIL'))];
    if (name === 'kill') {
      const other = Object.entries(v.row.outcomes).filter(([k]) => !k.startsWith('RESUMED'));
      if (other.length > 0) notes.push(`outcomes other than RESUMED after the SIGKILL: ${other.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
    return { ...v, failures, notes };
  } catch (err) {
    notes.push(...diagnosis(fleet, cluster));
    throw err;
  } finally {
    fleet.close();
    await publisher.stop();
  }
}
