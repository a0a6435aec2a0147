/**
 * The publisher of the multi-node e2e test: numbers 1, 2, 3 … at a steady rate to one channel,
 * each through one of the nodes in service (round robin, over their loopback admin endpoint:
 * node-app.ts). A number the broker took is "accepted": every subscriber must get it once. A number
 * it refused (Redis away: the node answers 503 with the broker's error) or that got no answer is
 * "rejected": the caller was told, so it is not a loss; it may or may not arrive, never twice.
 */
import type { NodeProcess } from './node-process.js';

export class Publisher {
  readonly accepted = new Set<number>();
  readonly rejected = new Map<number, string>();
  private next = 1;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private turn = 0;
  /** The nodes it publishes through; a scenario takes a node out before stopping it. */
  targets: NodeProcess[];

  constructor(
    readonly channel: string,
    targets: readonly NodeProcess[],
  ) {
    this.targets = [...targets];
  }

  get published(): number {
    return this.next - 1;
  }

  /** Publish at this rate, paced by the wall clock (a late tick publishes what is due, one at a time). */
  start(ratePerSecond: number): void {
    const t0 = performance.now();
    this.timer = setInterval(() => {
      if (this.published < Math.floor(((performance.now() - t0) / 1000) * ratePerSecond)) this.publishOne();
    }, 5);
  }

  private publishOne(): void {
    // One at a time: n + 1 is published only after the broker answered for n, so the numbers'
    // order is the channel's order whichever node each went through (a tick while one is in
    // flight is skipped: the rate drops while Redis is slow or away, the order never breaks).
    if (this.inFlight.size > 0) return;
    const node = this.targets[this.turn++ % Math.max(1, this.targets.length)];
    const n = this.next++;
    if (!node) {
      this.rejected.set(n, 'no node in service');
      return;
    }
    const p = node.publish(this.channel, n).then((r) => {
      if (r === true) this.accepted.add(n);
      else this.rejected.set(n, `${node.name}: ${r}`);
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Stop and wait for the answers of the publishes in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
  }

  /** The rejections grouped by reason, e.g. { "b: 503 BrokerUnavailableError: …": 12 }. */
  rejectionReasons(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.rejected.values()) out[r] = (out[r] ?? 0) + 1;
    return out;
  }
}
