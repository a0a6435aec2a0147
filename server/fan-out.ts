/**
 * A publication that reached this node (from its broker) queued for the local subscribers of its
 * channel (CH-1, BP-2). Its own module: the broker seam (stores/broker.ts) decides which nodes get
 * a publication; this decides nothing, it hands the item to each session's queue.
 */
import { messageItem, patchItem, type OutItem } from './outbound.js';
import type { CatchUps } from './catch-up.js';
import type { LiveSession } from './session.js';
import type { Publication } from './stores/broker.js';
import type { LocalChannels } from './stores/local-channels.js';

/**
 * Queue `p` for every local member of its channel; returns how many sessions it reached. A session
 * catching up after a move (catch-up.ts, MN-2) has it held instead, queued after its catch-up.
 */
export function deliverLocally(
  p: Publication,
  channels: LocalChannels<LiveSession>,
  nowMs: number,
  fail: (s: LiveSession, err: unknown) => void,
  catchUps?: CatchUps<LiveSession>,
): number {
  const pos = p.position;
  const item: OutItem = p.kind === 'message' ? messageItem(p.channel, p.message, nowMs, true, pos) : patchItem(p.channel, p.patch, nowMs, pos);
  const held = catchUps !== undefined && catchUps.holding.size > 0 ? catchUps : undefined; // none catching up: no lookup per member
  let n = 0;
  for (const s of channels.members(p.channel)) {
    try {
      if (held?.hold(s, p.channel, item, pos) === true) {
        n++;
        continue; // MN-2: before any position check, so catch-up decides the order
      }
      if (pos !== undefined && !s.takesPosition(p.channel, pos)) continue; // MN-2: already taken (redelivery, catch-up overlap)
      s.enqueue(item);
    } catch (err) {
      fail(s, err); // SEC-4: one session's failure stays its own
    }
    n++;
  }
  return n;
}
