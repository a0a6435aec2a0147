/**
 * The receiver's half of a sequenced direction (SEQ-3, SEQ-4, SEQ-5): classifies
 * each arriving seq, remembers the highest processed, and says when an ack is due.
 * The rules themselves are the pure functions of session-rules.ts.
 */
import { arrivalOf, isAckDueNow, type Arrival } from './session-rules.js';

export type { Arrival };

export class InboundCursor {
  private processed: bigint;
  private ackedUpTo: bigint;

  constructor(lastProcessed = 0n) {
    this.processed = lastProcessed;
    this.ackedUpTo = lastProcessed;
  }

  /** Highest seq processed contiguously: the cumulative ack value. */
  get last(): bigint {
    return this.processed;
  }
  /** Highest seq already acknowledged to the peer. */
  get lastAcked(): bigint {
    return this.ackedUpTo;
  }
  /** Processed but not yet acknowledged. */
  get unackedCount(): number {
    return Number(this.processed - this.ackedUpTo);
  }

  /** SEQ-3, SEQ-4. */
  classify(seq: bigint): Arrival {
    return arrivalOf(seq, this.processed);
  }

  /** Mark the next seq processed. Call only after classify() said 'next'. */
  advance(seq: bigint): void {
    this.processed = seq;
  }

  /** Expect `nextSeq` next (RS-10: Welcome.resume.from_seq; SD-5: after a re-baseline). */
  rebase(nextSeq: bigint): void {
    this.processed = nextSeq > 0n ? nextSeq - 1n : 0n;
    if (this.ackedUpTo > this.processed) this.ackedUpTo = this.processed;
  }

  /** An ack is due at once when half the peer's window is processed but unacked (SEQ-5). */
  ackDueNow(peerWindow: number): boolean {
    return isAckDueNow(this.unackedCount, peerWindow); // unackedCount read once: it subtracts two bigints
  }

  /** Record that an Ack for `last` was sent; returns the seq to put in it. */
  markAcked(): bigint {
    this.ackedUpTo = this.processed;
    return this.processed;
  }
}
