/**
 * RecordDelta applied to a record (issue 14): the one definition of what SessionStore.commit does,
 * used by the in-memory store and by the contract suite's expectations of every other store.
 */
import { trimmedReplay, withRecord, type ReplayFrame, type SessionRecord, type SubscriptionRecord } from './session-record.js';
import { ReplayOrderError, type RecordDelta } from './session-store.js';

/** `r` with `delta` applied; throws ReplayOrderError, changing nothing, when the frames do not follow the stored ones (SEQ-2). */
export function applyDelta(r: SessionRecord, delta: RecordDelta): SessionRecord {
  let { next, acked, replay } = r.outbound;
  const frames = delta.frames ?? [];
  if (frames.length > 0) {
    const last = replay[replay.length - 1]?.seq ?? acked;
    const first = (frames[0] as ReplayFrame).seq;
    if (first <= last) throw new ReplayOrderError(r.id, first, last);
    const top = (frames[frames.length - 1] as ReplayFrame).seq;
    replay = [...replay, ...frames];
    if (next <= top) next = top + 1n;
  }
  if (delta.acked !== undefined && delta.acked > acked) {
    acked = delta.acked; // SEQ-6: an older ack changes nothing
    replay = trimmedReplay(replay, acked);
    if (next <= acked) next = acked + 1n;
  }
  const patch: { -readonly [K in keyof SessionRecord]?: SessionRecord[K] } = { outbound: { next, acked, replay } };
  const inb = delta.inbound;
  if (inb) {
    patch.inbound = {
      lastProcessed: inb.lastProcessed > r.inbound.lastProcessed ? inb.lastProcessed : r.inbound.lastProcessed,
      lastAckSent: inb.lastAckSent > r.inbound.lastAckSent ? inb.lastAckSent : r.inbound.lastAckSent,
    };
  }
  let subs = r.subscriptions;
  if (delta.subscriptions) {
    // MN-15: the list is replaced; a channel kept keeps what the store has of it (version, position).
    const stored = new Map(r.subscriptions.map((sub) => [sub.channel, sub]));
    subs = patch.subscriptions = delta.subscriptions.map((sub) => stored.get(sub.channel) ?? sub);
  }
  const pos = delta.positions;
  if (pos && Object.keys(pos).length > 0) {
    patch.subscriptions = subs.map((sub): SubscriptionRecord => {
      const p = pos[sub.channel];
      return p === undefined ? sub : { ...sub, position: p };
    });
  }
  return withRecord(r, patch);
}
