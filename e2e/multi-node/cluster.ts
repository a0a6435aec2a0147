/**
 * The multi-node e2e test's cluster: one redis-server (test/support/redis.ts), two Lifeline nodes
 * as separate processes (`lifeline serve --redis …` with the test's application), HAProxy in front
 * with the shipped two-node example (ops/haproxy/two-nodes.cfg) pointed at them. Everything on
 * loopback, every port free-picked. It also keeps the application's record: which client numbers
 * each node's onMessage processed, how often.
 */
import { createServer } from 'node:net';
import { startRedis, type RedisProcess } from '../../test/support/redis.js';
import { checkTiming, Haproxy, readTwoNodesConfig, rotationExitBoundMs, testConfig } from './haproxy.js';
import { NodeProcess } from './node-process.js';

/** Test-sized timing. The CI form and the thorough form share it; only sizes and durations differ. */
export const timing = {
  heartbeatIntervalMs: 1000, // 3 s to detect a dead peer: a loaded CI machine can stall a process for a second
  heartbeatMissedMax: 2,
  /** HAProxy's check interval and timeout, shrunk from the example's 1 s (fall and rise stay). */
  checkInterMs: 100,
  checkTimeoutMs: 200,
  drainDeadlineMs: 8000,
  drainSpreadMs: 2000,
} as const;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** What the application on all nodes processed: client → own number → times (and per node). */
export class AppRecord {
  private readonly counts = new Map<number, Map<number, number>>();
  readonly byNode = new Map<string, number>();
  readonly malformed: string[] = [];

  add(payload: string, _messageId: string, node: string): void {
    const m = /^c(\d+):(\d+)$/.exec(payload);
    if (!m) {
      this.malformed.push(payload);
      return;
    }
    const client = Number(m[1]);
    const n = Number(m[2]);
    let c = this.counts.get(client);
    if (!c) this.counts.set(client, (c = new Map()));
    c.set(n, (c.get(n) ?? 0) + 1);
    this.byNode.set(node, (this.byNode.get(node) ?? 0) + 1);
  }

  /** How many times the application processed client `client`'s number `n`. */
  count(client: number, n: number): number {
    return this.counts.get(client)?.get(n) ?? 0;
  }

  total(): number {
    let t = 0;
    for (const v of this.byNode.values()) t += v;
    return t;
  }
}

export interface ClusterOptions {
  /** Extra `lifeline serve` flags for both nodes. */
  readonly extraArgs?: readonly string[];
}

export class Cluster {
  readonly app = new AppRecord();
  readonly nodes: NodeProcess[] = [];
  redis: RedisProcess | undefined;
  haproxy: Haproxy | undefined;
  /** The --drain-delay-ms the nodes run with: the example's rotation-exit bound at the test's check timing. */
  drainDelayMs = 0;

  /** Start Redis (AOF on, appendfsync always: sessions survive its restart, spec §21), nodes a and b, and HAProxy. */
  async start(o: ClusterOptions = {}): Promise<void> {
    this.redis = await startRedis({ appendonly: true });
    const template = readTwoNodesConfig();
    const t = checkTiming(template);
    this.drainDelayMs = rotationExitBoundMs({ ...t, interMs: timing.checkInterMs, checkTimeoutMs: timing.checkTimeoutMs }) + 100;
    const args = (name: string) => [
      '--redis', (this.redis as RedisProcess).url,
      '--node-id', name,
      '--heartbeat-interval-ms', String(timing.heartbeatIntervalMs),
      '--heartbeat-missed-max', String(timing.heartbeatMissedMax),
      '--handshake-timeout-ms', '5000',
      '--drain-deadline-ms', String(timing.drainDeadlineMs),
      '--drain-spread-ms', String(timing.drainSpreadMs),
      '--drain-delay-ms', String(this.drainDelayMs),
      // Behind a proxy every connection comes from its address (HS-5, HS-16).
      '--upgrade-rate-per-second', 'Infinity',
      '--upgrade-burst', 'Infinity',
      '--max-pending-upgrades-per-ip', '100000',
      '--log-level', 'warn',
      '--no-metrics',
      ...(o.extraArgs ?? []),
    ];
    const started = await Promise.all(['a', 'b'].map((name) => NodeProcess.start({ name, args: args(name), onReceived: (p, id, node) => this.app.add(p, id, node) })));
    this.nodes.push(...started);
    const port = await freePort();
    const cfg = testConfig(template, {
      port,
      servers: this.nodes.map((n) => ({ name: n.name, port: n.port })),
      interMs: timing.checkInterMs,
      checkTimeoutMs: timing.checkTimeoutMs,
      connectTimeoutMs: 1000,
    });
    this.haproxy = await Haproxy.start(cfg, port);
    await this.waitReady(this.nodes, 15_000);
  }

  node(name: string): NodeProcess {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Until every node answers /readyz 200 and HAProxy has had time to see it (rise checks). */
  async waitReady(nodes: readonly NodeProcess[], timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    for (;;) {
      const statuses = await Promise.all(nodes.map((n) => n.readyz()));
      if (statuses.every((s) => s === 200)) break;
      if (performance.now() - t0 > timeoutMs) throw new Error(`nodes not ready after ${timeoutMs} ms: ${nodes.map((n, i) => `${n.name}=${statuses[i]}`).join(' ')}\n${nodes.map((n) => n.output()).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const t = checkTiming(readTwoNodesConfig());
    await new Promise((r) => setTimeout(r, timing.checkInterMs * (t.rise + 1)));
  }

  /** Kill what is still running (HAProxy, nodes, Redis) and remove their files. */
  async stop(): Promise<void> {
    await this.haproxy?.stop();
    for (const n of this.nodes) n.signal('SIGKILL');
    await Promise.all(this.nodes.map((n) => n.exited));
    await this.redis?.stop();
  }
}
