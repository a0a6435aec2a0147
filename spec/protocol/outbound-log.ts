/**
 * The sender's half of a sequenced direction (SEQ-2, SEQ-6, SEQ-7, BP-1, RS-2):
 * it numbers messages as they go onto the socket, keeps them until the peer's
 * cumulative ack covers them, and hands them back for replay after a resume.
 * Both ends use it: the server for its stream, the client for its sends.
 *
 * Seqs are given at send time, not at enqueue time, so whatever a backpressure
 * policy drops before sending never leaves a gap (spec §7).
 */
import { ProtocolError } from './errors.js';

export interface Sent<T> {
  readonly seq: bigint;
  readonly item: T;
  readonly bytes: number;
}

export interface OutboundLogOptions {
  /** Peer's receive window: most sent-unacked messages (BP-1). */
  readonly window: number;
}

/**
 * The unacked entries of a log that has sent nothing yet: shared, frozen empty arrays, replaced on
 * the first send, so an idle session holds no arrays of its own (issue 12, memory per idle session).
 */
const NOTHING_SENT = Object.freeze([]) as unknown as never[];
const NO_NUMBERS = Object.freeze([]) as unknown as number[];

/**
 * Seqs are uint64 on the wire (SEQ-2) but kept here as numbers: a session numbering a million
 * messages a second would pass 2^53 after 285 years. The bigint is made only where a seq leaves
 * (the getters, Sent). restore() refuses a stream beyond it.
 */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const MAX_SEQ_N = BigInt(MAX_SEQ);

export class OutboundLog<T> {
  /**
   * Sent, not yet acked, in seq order: the items, and beside them two numbers per item, its seq and
   * its bytes (issue 16: no Sent object and no bigint per send; Sent objects are made only for the
   * callers that ask for entries: acks on the client, replay, the stored record). Entries before
   * `head` are released; the arrays are compacted once those dominate.
   */
  private items: T[] = NOTHING_SENT;
  private nums: number[] = NO_NUMBERS;
  private head = 0;
  private nextN = 1;
  private ackedN = 0;
  private unackedBytes = 0;
  window: number;

  constructor(opts: OutboundLogOptions) {
    this.window = Math.max(1, opts.window);
  }

  /** Seq the next sent message gets. */
  get next(): bigint {
    return BigInt(this.nextN);
  }
  /** Highest seq sent so far (0 = none). */
  get lastSent(): bigint {
    return BigInt(this.nextN - 1);
  }
  /** Highest seq the peer acknowledged. */
  get acked(): bigint {
    return BigInt(this.ackedN);
  }
  get inFlight(): number {
    return this.items.length - this.head;
  }
  get inFlightBytes(): number {
    return this.unackedBytes;
  }
  /** The window has room for one more (BP-1). */
  get hasRoom(): boolean {
    return this.items.length - this.head < this.window;
  }

  /** Number an item (seq = `next`) and keep it until acked (SEQ-2, SEQ-7). The caller checks hasRoom. */
  send(item: T, bytes = 0): void {
    if (this.items === NOTHING_SENT) {
      this.items = [];
      this.nums = [];
    }
    this.items.push(item);
    this.nums.push(this.nextN++, bytes);
    this.unackedBytes += bytes;
  }

  private entry(i: number): Sent<T> {
    return { seq: BigInt(this.nums[2 * i] as number), item: this.items[i] as T, bytes: this.nums[2 * i + 1] as number };
  }

  private entriesFrom(i: number): Sent<T>[] {
    const out: Sent<T>[] = [];
    for (; i < this.items.length; i++) out.push(this.entry(i));
    return out;
  }

  /** Release what a cumulative ack covers (SEQ-5, SEQ-6 as ack()); returns how many entries it released. */
  private release(seq: bigint): number {
    const last = this.nextN - 1;
    if (seq > BigInt(last)) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SEQ-6', `ack ${seq} beyond last sent ${last}`);
    }
    const n = Number(seq); // ≤ last: exact
    if (n <= this.ackedN) return 0; // SEQ-6: stale ack
    this.ackedN = n;
    const from = this.head;
    const items = this.items;
    const nums = this.nums;
    let h = from;
    while (h < items.length && (nums[2 * h] as number) <= n) {
      this.unackedBytes -= nums[2 * h + 1] as number;
      items[h] = undefined as T; // released: the log no longer keeps the item alive
      h++;
    }
    this.head = h;
    return h - from;
  }

  /** Compact once the dead prefix dominates, keeping shift-free acks O(1) amortised. */
  private compactHead(): void {
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.nums = this.nums.slice(2 * this.head);
      this.head = 0;
    }
  }

  /**
   * Apply a cumulative ack (SEQ-5) without returning what it released (the server: nothing waits on
   * its messages). An ack beyond what was sent is a protocol error (SEQ-6); an old ack is ignored.
   */
  acknowledge(seq: bigint): void {
    this.release(seq);
    this.compactHead();
  }

  /**
   * Apply a cumulative ack (SEQ-5). Returns the items it released. An ack beyond
   * what was sent is a protocol error (SEQ-6); an old ack is ignored.
   */
  ack(seq: bigint): Sent<T>[] {
    const before = this.head;
    // The released entries are read before release() clears their items.
    const last = this.nextN - 1;
    if (seq > BigInt(last) || Number(seq) <= this.ackedN) {
      this.release(seq); // throws beyond (SEQ-6), nothing for a stale ack
      return [];
    }
    const n = Number(seq);
    const released: Sent<T>[] = [];
    for (let i = before; i < this.items.length && (this.nums[2 * i] as number) <= n; i++) released.push(this.entry(i));
    this.release(seq);
    this.compactHead();
    return released;
  }

  /**
   * What to resend for a peer that processed everything up to `peerSeq` (RS-2,
   * SEQ-9): the unacked messages above it, in order. Returns undefined when the
   * peer is ahead of what was sent (RS-8) or when a message it needs was already
   * released, so the caller must fall back to a snapshot (RS-3, never partial).
   */
  replayAfter(peerSeq: bigint): Sent<T>[] | undefined {
    if (peerSeq > this.lastSent) return undefined;
    if (peerSeq < BigInt(this.ackedN)) return undefined;
    // Everything ≤ peerSeq is processed by the peer: count it as acked.
    this.acknowledge(peerSeq);
    return this.entriesFrom(this.head);
  }

  /**
   * Replace every unacked item by `copy(item)`, in place: for a sender that will hold them a while
   * (a detached session, a full window), so a retained frame stops pinning whatever larger buffer
   * it was carved from (fast-codec's slabs). Seqs and byte counts are unchanged.
   */
  compact(copy: (item: T) => T): void {
    for (let i = this.head; i < this.items.length; i++) this.items[i] = copy(this.items[i] as T);
  }

  /**
   * Continue a stream another process started (issue 12: a session revived from its stored record):
   * the next seq, the cumulative ack and the unacked items, in seq order above `acked`.
   */
  restore(next: bigint, acked: bigint, unacked: readonly Sent<T>[]): void {
    if (acked >= next || unacked.some((s, i) => s.seq <= acked || s.seq >= next || (i > 0 && s.seq <= (unacked[i - 1] as Sent<T>).seq))) {
      throw new RangeError(`restore: unacked seqs must lie in (${acked}, ${next}) in order (SEQ-2)`);
    }
    if (next > MAX_SEQ_N) throw new RangeError(`restore: next seq ${next} beyond 2^53 - 1`);
    this.items = unacked.map((s) => s.item);
    this.nums = unacked.flatMap((s) => [Number(s.seq), s.bytes]);
    this.head = 0;
    this.nextN = Number(next);
    this.ackedN = Number(acked);
    this.unackedBytes = unacked.reduce((n, s) => n + s.bytes, 0);
  }

  /** All unacked items, oldest first (client resend after a NEW session, SEQ-9). */
  pending(): Sent<T>[] {
    return this.entriesFrom(this.head);
  }

  /**
   * Start a new seq space (a NEW session): drop the numbering and return the
   * unacked items so the caller can send them again as new messages (SEQ-9).
   */
  reset(): T[] {
    const items = this.items.slice(this.head);
    this.items = [];
    this.nums = [];
    this.head = 0;
    this.nextN = 1;
    this.ackedN = 0;
    this.unackedBytes = 0;
    return items;
  }
}
