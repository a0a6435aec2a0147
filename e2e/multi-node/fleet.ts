/**
 * The clients of the multi-node e2e test: N reference clients (client/node public API) through the
 * load balancer, each subscribed to the publisher's channel and sending numbered messages with
 * message ids at a steady rate. Each records what a verdict needs: its Welcomes (outcome, reason),
 * its closes, the seq and publisher number of every message it got, and which of its own numbers
 * were acknowledged.
 */
import type { LifelineClient } from '../../client/index.js';
import { createNodeClient } from '../../client/node.js';

const dec = new TextDecoder();

export const FEED = 'feed';

/** Client timings: small, for a test, and patient enough for a loaded 2-core machine. */
export const fleetClientTimings = {
  reconnectBaseMs: 20,
  reconnectCapMs: 250,
  reconnectMaxAttempts: 10_000,
  handshakeTimeoutMs: 3000,
  ackDelayMs: 5,
} as const;

export interface WelcomeRecord {
  readonly at: number;
  readonly outcome: string;
  readonly reason: string;
}

export class FleetClient {
  readonly welcomes: WelcomeRecord[] = [];
  readonly closes: { at: number; code: number; byClient: boolean }[] = [];
  readonly drains: number[] = [];
  /** Publisher numbers in arrival order, and the seqs that carried them. */
  readonly feed: number[] = [];
  readonly seqs: bigint[] = [];
  readonly droppedBefore: number[] = [];
  readonly drifts: string[] = [];
  /** Own numbers sent (1 … sent), and those the server acknowledged (send() resolved). */
  sent = 0;
  readonly acked = new Set<number>();
  readonly failed = new Map<number, string>();
  readonly client: LifelineClient;

  constructor(
    readonly index: number,
    url: string,
  ) {
    this.client = createNodeClient({ url, channels: [FEED], ...fleetClientTimings, autoConnect: false });
    this.client.onEvent((e) => {
      const at = performance.now();
      switch (e.type) {
        case 'welcome':
          this.welcomes.push({ at, outcome: e.outcome, reason: e.reason });
          break;
        case 'closed':
          this.closes.push({ at, code: e.code, byClient: e.byClient });
          break;
        case 'drain':
          this.drains.push(at);
          break;
        case 'message':
          if (e.channel !== FEED) break;
          this.feed.push(Number(dec.decode(e.payload)));
          this.seqs.push(e.seq);
          if (e.droppedBefore > 0) this.droppedBefore.push(e.droppedBefore);
          break;
        case 'drift':
          this.drifts.push(`${e.channel}:${e.reason}:${e.from}`);
          break;
        default:
          break;
      }
    });
  }

  /** The payload of own message n: "c<index>:<n>", with message id "c<index>-<n>". */
  static payload(index: number, n: number): string {
    return `c${index}:${n}`;
  }

  sendNext(): void {
    const n = ++this.sent;
    this.client.send(FleetClient.payload(this.index, n), { messageId: `c${this.index}-${n}` }).then(
      () => this.acked.add(n),
      (err: unknown) => this.failed.set(n, err instanceof Error ? err.message : String(err)),
    );
  }

  /** Own numbers sent and not (yet) acknowledged. */
  unacked(): number[] {
    const out: number[] = [];
    for (let n = 1; n <= this.sent; n++) if (!this.acked.has(n)) out.push(n);
    return out;
  }

  /** ms from each close to the Welcome that followed it (a resume, or a new session). */
  resumeTimes(): number[] {
    const out: number[] = [];
    for (const c of this.closes) {
      const w = this.welcomes.find((x) => x.at >= c.at);
      if (w) out.push(w.at - c.at);
    }
    return out;
  }
}

export class Fleet {
  readonly clients: FleetClient[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(url: string, size: number) {
    for (let i = 0; i < size; i++) this.clients.push(new FleetClient(i, url));
  }

  /** Connect every client, a few at a time (a real fleet does not arrive in one tick), and wait for each Welcome. */
  async connect(timeoutMs: number): Promise<void> {
    for (const c of this.clients) {
      c.client.connect();
      if (c.index % 20 === 19) await new Promise((r) => setTimeout(r, 5));
    }
    await this.waitAll((c) => c.client.connected, 'every client connected', timeoutMs);
  }

  /**
   * Every client sends one numbered message per `intervalMs`, the fleet spread evenly over the
   * interval, paced by the wall clock (one timer for all): on a loaded machine a late tick sends
   * what was due since the last one, so the rate holds on average.
   */
  startSending(intervalMs: number): void {
    const t0 = performance.now();
    let done = 0;
    let next = 0;
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / intervalMs) * this.clients.length);
      for (; done < due; done++) {
        this.clients[next]?.sendNext();
        next = (next + 1) % this.clients.length;
      }
    }, 10);
  }

  stopSending(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Wait until `ok` holds for every client; the timeout names `what` and how many lag. */
  async waitAll(ok: (c: FleetClient) => boolean, what: string, timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    for (;;) {
      const lagging = this.clients.filter((c) => !ok(c));
      if (lagging.length === 0) return;
      if (performance.now() - t0 > timeoutMs) {
        const sample = lagging.slice(0, 5).map((c) => `c${c.index} state=${c.client.state} welcomes=${c.welcomes.length} sent=${c.sent} acked=${c.acked.size}`);
        throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}: ${lagging.length} of ${this.clients.length} clients lag (${sample.join('; ')})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Every message sent is acknowledged or failed. */
  settled(timeoutMs: number): Promise<void> {
    return this.waitAll((c) => c.acked.size + c.failed.size >= c.sent, 'every sent message acknowledged', timeoutMs);
  }

  close(): void {
    this.stopSending();
    for (const c of this.clients) c.client.close();
  }
}
