/**
 * The demo page's gap counter: evidence that recovery lost nothing from the server. A gap is
 * counted when the client itself detects a seq gap (its cursor reports StateDrift SEQ_GAP, SD-2),
 * or when a RESUMED Welcome starts past the next seq the client expected (RS-10: from_seq must be
 * last + 1, or lower for messages the client will discard as duplicates). A SNAPSHOT or NEW
 * outcome is not a gap: it says openly that continuity was re-established by Snapshots (RS-4,
 * RS-6), and the page shows the outcome next to the counter.
 *
 * Pure, browser-safe.
 */
import type { DriftReasonName, ResumeOutcomeName } from '../client/index.js';

export interface SeqWatchState {
  /** Seq gaps seen; stays 0 when every recovery replayed what was missed. */
  readonly gaps: number;
  /** Highest seq processed contiguously, as last observed. */
  readonly lastSeq: bigint;
  /** Welcomes by outcome since the page loaded. */
  readonly welcomes: Readonly<Record<ResumeOutcomeName, number>>;
  /** Why each gap was counted (newest last), for the event log. */
  readonly reasons: readonly string[];
}

export class SeqWatch {
  private gapCount = 0;
  private last = 0n;
  private readonly counts: Record<ResumeOutcomeName, number> = { new: 0, resumed: 0, snapshot: 0 };
  private readonly why: string[] = [];

  /** The client's contiguous seq after any event. */
  observe(lastSeq: bigint): void {
    this.last = lastSeq;
  }

  /**
   * A Welcome arrived; `lastSeqBefore` is what the client had processed before it (the value it
   * sent in Hello.last_server_seq).
   */
  onWelcome(outcome: ResumeOutcomeName, fromSeq: bigint, lastSeqBefore: bigint): void {
    this.counts[outcome]++;
    if (outcome === 'resumed' && fromSeq > lastSeqBefore + 1n) {
      this.gap(`resumed from seq ${fromSeq} after ${lastSeqBefore}: seqs ${lastSeqBefore + 1n}…${fromSeq - 1n} never arrived`);
    }
  }

  /** A drift the client reported itself (from 'client'), or one the server announced. */
  onDrift(from: 'client' | 'server', reason: DriftReasonName | 'server'): void {
    if (from === 'client' && reason === 'seq-gap') this.gap('the client saw a seq gap (SD-2)');
  }

  get state(): SeqWatchState {
    return { gaps: this.gapCount, lastSeq: this.last, welcomes: { ...this.counts }, reasons: [...this.why] };
  }

  private gap(reason: string): void {
    this.gapCount++;
    this.why.push(reason);
  }
}
