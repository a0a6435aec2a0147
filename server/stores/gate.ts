/**
 * One session's write-ahead state (issue 14, MN-1, MN-2): what the store holds of it, what the
 * socket has, what waits, and the delta of a commit. write-ahead.ts batches and sends the commits.
 */
import type { OutboundLog } from '../../spec/protocol/outbound-log.js';
import type { ReplayFrame, SessionRecord, SubscriptionRecord } from './session-record.js';
import type { RecordDelta } from './session-store.js';

/** What the write-ahead reads from, and tells, a session (server/session-outbound.ts implements it). */
export interface WriteAheadHost {
  readonly id: string;
  /** The fence of this node's claim; 0 until the store has the session (nothing is committed before). */
  readonly fence: number;
  readonly log: OutboundLog<Uint8Array>;
  /** The client's stream as the session has it now (SEQ-3, SEQ-5). */
  inboundCursor(): SessionRecord['inbound'];
  /** This session's write-ahead state; undefined when its store is not shared. */
  readonly gate: Gate | undefined;
  /** The channels now subscribed, with their positions (MN-15: committed when they changed). */
  subscriptionList(): readonly SubscriptionRecord[];
  /** A commit resolved: the store holds more (gate.storedSeq, gate.storedProcessed, gate.storedChannels). */
  committed(): void;
  /** The store refused the session for good (ReplayCapError): serving it failed (CC-5). */
  commitFailed(err: unknown): void;
}

/** One in-flight commit: what it will make the store hold. */
interface Attempt {
  readonly fence: number;
  readonly top: bigint;
  readonly acked: bigint;
  readonly inbound: SessionRecord['inbound'] | undefined;
  /** The channel list's change count this commit stores; undefined when it carries no list. */
  readonly channels: number | undefined;
}

/**
 * One session's write-ahead state: what the store holds of it, what the socket has, what waits.
 * Only sessions of a shared store have one (one field on the session otherwise: memory per idle session).
 */
export class Gate {
  /** Highest frame seq the store holds (MN-1): frames up to it may go to the socket. */
  storedSeq = 0n;
  private storedAcked = 0n;
  /** The inbound cursor the store holds (MN-1): an Ack up to it may go to the client. */
  storedProcessed = 0n;
  private storedAckSent = 0n;
  /** Highest frame seq written to the current socket. */
  wireSeq = 0n;
  /** An Ack due but not yet allowed (its cursor is not stored yet); the newest only, acks are cumulative. */
  heldAck: bigint | undefined;
  /**
   * MN-2: the publications sequenced and not yet stored, by the seq of the frame that carries each,
   * in seq order. A commit carries the positions of exactly the frames it stores (never one whose
   * frame the store does not hold); a frame stored drops its entry.
   */
  private framePositions: FramePosition[] | undefined;
  /** Channel → position of the last publication sequenced (the record's SubscriptionRecord.position). */
  sentPositions: Map<string, string> | undefined;
  /** Changes of the channel list so far (MN-15), and how many of them the store holds. */
  channels = 0;
  storedChannels = 0;
  /** Control replies that must not overtake the commit of a channel change (Subscribed, CH-4, MN-15). */
  heldControl: { readonly channels: number; readonly bytes: Uint8Array }[] | undefined;
  attempt: Attempt | undefined;
  /** The commit in flight, settled (exclusive() waits for it). */
  inFlight: Promise<void> | undefined;
  /** Whole-record writes running (exclusive()): no commit starts meanwhile. */
  exclusive = 0;
  isDirty = false;
  isGone = false;

  /** The session continues from what the store holds now (a new session, a revive, a whole-record save). */
  reset(log: OutboundLog<Uint8Array>, inbound: SessionRecord['inbound']): void {
    this.storedSeq = log.lastSent;
    this.storedAcked = log.acked;
    this.storedProcessed = inbound.lastProcessed;
    this.storedAckSent = inbound.lastAckSent;
    this.wireSeq = log.lastSent;
    this.framePositions = undefined;
    this.storedChannels = this.channels;
  }

  /** A whole record was saved (detach, drain): the store holds at least what it says. */
  holds(r: SessionRecord): void {
    const top = r.outbound.next - 1n;
    if (top > this.storedSeq) this.storedSeq = top;
    this.dropPositionsUpTo(this.storedSeq); // the record's positions are of these frames (one instant)
    if (r.outbound.acked > this.storedAcked) this.storedAcked = r.outbound.acked;
    if (r.inbound.lastProcessed > this.storedProcessed) this.storedProcessed = r.inbound.lastProcessed;
    if (r.inbound.lastAckSent > this.storedAckSent) this.storedAckSent = r.inbound.lastAckSent;
  }

  /** The store says it holds frames up to `seq` already (a commit whose answer was lost): continue after it. */
  storedUpTo(seq: bigint): void {
    if (seq > this.storedSeq) this.storedSeq = seq;
    this.dropPositionsUpTo(this.storedSeq); // stored by the same atomic write as their frames
  }

  /** A publication of `channel` at `position` went into the stream as frame `seq` (MN-2): its position is stored with that frame. */
  sequenced(channel: string, position: string, seq: bigint): void {
    (this.framePositions ??= []).push({ seq, channel, position });
    (this.sentPositions ??= new Map()).set(channel, position);
  }

  /**
   * A position the session holds with no frame of its own (MN-2: a new subscription's broker tail,
   * a stored position continued here): it reaches the store with the channel list (MN-15) or a
   * whole record, never ahead of a frame.
   */
  restored(channel: string, position: string): void {
    (this.sentPositions ??= new Map()).set(channel, position);
  }

  /** The session left `channel` (MN-15): a later join starts without its old position. */
  left(channel: string): void {
    this.sentPositions?.delete(channel);
    if (this.framePositions) this.framePositions = this.framePositions.filter((p) => p.channel !== channel);
  }

  private dropPositionsUpTo(seq: bigint): void {
    const fp = this.framePositions;
    if (!fp) return;
    let i = 0;
    while (i < fp.length && (fp[i] as FramePosition).seq <= seq) i++;
    if (i === fp.length) this.framePositions = undefined;
    else if (i > 0) fp.splice(0, i);
  }

  /** Channel → position of the last publication among the frames in (storedSeq, top] (MN-2), or undefined. */
  private positionsUpTo(top: bigint): Record<string, string> | undefined {
    const fp = this.framePositions;
    if (!fp) return undefined;
    let out: Record<string, string> | undefined;
    for (const p of fp) {
      if (p.seq > top) break;
      if (p.seq > this.storedSeq) (out ??= {})[p.channel] = p.position;
    }
    return out;
  }

  /** The delta of everything since the store's last state, or undefined when nothing changed. */
  take(h: WriteAheadHost): RecordDelta | undefined {
    const log = h.log;
    const top = log.lastSent > this.storedSeq ? log.lastSent : this.storedSeq;
    let frames: ReplayFrame[] | undefined;
    if (top > this.storedSeq) {
      frames = [];
      // Frames already covered by the ack are in no replay: never written (applyDelta trims them anyway).
      for (const f of log.pending()) if (f.seq > this.storedSeq) frames.push({ seq: f.seq, bytes: f.item });
    }
    const acked = log.acked > this.storedAcked ? log.acked : undefined;
    const cur = h.inboundCursor();
    const inbound = cur.lastProcessed > this.storedProcessed || cur.lastAckSent > this.storedAckSent ? cur : undefined;
    const positions = this.positionsUpTo(top); // MN-2: of the frames this commit stores, no other
    const subscriptions = this.channels > this.storedChannels ? h.subscriptionList() : undefined; // MN-15
    if (!frames && acked === undefined && !inbound && !positions && !subscriptions) return undefined;
    this.attempt = { fence: h.fence, top, acked: acked ?? this.storedAcked, inbound, channels: subscriptions && this.channels };
    return {
      ...(frames && { frames }),
      ...(acked !== undefined && { acked }),
      ...(inbound && { inbound }),
      ...(positions && { positions }),
      ...(subscriptions && { subscriptions }),
    };
  }

  /** The attempt is in the store. */
  stored(): void {
    const a = this.attempt;
    if (!a) return;
    this.attempt = undefined;
    if (a.top > this.storedSeq) this.storedSeq = a.top;
    this.dropPositionsUpTo(this.storedSeq);
    if (a.acked > this.storedAcked) this.storedAcked = a.acked;
    if (a.channels !== undefined && a.channels > this.storedChannels) this.storedChannels = a.channels;
    if (a.inbound) {
      if (a.inbound.lastProcessed > this.storedProcessed) this.storedProcessed = a.inbound.lastProcessed;
      if (a.inbound.lastAckSent > this.storedAckSent) this.storedAckSent = a.inbound.lastAckSent;
    }
  }

  /** The attempt failed: nothing of it is stored (its frames' positions wait with the frames). */
  refused(): void {
    this.attempt = undefined;
  }
}

/** A publication's position and the frame that carries it (MN-2). */
interface FramePosition {
  readonly seq: bigint;
  readonly channel: string;
  readonly position: string;
}
