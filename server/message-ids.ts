/**
 * Recently processed client message ids, for deduplication across paths (SEQ-8), as the in-memory
 * session store keeps them (server/stores/memory-session-store.ts): a message that
 * a client resends in a NEW session (renumbered, SEQ-9) keeps its `message_id`, and reaches the
 * application only once.
 *
 * Keyed by principal, not by session: the point is to recognise a message across sessions, and a
 * session's own seqs already make delivery exactly-once within it (SEQ-3). Bounded in count and
 * in time (spec §7.6: remember ids for at least resume_ttl_ms plus the reconnect cap): a FIFO in
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

/**
 * FNV-1a over the principal and the id, seeded per process, then MurmurHash3's finaliser: a hash
 * a client cannot aim collisions at without the seed (as V8 seeds its own string hashes). Only a
 * hint: a slot matches when the strings are equal.
 */
function hashOf(seed: number, principal: string, messageId: string): number {
  let h = seed ^ principal.length;
  for (let i = 0; i < principal.length; i++) h = Math.imul(h ^ principal.charCodeAt(i), 0x01000193);
  for (let i = 0; i < messageId.length; i++) h = Math.imul(h ^ messageId.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** A table slot with no entry (slots hold a ring position + 1). */
const FREE = 0;
/** The ring's first size; it doubles as ids arrive (a server that sees few ids holds little). */
const MIN_RING = 16;

export class RecentMessageIds {
  /**
   * Entries oldest first, in a ring of `mask + 1` positions: entry n (counted from 0 since the last
   * rebuild) is at position n & mask, `head` is the oldest not yet dropped, `tail` the next. An
   * entry whose id was added again since is stale: no table slot points at it.
   *
   * Issue 16 (session 8): fixed arrays instead of growing ones trimmed by `slice()`: each trim
   * and each regrowth copied ~10,000 entries of four arrays (held in V8's large-object space at that
   * size, so every copy was a fresh allocation to collect), and the entry numbers, ever growing,
   * needed a Float64Array table. has + add cost ~650 ns per message at the 10,000 bound before,
   * bench/perf/echo-cpu.ts.
   */
  private principals: string[] = new Array<string>(MIN_RING).fill('');
  private ids: string[] = new Array<string>(MIN_RING).fill('');
  private ats = new Float64Array(MIN_RING);
  private hashes = new Int32Array(MIN_RING);
  private mask = MIN_RING - 1;
  private head = 0;
  private tail = 0;
  /**
   * (principal, id) → the ring position of its live entry, + 1 (FREE = 0): an open-addressing table
   * (linear probing, backward-shift deletion, at most half full). A slot is two Int32 side by side,
   * the position and the hash, so a probe reads one cache line (before: two typed arrays, two misses).
   * Issue 16: a Map did this at ~0.7 µs per message at the 10,000 bound (a V8 Map's entries and key
   * strings are spread over the heap: cache misses per probe, and every hash compare reads a key
   * string); before that, an eviction that iterated the Map from its oldest end walked thousands of
   * deleted holes per add (`add` was 31 % of the echo server's CPU, ~17 µs per message).
   */
  private table = new Int32Array(2 * 16);
  private count = 0;
  private readonly seed = (Math.random() * 0x1_0000_0000) | 0;
  /** The last lookup's strings and hash: add() after has() of the same id hashes it once. */
  private lastPrincipal = '';
  private lastId = '';
  private lastHash = 0;

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

  /** Entries the ring holds, stale ones included (tests: it stays within a constant factor of `size`). */
  get held(): number {
    return this.tail - this.head;
  }

  /** The application already received this message from this principal, within the window. */
  has(principal: string, messageId: string): boolean {
    if (messageId === '') return false; // no id: nothing to recognise it by
    const at = this.find(this.hash(principal, messageId), principal, messageId);
    return at !== FREE && this.clock.now() - (this.ats[at - 1] as number) < this.windowMs;
  }

  /** The application received it (SEQ-10): remember it, forgetting the oldest beyond the bounds. */
  add(principal: string, messageId: string): void {
    if (messageId === '') return;
    const now = this.clock.now();
    const h = this.hash(principal, messageId);
    if (this.tail - this.head > this.mask) this.rebuild();
    const slot = this.findSlot(h, principal, messageId);
    const p = this.tail & this.mask;
    if (slot >= 0) this.table[slot] = p + 1; // re-inserted at the young end: its older entry is stale from now on
    else {
      if ((this.count + 1) * 4 > this.table.length) this.growTable();
      this.place(h, p);
      this.count++;
    }
    this.principals[p] = principal;
    this.ids[p] = messageId;
    this.ats[p] = now;
    this.hashes[p] = h;
    this.tail++;
    while (this.head < this.tail) {
      const q = this.head & this.mask;
      const s = this.slotOf(q);
      if (s >= 0) {
        if (this.count <= this.maxIds && now - (this.ats[q] as number) < this.windowMs) break;
        this.remove(s);
        this.count--;
      }
      this.ids[q] = ''; // dropped, or a stale entry of an id added again since: its strings are not kept
      this.principals[q] = '';
      this.head++;
    }
  }

  private hash(principal: string, messageId: string): number {
    if (messageId === this.lastId && principal === this.lastPrincipal) return this.lastHash;
    const h = hashOf(this.seed, principal, messageId);
    this.lastPrincipal = principal;
    this.lastId = messageId;
    this.lastHash = h;
    return h;
  }

  /** The ring position + 1 of (principal, id)'s live entry, or FREE. */
  private find(h: number, principal: string, messageId: string): number {
    const s = this.findSlot(h, principal, messageId);
    return s < 0 ? FREE : (this.table[s] as number);
  }

  /** The table index of (principal, id)'s slot, or -1. */
  private findSlot(h: number, principal: string, messageId: string): number {
    const t = this.table;
    const mask = t.length - 2;
    for (let s = (h << 1) & mask; ; s = (s + 2) & mask) {
      const v = t[s] as number;
      if (v === FREE) return -1;
      if (t[s + 1] === h && this.ids[v - 1] === messageId && this.principals[v - 1] === principal) return s;
    }
  }

  /** The table index of the slot of the entry at ring position q, or -1 when that entry is stale. */
  private slotOf(q: number): number {
    const t = this.table;
    const mask = t.length - 2;
    const v = q + 1;
    for (let s = ((this.hashes[q] as number) << 1) & mask; ; s = (s + 2) & mask) {
      const x = t[s] as number;
      if (x === v) return s;
      if (x === FREE) return -1;
    }
  }

  private place(h: number, p: number): void {
    const t = this.table;
    const mask = t.length - 2;
    let s = (h << 1) & mask;
    while (t[s] !== FREE) s = (s + 2) & mask;
    t[s] = p + 1;
    t[s + 1] = h;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed. */
  private remove(slot: number): void {
    const t = this.table;
    const mask = t.length - 2;
    let gap = slot;
    for (let j = (slot + 2) & mask; t[j] !== FREE; j = (j + 2) & mask) {
      const home = ((t[j + 1] as number) << 1) & mask;
      // Entry j may fill the gap unless its home lies cyclically in (gap, j].
      const stays = gap <= j ? gap < home && home <= j : gap < home || home <= j;
      if (stays) continue;
      t[gap] = t[j] as number;
      t[gap + 1] = t[j + 1] as number;
      gap = j;
    }
    t[gap] = FREE;
  }

  private growTable(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    for (let s = 0; s < old.length; s += 2) if (old[s] !== FREE) this.place(old[s + 1] as number, (old[s] as number) - 1);
  }

  /**
   * The ring is full: its live entries, oldest first, into a ring of at least twice their number
   * (the same size when half or more are stale, else double; smaller when most expired), and the
   * table rebuilt for their new positions. Each rebuild follows at least half a ring of adds:
   * amortised O(1).
   */
  private rebuild(): void {
    const size = Math.max(MIN_RING, 2 ** Math.ceil(Math.log2(2 * (this.count + 1))));
    const principals = new Array<string>(size).fill('');
    const ids = new Array<string>(size).fill('');
    const ats = new Float64Array(size);
    const hashes = new Int32Array(size);
    let k = 0;
    for (let n = this.head; n < this.tail; n++) {
      const q = n & this.mask;
      if (this.slotOf(q) < 0) continue; // stale
      principals[k] = this.principals[q] as string;
      ids[k] = this.ids[q] as string;
      ats[k] = this.ats[q] as number;
      hashes[k] = this.hashes[q] as number;
      k++;
    }
    this.principals = principals;
    this.ids = ids;
    this.ats = ats;
    this.hashes = hashes;
    this.mask = size - 1;
    this.head = 0;
    this.tail = k;
    this.table = new Int32Array(2 * size); // as many slots as positions: at most half full now
    for (let i = 0; i < k; i++) this.place(hashes[i] as number, i);
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
