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
 * The unacked items of a log that has sent nothing yet: one shared, frozen empty array, replaced on
 * the first send, so an idle session holds no array of its own (issue 12, memory per idle session).
 */
const NOTHING_SENT = Object.freeze([]) as unknown as never[];

export class OutboundLog<T> {
  /** Sent, not yet acked, in seq order. A plain array: shift() on acks is amortised cheap for windows ≤ a few thousand. */
  private unacked: Sent<T>[] = NOTHING_SENT;
  private head = 0;
  private nextSeq = 1n;
  private ackedSeq = 0n;
  private unackedBytes = 0;
  window: number;

  constructor(opts: OutboundLogOptions) {
    this.window = Math.max(1, opts.window);
  }

  /** Seq the next sent message gets. */
  get next(): bigint {
    return this.nextSeq;
  }
  /** Highest seq sent so far (0 = none). */
  get lastSent(): bigint {
    return this.nextSeq - 1n;
  }
  /** Highest seq the peer acknowledged. */
  get acked(): bigint {
    return this.ackedSeq;
  }
  get inFlight(): number {
    return this.unacked.length - this.head;
  }
  get inFlightBytes(): number {
    return this.unackedBytes;
  }
  /** The window has room for one more (BP-1). */
  get hasRoom(): boolean {
    return this.inFlight < this.window;
  }

  /** Number an item and keep it until acked (SEQ-2, SEQ-7). The caller checks hasRoom. */
  send(item: T, bytes = 0): Sent<T> {
    const sent: Sent<T> = { seq: this.nextSeq, item, bytes };
    this.nextSeq += 1n;
    if (this.unacked === NOTHING_SENT) this.unacked = [];
    this.unacked.push(sent);
    this.unackedBytes += bytes;
    return sent;
  }

  /**
   * Apply a cumulative ack (SEQ-5). Returns the items it released. An ack beyond
   * what was sent is a protocol error (SEQ-6); an old ack is ignored.
   */
  ack(seq: bigint): Sent<T>[] {
    if (seq > this.lastSent) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SEQ-6', `ack ${seq} beyond last sent ${this.lastSent}`);
    }
    if (seq <= this.ackedSeq) return []; // SEQ-6: stale ack
    this.ackedSeq = seq;
    const released: Sent<T>[] = [];
    while (this.head < this.unacked.length && (this.unacked[this.head] as Sent<T>).seq <= seq) {
      const s = this.unacked[this.head++] as Sent<T>;
      this.unackedBytes -= s.bytes;
      released.push(s);
    }
    // Compact once the dead prefix dominates, keeping shift-free acks O(1) amortised.
    if (this.head > 64 && this.head * 2 > this.unacked.length) {
      this.unacked = this.unacked.slice(this.head);
      this.head = 0;
    }
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
    if (peerSeq < this.ackedSeq) return undefined;
    // Everything ≤ peerSeq is processed by the peer: count it as acked.
    this.ack(peerSeq);
    return this.unacked.slice(this.head);
  }

  /**
   * Replace every unacked item by `copy(item)`, in place: for a sender that will hold them a while
   * (a detached session, a full window), so a retained frame stops pinning whatever larger buffer
   * it was carved from (fast-codec's slabs). Seqs and byte counts are unchanged.
   */
  compact(copy: (item: T) => T): void {
    for (let i = this.head; i < this.unacked.length; i++) {
      const s = this.unacked[i] as Sent<T>;
      const item = copy(s.item);
      if (item !== s.item) this.unacked[i] = { seq: s.seq, item, bytes: s.bytes };
    }
  }

  /**
   * Continue a stream another process started (issue 12: a session revived from its stored record):
   * the next seq, the cumulative ack and the unacked items, in seq order above `acked`.
   */
  restore(next: bigint, acked: bigint, unacked: readonly Sent<T>[]): void {
    if (acked >= next || unacked.some((s, i) => s.seq <= acked || s.seq >= next || (i > 0 && s.seq <= (unacked[i - 1] as Sent<T>).seq))) {
      throw new RangeError(`restore: unacked seqs must lie in (${acked}, ${next}) in order (SEQ-2)`);
    }
    this.unacked = [...unacked];
    this.head = 0;
    this.nextSeq = next;
    this.ackedSeq = acked;
    this.unackedBytes = unacked.reduce((n, s) => n + s.bytes, 0);
  }

  /** All unacked items, oldest first (client resend after a NEW session, SEQ-9). */
  pending(): Sent<T>[] {
    return this.unacked.slice(this.head);
  }

  /**
   * Start a new seq space (a NEW session): drop the numbering and return the
   * unacked items so the caller can send them again as new messages (SEQ-9).
   */
  reset(): T[] {
    const items = this.pending().map((s) => s.item);
    this.unacked = [];
    this.head = 0;
    this.nextSeq = 1n;
    this.ackedSeq = 0n;
    this.unackedBytes = 0;
    return items;
  }
}
