/**
 * Catch-up of a session continued on this node (issue 14, MN-2): what its channels published while
 * it moved. Publications the old node queued but never sequenced, and those made between the old
 * node's last commit and this node's join, are in the broker's history after the channel position
 * the record holds (SubscriptionRecord.position); `Broker.since` reads them.
 *
 * Order, so that each publication reaches the session once and in channel order: the session joins
 * its channels first (revive) while its live deliveries are held here; then `since` per channel;
 * the catch-up items are queued, then the held live ones, each dropped when its position is at or
 * below the last one the session took (the catch-up and the live stream overlap by whatever was
 * published between the join and the read). A channel whose history after the position is gone
 * (TRIMMED) loses continuity: a Snapshot (reason RESUME) when it is a state channel, else its
 * next Message says dropped_before ≥ 1 (MN-10, BP-10).
 */
import type { Logger } from 'pino';
import { SnapshotReason } from '../spec/protocol/backpressure-queue.js';
import { messageItem, patchItem, type OutItem } from './outbound.js';
import { comparePositions, TRIMMED, type Broker, type Publication } from './stores/broker.js';
import type { SubscriptionRecord } from './stores/session-record.js';

/** What catch-up needs of a session (LiveSession). */
export interface CatchUpSession {
  readonly id: string;
  readonly queue: { requestSnapshot(channel: string, reason: SnapshotReason): boolean; noteLost(n: number): void };
  enqueue(item: OutItem): void;
  /** Move what the gates allow (a Snapshot asked for goes out). */
  pump(): void;
  /** MN-2: take a publication at `position` unless at or below the last taken (LiveSession, mn-gate); absent: catch-up filters alone. */
  takesPosition?(channel: string, position: string): boolean;
}

/** One live delivery held while its session catches up: the item (shared with other sessions) and its position. */
interface Held {
  readonly channel: string;
  readonly item: OutItem;
  readonly position: string | undefined;
}

/** The item a publication becomes in a session's queue (as fan-out.ts builds it for live deliveries). */
export function publicationItem(p: Publication, nowMs: number): OutItem {
  return p.kind === 'message' ? messageItem(p.channel, p.message, nowMs, true, p.position) : patchItem(p.channel, p.patch, nowMs, p.position); // MN-2: the position goes into the commit
}

export class CatchUps<S extends CatchUpSession = CatchUpSession> {
  /** Sessions catching up → their live deliveries, held; empty when none (fan-out checks the size first). */
  readonly holding = new Map<S, Held[]>();

  constructor(
    private readonly broker: Pick<Broker, 'since'>,
    private readonly log: Logger,
    private readonly nowMs: () => number,
    /** A state channel: the application has a state to snapshot for this session (SD-4). */
    private readonly hasState: (s: S, channel: string) => boolean,
  ) {}

  /** A live delivery of `channel` for `s`: held when `s` is catching up (true), else the caller queues it. */
  hold(s: S, channel: string, item: OutItem, position: string | undefined): boolean {
    const held = this.holding.get(s);
    if (held === undefined) return false;
    held.push({ channel, item, position });
    return true;
  }

  /**
   * Catch `s` up on `subscriptions` (the record's, with positions). Call right after the session
   * joined its channels, in the same tick: from here its live deliveries are held. Never rejects:
   * a channel whose history cannot be read loses continuity, as a trimmed one (MN-10).
   */
  async run(s: S, subscriptions: readonly SubscriptionRecord[]): Promise<void> {
    const since = this.broker.since;
    const from = subscriptions.filter((sub) => sub.position !== undefined);
    if (since === undefined || from.length === 0) return; // nothing to read: live deliveries go straight to the queue
    this.holding.set(s, []);
    try {
      const read = await Promise.all(
        from.map((sub) =>
          since.call(this.broker, sub.channel, sub.position as string).catch((err: unknown) => {
            this.log.warn({ err, sessionId: s.id.slice(0, 8), channel: sub.channel }, 'catch-up read failed: continuity lost on the channel (MN-10)');
            return TRIMMED as typeof TRIMMED;
          }),
        ),
      );
      const last = new Map(from.map((sub) => [sub.channel, sub.position as string]));
      const held = this.holding.get(s);
      if (held === undefined) return; // cancelled: the session left this node meanwhile
      const now = this.nowMs();
      from.forEach((sub, i) => {
        const got = read[i];
        if (got === TRIMMED || got === undefined) {
          this.loseContinuity(s, sub.channel);
          s.pump();
        }
        else for (const p of got) if (p.position !== undefined && takes(s, last, p.channel, p.position)) s.enqueue(publicationItem(p, now));
      });
      this.holding.delete(s);
      for (const h of held) if (h.position === undefined || takes(s, last, h.channel, h.position)) s.enqueue(h.item);
    } finally {
      this.holding.delete(s);
    }
  }

  /**
   * The broker lost publications of `channel` for this node (GapListener: it was away from Redis
   * while they were trimmed): each local subscriber loses continuity there, `lost` of them if known.
   */
  gap(channel: string, lost: number | undefined, members: Iterable<S>): void {
    for (const s of members) {
      this.loseContinuity(s, channel, lost);
      s.pump();
    }
  }

  /** The session left this node while catching up: drop what was held. */
  cancel(s: S): void {
    this.holding.delete(s);
  }

  /** MN-10: the channel's history after the session's position is gone: the loss is stated. */
  private loseContinuity(s: S, channel: string, lost?: number): void {
    if (this.hasState(s, channel)) s.queue.requestSnapshot(channel, SnapshotReason.RESUME);
    else s.queue.noteLost(lost !== undefined && lost > 0 ? lost : 1); // unknown: at least one (BP-10)
  }
}

/** MN-2: the publication is after the last one taken on its channel (and is now the last). */
function takes(s: CatchUpSession, last: Map<string, string>, channel: string, position: string): boolean {
  const prev = last.get(channel);
  if (prev !== undefined && comparePositions(position, prev) <= 0) return false;
  last.set(channel, position);
  return s.takesPosition ? s.takesPosition(channel, position) : true;
}
