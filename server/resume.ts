/**
 * What a resuming Hello gets (RS-2, RS-3, RS-4, RS-5, RS-8): replay of everything
 * after the client's last seq, or, when that is impossible, a SNAPSHOT outcome.
 * Never a partial replay (RS-3).
 */
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { OutboundLog, Sent } from '../spec/protocol/outbound-log.js';

export interface ResumePlan {
  readonly outcome: ResumeOutcome.RESUMED | ResumeOutcome.SNAPSHOT;
  readonly reason: ResumeReason;
  /** The frames to resend, in order, with their original seq (RESUMED only). */
  readonly replay: readonly Sent<Uint8Array>[];
}

/**
 * Decide, and apply to the log: on RESUMED the log counts everything up to
 * `lastServerSeq` as acked; on SNAPSHOT it releases every unacked message, which
 * the snapshots replace (the seq space continues, SEQ-2).
 */
export function planResume(log: OutboundLog<Uint8Array>, lastServerSeq: bigint, isContinuityLost: boolean): ResumePlan {
  let reason: ResumeReason | undefined;
  if (lastServerSeq > log.lastSent) reason = ResumeReason.CLIENT_AHEAD; // RS-8
  else if (isContinuityLost) reason = ResumeReason.REPLAY_WINDOW_EXCEEDED; // BP-11: dropped while detached
  if (reason === undefined) {
    const replay = log.replayAfter(lastServerSeq);
    if (replay) return { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, replay }; // RS-2
    reason = ResumeReason.REPLAY_WINDOW_EXCEEDED; // RS-3: a message it needs was released
  }
  log.ack(log.lastSent);
  return { outcome: ResumeOutcome.SNAPSHOT, reason, replay: [] }; // RS-4
}
