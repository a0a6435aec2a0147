/**
 * A publication that reached this node (from its broker) queued for the local subscribers of its
 * channel (CH-1, BP-2). Its own module: the broker seam (stores/broker.ts) decides which nodes get
 * a publication; this decides nothing, it hands the item to each session's queue.
 */
import { messageItem, patchItem, type OutItem } from './outbound.js';
import type { LiveSession } from './session.js';
import type { Publication } from './stores/broker.js';
import type { LocalChannels } from './stores/local-channels.js';

/** Queue `p` for every local member of its channel; returns how many sessions it reached. */
export function deliverLocally(p: Publication, channels: LocalChannels<LiveSession>, nowMs: number, fail: (s: LiveSession, err: unknown) => void): number {
  const pos = p.position;
  const item: OutItem = p.kind === 'message' ? messageItem(p.channel, p.message, nowMs, true, pos) : patchItem(p.channel, p.patch, nowMs, pos);
  let n = 0;
  for (const s of channels.members(p.channel)) {
    try {
      if (pos !== undefined && !s.takesPosition(p.channel, pos)) continue; // MN-2: already taken (redelivery, catch-up overlap)
      s.enqueue(item);
    } catch (err) {
      fail(s, err); // SEC-4: one session's failure stays its own
    }
    n++;
  }
  return n;
}
