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

const EMPTY = -1;

export class RecentMessageIds {
  /**
   * Entries oldest first, numbered from `base` (index i is entry base + i), in parallel arrays;
   * `head` is the oldest not yet dropped. An entry whose id was added again since is stale.
   */
  private principals: string[] = [];
  private ids: string[] = [];
  private ats: number[] = [];
  private hashes: number[] = [];
  private head = 0;
  private base = 0;
  /**
   * (principal, id) → the number of its live entry: an open-addressing table (linear probing,
   * backward-shift deletion, at most half full), its slots in two typed arrays. Issue 16: a Map did
   * this at ~0.7 µs per message at the 10,000 bound (a V8 Map's entries and key strings are spread
   * over the heap: cache misses per probe, and every hash compare reads a key string); before
   * that, an eviction that iterated the Map from its oldest end walked thousands of deleted holes
   * per add (`add` was 31 % of the echo server's CPU, ~17 µs per message).
   */
  private slots = new Float64Array(16).fill(EMPTY);
  private slotHashes = new Int32Array(16);
  private count = 0;
  private readonly seed = (Math.random() * 0x1_0000_0000) | 0;

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
    const at = this.find(hashOf(this.seed, principal, messageId), principal, messageId);
    return at !== EMPTY && this.clock.now() - (this.ats[(this.slots[at] as number) - this.base] as number) < this.windowMs;
  }

  /** The application received it (SEQ-10): remember it, forgetting the oldest beyond the bounds. */
  add(principal: string, messageId: string): void {
    if (messageId === '') return;
    const now = this.clock.now();
    const h = hashOf(this.seed, principal, messageId);
    const n = this.base + this.ids.length;
    const at = this.find(h, principal, messageId);
    if (at !== EMPTY) this.slots[at] = n; // re-inserted at the young end: its older entry is stale from now on
    else {
      if ((this.count + 1) * 2 > this.slots.length) this.grow();
      this.place(h, n);
      this.count++;
    }
    this.principals.push(principal);
    this.ids.push(messageId);
    this.ats.push(now);
    this.hashes.push(h);
    while (this.head < this.ids.length) {
      const i = this.head;
      const slot = this.slotOf(i);
      if (slot !== EMPTY) {
        if (this.count <= this.maxIds && now - (this.ats[i] as number) < this.windowMs) break;
        this.remove(slot);
        this.count--;
      }
      this.head++; // dropped, or a stale entry of an id added again since
    }
    this.compact();
  }

  /** The slot of (principal, id), or EMPTY. */
  private find(h: number, principal: string, messageId: string): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const n = slots[s] as number;
      if (n === EMPTY) return EMPTY;
      if (this.slotHashes[s] === h) {
        const i = n - this.base;
        if (this.ids[i] === messageId && this.principals[i] === principal) return s;
      }
    }
  }

  /** The slot holding FIFO entry i, or EMPTY when that entry is stale. */
  private slotOf(i: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const n = this.base + i;
    for (let s = (this.hashes[i] as number) & mask; ; s = (s + 1) & mask) {
      const v = slots[s] as number;
      if (v === n) return s;
      if (v === EMPTY) return EMPTY;
    }
  }

  private place(h: number, n: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = h & mask;
    while (slots[s] !== EMPTY) s = (s + 1) & mask;
    slots[s] = n;
    this.slotHashes[s] = h;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed. */
  private remove(slot: number): void {
    const slots = this.slots;
    const hs = this.slotHashes;
    const mask = slots.length - 1;
    let gap = slot;
    for (let j = (slot + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const home = (hs[j] as number) & mask;
      // Entry j may fill the gap unless its home lies cyclically in (gap, j].
      const stays = gap <= j ? gap < home && home <= j : gap < home || home <= j;
      if (stays) continue;
      slots[gap] = slots[j] as number;
      hs[gap] = hs[j] as number;
      gap = j;
    }
    slots[gap] = EMPTY;
  }

  private grow(): void {
    const old = this.slots;
    const oldHashes = this.slotHashes;
    this.slots = new Float64Array(old.length * 2).fill(EMPTY);
    this.slotHashes = new Int32Array(old.length * 2);
    for (let s = 0; s < old.length; s++) if (old[s] !== EMPTY) this.place(oldHashes[s] as number, old[s] as number);
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
      const hashes: number[] = [];
      // Renumbered above every old number, so a renumbered slot is never taken for an old entry's.
      const base = this.base + length;
      for (let i = this.head; i < length; i++) {
        const slot = this.slotOf(i);
        if (slot === EMPTY) continue;
        this.slots[slot] = base + ids.length;
        principals.push(this.principals[i] as string);
        ids.push(this.ids[i] as string);
        ats.push(this.ats[i] as number);
        hashes.push(this.hashes[i] as number);
      }
      this.principals = principals;
      this.ids = ids;
      this.ats = ats;
      this.hashes = hashes;
      this.head = 0;
      this.base = base;
      return;
    }
    if (this.head >= 1024 && this.head * 2 >= length) {
      const h = this.head;
      this.principals = this.principals.slice(h);
      this.ids = this.ids.slice(h);
      this.ats = this.ats.slice(h);
      this.hashes = this.hashes.slice(h);
      this.base += h;
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
