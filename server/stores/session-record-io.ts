/**
 * A live session to its SessionRecord and back (issue 12): what survives the node, written from
 * the session's own structures (the replay frames are the bytes its OutboundLog holds, not copies)
 * and read into a new LiveSession on the node that continues it.
 */
import type { BackpressurePolicy, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import type { OutboundLog } from '../../spec/protocol/outbound-log.js';
import type { ClientInbound } from '../inbound.js';
import type { LocalChannels } from './local-channels.js';
import type { MachineRecord, SessionRecord, SubscriptionRecord } from './session-record.js';

/**
 * The parts of a live session (server/session.ts) a record is made of and restored into. A shape
 * of its own, not LiveSession: session.ts calls recordOfSession, so naming LiveSession here would
 * make the two modules import each other (issue 12: no import cycle in server/).
 */
export interface RecordedSession {
  readonly id: string;
  readonly principal: string;
  readonly policy: BackpressurePolicy;
  readonly log: OutboundLog<Uint8Array>;
  readonly inbound: ClientInbound;
  readonly subscriptions: ReadonlySet<string>;
  /** Subscribe again to a channel of the record (no Snapshot request: the resume decides, RS-4). */
  restoreSubscription(channel: string): void;
  /** The broker position of the last publication of `channel` in the stream (MN-2), where known. */
  positionOf(channel: string): string | undefined;
  /** A stored channel position (MN-2): publications at or below it are not taken again. */
  restorePosition(channel: string, position: string): void;
  isContinuityLost: boolean;
  newReason: ResumeReason;
}

/**
 * The empty list of a record (no replay, no channels): one frozen array for all, since a memory
 * store keeps every detached session's record (issue 12, memory per idle session); records are values.
 */
const NONE = Object.freeze([]) as readonly never[];

/** The session as a record; `times` are epoch ms. */
export function recordOfSession(s: RecordedSession, times: { readonly createdAtMs: number; readonly expiresAtMs: number | undefined }, machine?: MachineRecord): SessionRecord {
  return {
    id: s.id,
    principal: s.principal,
    createdAtMs: times.createdAtMs,
    expiresAtMs: times.expiresAtMs,
    policy: s.policy,
    receiveWindow: s.log.window,
    outbound: { next: s.log.next, acked: s.log.acked, replay: s.log.inFlight === 0 ? NONE : s.log.pending().map((f) => ({ seq: f.seq, bytes: f.item })) },
    inbound: { lastProcessed: s.inbound.lastProcessed, lastAckSent: s.inbound.lastAckSent },
    subscriptions: subscriptionsOf(s),
    isContinuityLost: s.isContinuityLost,
    newReason: s.newReason,
    machine,
    owner: undefined,
  };
}

/** The session's channels as the record has them, with their positions (MN-2, MN-15). */
export function subscriptionsOf(s: Pick<RecordedSession, 'subscriptions' | 'positionOf'>): readonly SubscriptionRecord[] {
  return s.subscriptions.size === 0 ? NONE : [...s.subscriptions].map((channel) => subscriptionOf(s, channel));
}

/** One channel of the record, with its position when the session has one (MN-2). */
function subscriptionOf(s: Pick<RecordedSession, 'positionOf'>, channel: string): SubscriptionRecord {
  const position = s.positionOf(channel);
  return position === undefined ? { channel } : { channel, position };
}

/** Continue the stored session's state in `s` (built with the record's window and policy): seqs both ways, replay, channels, flags. */
export function restoreSession<S extends RecordedSession>(s: S, r: SessionRecord, channels: LocalChannels<S>): void {
  s.newReason = r.newReason;
  s.isContinuityLost = r.isContinuityLost; // BP-11
  s.log.restore(r.outbound.next, r.outbound.acked, r.outbound.replay.map((f) => ({ seq: f.seq, item: f.bytes, bytes: f.bytes.byteLength }))); // SEQ-2, SEQ-7
  s.inbound.restore(r.inbound.lastProcessed, r.inbound.lastAckSent); // SEQ-3, SEQ-9
  for (const sub of r.subscriptions) {
    s.restoreSubscription(sub.channel);
    if (sub.position !== undefined) s.restorePosition(sub.channel, sub.position); // MN-2
    channels.join(sub.channel, s); // CH-1: publications reach it again
  }
}
