/**
 * Recently processed client message ids, for deduplication across paths (SEQ-8), as the in-memory
 * session store keeps them (server/stores/memory-session-store.ts): a message that
 * a client resends in a NEW session (renumbered, SEQ-9) keeps its `message_id`, and reaches the
 * application only once.
 *
 * Keyed by principal, not by session: the point is to recognise a message across sessions, and a
 * session's own seqs already make delivery exactly-once within it (SEQ-3). Bounded in count and
 * in time (spec §7.6: remember ids for at least resume_ttl_ms plus the reconnect cap): one Map in
 * insertion order serves as LRU and expiry queue at once. A flood of ids from one principal can
 * push out another's early, which makes a duplicate possible again, never a loss.
 */
import { defaults } from '../spec/protocol/defaults.js';
import type { Clock } from '../spec/protocol/clock.js';

export interface MessageIdDedupeOptions {
  /** Most ids remembered, over all principals. Default 10 000 (§17 dedupeMaxIds). */
  readonly maxIds?: number;
  /** How long an id is remembered, in ms. Default resume TTL + reconnect cap (150 s with the defaults). */
  readonly windowMs?: number;
}

export class RecentMessageIds {
  /** key(principal, messageId) → when it was processed (clock ms); oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxIds: number,
    private readonly windowMs: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** The bounds in force (count, ms). */
  get bounds(): { readonly maxIds: number; readonly windowMs: number } {
    return { maxIds: this.maxIds, windowMs: this.windowMs };
  }

  /** The application already received this message from this principal, within the window. */
  has(principal: string, messageId: string): boolean {
    if (messageId === '') return false; // no id: nothing to recognise it by
    const at = this.seen.get(key(principal, messageId));
    return at !== undefined && this.clock.now() - at < this.windowMs;
  }

  /** The application received it (SEQ-10): remember it, forgetting the oldest beyond the bounds. */
  add(principal: string, messageId: string): void {
    if (messageId === '') return;
    const now = this.clock.now();
    const k = key(principal, messageId);
    this.seen.delete(k); // re-insert at the young end
    this.seen.set(k, now);
    for (const [oldest, at] of this.seen) {
      if (this.seen.size <= this.maxIds && now - at < this.windowMs) break;
      this.seen.delete(oldest);
    }
  }
}

// Length-prefixed, so no principal and id pair can spell another's key.
const key = (principal: string, messageId: string) => `${principal.length}:${principal}${messageId}`;

/**
 * The bounds of the server's dedupe memory for its `dedupeMessageIds` option: on unless the option
 * is false (issue 13: the spec's §9.12 promise holds with the defaults), with the bounds of §17.
 * The memory itself is the session store's (SEQ-8 across nodes: issue 14); the in-memory store
 * keeps it in a RecentMessageIds.
 */
export function dedupeBounds(option: boolean | MessageIdDedupeOptions | undefined, resumeTtlMs: number): { readonly maxIds: number; readonly windowMs: number } | undefined {
  if (option === false) return undefined;
  const o = option === undefined || option === true ? {} : option;
  // Spec §7.6: at least resume_ttl_ms plus the reconnect cap.
  return { maxIds: Math.max(1, o.maxIds ?? defaults.dedupeMaxIds), windowMs: Math.max(1, o.windowMs ?? resumeTtlMs + defaults.reconnectCapMs) }; // SEQ-8
}
