/**
 * MemoryHub: an in-process stand-in for one Redis shared by several nodes (issue 14), for unit tests,
 * the conformance self-run and mutants. `hub.broker(nodeId)` gives each node its Broker; the hub
 * keeps one history per channel, as a Redis stream would, with the same semantics as RedisBroker
 * (both run broker-contract.ts):
 *
 * - publish appends to the channel's history (bounded by `maxLen`, oldest trimmed first) at position
 *   "0-<n>", n growing per channel from 1, then delivers it SYNCHRONOUSLY, before publish's promise
 *   resolves, to every node that joined the channel (so a test sees it at once, as with MemoryBroker).
 *   Every node reads a channel as a Redis reader does: from its last delivered position up to the new
 *   one, so the order per channel is the append order on every node, and a position at or below the
 *   last delivered one is never delivered again (redelivery).
 * - join starts at the channel's current last position: what was published before is `since`'s job.
 * - `hub.setAvailable(false)`: Redis away for every node; `hub.broker(id).setAvailable(false)`: only
 *   that node lost Redis. While a node is away its publish and since reject BrokerUnavailableError,
 *   its health is not ready and nothing is delivered to it; when it is back it reads each joined
 *   channel from its last position (a gap, via onGap, when entries after it were trimmed meanwhile).
 */
import { BrokerUnavailableError, TRIMMED, type Broker, type DeliverLocally, type GapListener, type Publication } from './broker.js';
import { HealthFlag } from './health-flag.js';

export interface MemoryHubOptions {
  /** Entries kept per channel (XADD MAXLEN); older ones are trimmed. Default 10 000. */
  readonly maxLen?: number;
}

/** n of a position "<ms>-<n>" (the hub's are "0-<n>"). */
const seqOf = (position: string): number => Number(position.slice(position.indexOf('-') + 1));

/** One channel's history: a window [firstN, nextN) of positions "0-n". */
class ChannelLog {
  private entries: Publication[] = [];
  private head = 0;
  /** n of entries[head]; the entries before it (n < firstN) were trimmed. */
  firstN = 1;
  nextN = 1;

  append(p: Publication, maxLen: number): Publication {
    const entry: Publication = { ...p, position: `0-${this.nextN++}` };
    this.entries.push(entry);
    while (this.nextN - this.firstN > maxLen) {
      this.head++;
      this.firstN++;
    }
    // compact now and then: O(1) amortised trimming
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** Drop all but the newest `keep` entries (XTRIM MAXLEN = keep). */
  trim(keep: number): void {
    const drop = Math.max(0, this.nextN - this.firstN - keep);
    this.head += drop;
    this.firstN += drop;
  }

  get lastPosition(): string {
    return `0-${this.nextN - 1}`;
  }

  /** How many entries after position `n` were trimmed (0: none lost). */
  lostAfter(n: number): number {
    return Math.max(0, this.firstN - 1 - n);
  }

  /** Entries with position n in (after, upTo], the trimmed ones skipped. */
  slice(after: number, upTo = this.nextN - 1): Publication[] {
    const from = Math.max(after + 1, this.firstN);
    if (upTo < from) return [];
    const at = this.head + (from - this.firstN);
    return this.entries.slice(at, at + (upTo - from + 1));
  }
}

export class MemoryHub {
  private readonly logs = new Map<string, ChannelLog>();
  private readonly nodes = new Map<string, HubBroker>();
  private available = true;
  readonly maxLen: number;

  constructor(o: MemoryHubOptions = {}) {
    this.maxLen = o.maxLen ?? 10_000;
  }

  /** The broker of node `nodeId` (the same one on every call for an id); a fresh id when omitted. */
  broker(nodeId?: string): HubBroker {
    const id = nodeId ?? `node-${this.nodes.size + 1}`;
    let b = this.nodes.get(id);
    if (!b) this.nodes.set(id, (b = new HubBroker(this, id)));
    return b;
  }

  /** Redis away (false) for every node, or back (true): each node catches up by itself. */
  setAvailable(available: boolean): void {
    this.available = available;
    for (const b of this.nodes.values()) b.refresh();
  }

  isAvailable(): boolean {
    return this.available;
  }

  /** Trim `channel`'s history to its newest `keep` entries, as XTRIM would (tests of TRIMMED). */
  trim(channel: string, keep: number): void {
    this.logs.get(channel)?.trim(keep);
  }

  /** @internal */
  log(channel: string): ChannelLog | undefined {
    return this.logs.get(channel);
  }

  /** @internal Append, then deliver to every node that joined; resolves with `from`'s local count. */
  append(from: HubBroker, p: Publication): number {
    let log = this.logs.get(p.channel);
    if (!log) this.logs.set(p.channel, (log = new ChannelLog()));
    log.append(p, this.maxLen);
    const upTo = log.nextN - 1;
    let local = 0;
    for (const b of this.nodes.values()) {
      const n = b.pull(p.channel, upTo);
      if (b === from) local = n;
    }
    return local;
  }
}

/** One node's Broker on a MemoryHub. */
export class HubBroker implements Broker {
  readonly health = new HealthFlag(true);
  private deliver: DeliverLocally | undefined;
  private onGap: GapListener | undefined;
  /** Joined channels → the n of the last position delivered (or the join point). */
  private readonly joined = new Map<string, number>();
  private isSelfAvailable = true;
  private isClosed = false;

  constructor(
    private readonly hub: MemoryHub,
    readonly nodeId: string,
  ) {}

  bind(deliver: DeliverLocally, onGap?: GapListener): void {
    this.deliver = deliver;
    this.onGap = onGap;
  }

  publish(p: Publication): Promise<number> {
    if (!this.isUp()) return Promise.reject(new BrokerUnavailableError(`broker of ${this.nodeId} unavailable`));
    try {
      return Promise.resolve(this.hub.append(this, p));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** MN-2: the last position delivered on `channel` (or its join point). */
  tail(channel: string): string | undefined {
    const n = this.joined.get(channel);
    return n === undefined ? undefined : `0-${n}`;
  }

  join(channel: string): void {
    if (this.joined.has(channel)) return;
    // from the channel's current last position, as RedisBroker does (its join point)
    const log = this.hub.log(channel);
    this.joined.set(channel, log ? log.nextN - 1 : 0);
  }

  leave(channel: string): void {
    this.joined.delete(channel);
  }

  since(channel: string, position: string): Promise<readonly Publication[] | typeof TRIMMED> {
    if (!this.isUp()) return Promise.reject(new BrokerUnavailableError(`broker of ${this.nodeId} unavailable`));
    const log = this.hub.log(channel);
    if (!log) return Promise.resolve([]);
    const after = seqOf(position);
    return Promise.resolve(log.lostAfter(after) > 0 ? TRIMMED : log.slice(after));
  }

  /** This node loses its Redis (false) or gets it back (true, then catches up from its last positions). */
  setAvailable(available: boolean): void {
    this.isSelfAvailable = available;
    this.refresh();
  }

  close(): Promise<void> {
    this.isClosed = true;
    this.joined.clear();
    this.refresh();
    return Promise.resolve();
  }

  /** @internal The hub's or this node's availability changed. */
  refresh(): void {
    const up = this.isUp();
    if (!this.health.set(up) || !up) return;
    for (const channel of [...this.joined.keys()]) this.pull(channel);
  }

  /**
   * @internal Deliver `channel`'s entries after this node's last position, up to `upTo` (all when
   * omitted), as a Redis reader reads its stream; returns how many local sessions queued them.
   */
  pull(channel: string, upTo?: number): number {
    const last = this.joined.get(channel);
    const log = this.hub.log(channel);
    if (last === undefined || !log || !this.isUp()) return 0;
    const lost = log.lostAfter(last);
    if (lost > 0) {
      this.joined.set(channel, log.firstN - 1);
      this.onGap?.(channel, lost);
    }
    let count = 0;
    for (const p of log.slice(this.joined.get(channel) ?? last, upTo)) {
      // the node may have left the channel from inside a delivery
      const at = this.joined.get(channel);
      if (at === undefined) break;
      const n = seqOf(p.position as string);
      if (n <= at) continue; // a redelivery: never twice
      this.joined.set(channel, n);
      count += this.deliver?.(p) ?? 0;
    }
    return count;
  }

  private isUp(): boolean {
    return !this.isClosed && this.isSelfAvailable && this.hub.isAvailable();
  }
}
