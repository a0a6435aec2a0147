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
  /**
   * principal → messageId → the number of its entry in the FIFO below. Two levels, not one Map of
   * joined keys: a joined key is a new string to build and hash per lookup, where the decoded id
   * and the session's principal keep their hashes (issue 16: the joins were ~60 % of a lookup).
   * The Maps are never iterated: V8 leaves a deleted entry as a hole until the table is rebuilt,
   * and an eviction that iterated from the oldest end walked thousands of holes per add at the
   * 10,000 bound (issue 16: `add` was 31 % of the echo server's CPU, ~17 µs per message).
   */
  private readonly seen = new Map<string, Map<string, number>>();
  private count = 0;
  /**
   * Entries oldest first, numbered from `base` (index i is entry base + i), in three parallel
   * arrays; `head` is the oldest not yet dropped. An entry whose id was added again since is stale.
   */
  private principals: string[] = [];
  private ids: string[] = [];
  private ats: number[] = [];
  private head = 0;
  private base = 0;

  constructor(
    private readonly maxIds: number,
    private readonly windowMs: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The bounds in force (count, ms). */
  get bounds(): { readonly maxIds: number; readonly windowMs: number } {
    return { maxIds: this.maxIds, windowMs: this.windowMs };
  }

  /** The application already received this message from this principal, within the window. */
  has(principal: string, messageId: string): boolean {
    if (messageId === '') return false; // no id: nothing to recognise it by
    const n = this.seen.get(principal)?.get(messageId);
    return n !== undefined && this.clock.now() - (this.ats[n - this.base] as number) < this.windowMs;
  }

  /** The application received it (SEQ-10): remember it, forgetting the oldest beyond the bounds. */
  add(principal: string, messageId: string): void {
    if (messageId === '') return;
    const now = this.clock.now();
    let mine = this.seen.get(principal);
    if (mine === undefined) this.seen.set(principal, (mine = new Map()));
    const size = mine.size;
    // Re-inserted at the young end: its older entry in the FIFO is stale from now on.
    mine.set(messageId, this.base + this.ids.length);
    if (mine.size > size) this.count++;
    this.principals.push(principal);
    this.ids.push(messageId);
    this.ats.push(now);
    while (this.head < this.ids.length) {
      const i = this.head;
      const of = this.seen.get(this.principals[i] as string);
      const id = this.ids[i] as string;
      if (of !== undefined && of.get(id) === this.base + i) {
        if (this.count <= this.maxIds && now - (this.ats[i] as number) < this.windowMs) break;
        of.delete(id);
        this.count--;
        if (of.size === 0) this.seen.delete(this.principals[i] as string);
      }
      this.head++; // dropped, or a stale entry of an id added again since
    }
    this.compact();
  }

  /**
   * Keep the FIFO within a constant factor of what it must hold: the dropped prefix goes once it is
   * half the arrays, and stale entries (ids added again behind a live oldest entry) once they
   * outnumber the live ones. Each costs O(length) after at least length/2 adds: amortised O(1).
   */
  private compact(): void {
    const length = this.ids.length;
    if (length - this.head > 2 * this.count + 64) {
      const principals: string[] = [];
      const ids: string[] = [];
      const ats: number[] = [];
      for (let i = this.head; i < length; i++) {
        const p = this.principals[i] as string;
        const id = this.ids[i] as string;
        const of = this.seen.get(p);
        if (of === undefined || of.get(id) !== this.base + i) continue;
        of.set(id, ids.length); // renumbered from base 0
        principals.push(p);
        ids.push(id);
        ats.push(this.ats[i] as number);
      }
      this.principals = principals;
      this.ids = ids;
      this.ats = ats;
      this.head = 0;
      this.base = 0;
      return;
    }
    if (this.head >= 1024 && this.head * 2 >= length) {
      this.principals = this.principals.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}

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
