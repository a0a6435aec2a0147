/**
 * A sender's bounded outbound queue and its backpressure policy (BP-2 … BP-11,
 * SD-8). Items wait here BEFORE they get a seq: the seq is given when an item is
 * written (OutboundLog.send), so whatever the policy drops leaves no gap (spec §7).
 *
 * Two parts:
 *  - `items`: Messages and StatePatches in order, bounded by messages and bytes (BP-3);
 *  - pending snapshots: at most one per channel (SD-8), a promise to send that
 *    channel's whole state. They are flags, not copies of state: the state is read
 *    from the application when the snapshot is written, so they cost O(channels)
 *    whatever the producer does, and they go out before any queued item, so a
 *    channel's Snapshot always precedes its later patches (CH-1, RS-4, BP-9).
 *
 * Pure and browser-safe: no timers, no I/O.
 */
import { BackpressurePolicy, SnapshotReason } from '../../gen/lifeline/v1/envelope_pb.js';

export { BackpressurePolicy, SnapshotReason };

/** What the queue needs to know about an item. */
export interface QueueItem {
  readonly kind: 'message' | 'patch';
  /** Channel; '' for a direct session message. */
  readonly channel: string;
  /** Coalescing key (BP-8); '' never coalesces. */
  readonly key: string;
  /** Payload or delta size in bytes, for the byte bound (BP-3). */
  readonly bytes: number;
}

export interface BackpressureQueueOptions {
  readonly policy: BackpressurePolicy;
  /** Most queued items (BP-3). At least 1. */
  readonly limitMessages: number;
  /** Most queued bytes (BP-3). An item larger than this alone is still accepted into an empty queue. */
  readonly limitBytes: number;
}

/**
 * Options as a queue applies them (policy defaulted, bounds whole and ≥ 1), one frozen object per
 * distinct options shared by every queue with them: a server holds one queue per session, all with
 * the server's bounds, and three fields of each were 16 B more per idle session (issue 16).
 */
const normalized = new Map<string, BackpressureQueueOptions>();
/** Distinct options kept; beyond them a queue gets an object of its own (still correct). */
const MAX_NORMALIZED = 64;

function normalize(o: BackpressureQueueOptions): BackpressureQueueOptions {
  const policy = o.policy === BackpressurePolicy.UNSPECIFIED ? BackpressurePolicy.DROP_OLDEST : o.policy;
  const limitMessages = Math.max(1, Math.floor(o.limitMessages));
  const limitBytes = Math.max(1, Math.floor(o.limitBytes));
  const key = `${policy}/${limitMessages}/${limitBytes}`;
  let n = normalized.get(key);
  if (n === undefined) {
    n = Object.freeze({ policy, limitMessages, limitBytes });
    if (normalized.size < MAX_NORMALIZED) normalized.set(key, n);
  }
  return n;
}

/** The channel '' names the whole session: a re-baseline Snapshot with no state (SD-4, SD-5). */
export const SESSION_CHANNEL = '';

export type PushResult =
  /** Appended. */
  | 'queued'
  /** Replaced a queued item of the same (channel, key) in place (BP-8). */
  | 'coalesced'
  /** The new item was dropped (BP-7). */
  | 'dropped'
  /** A patch of a channel with a pending snapshot: that snapshot will carry its state. */
  | 'absorbed'
  /** DISCONNECT policy: the queue is full; the item was not queued (BP-11). */
  | 'overflow';

export type Dequeued<T extends QueueItem> =
  | { readonly kind: 'snapshot'; readonly channel: string; readonly reason: SnapshotReason }
  | { readonly kind: 'item'; readonly item: T; readonly droppedBefore: number };

/**
 * Per-session counters of what the policy removed, by policy (issue 3 §5), items
 * of either kind. `dropped_before` counts only Messages and coalesced values:
 * patches replaced by a snapshot lose no state (BP-10).
 */
export interface DropCounters {
  dropOldest: number;
  dropNewest: number;
  coalesced: number;
  /** Overflows under DISCONNECT (each one closes the socket). */
  disconnect: number;
  /** Patches replaced by a pending Snapshot (BP-9); the patch victims are in the counts above too. */
  patchesReplaced: number;
}

const NO_DROPS: Readonly<DropCounters> = { dropOldest: 0, dropNewest: 0, coalesced: 0, disconnect: 0, patchesReplaced: 0 };

/**
 * The items of a queue that has queued nothing yet: one shared, frozen empty array, replaced on the
 * first append, so an idle session holds no array of its own (issue 12, memory per idle session).
 */
const NO_ITEMS = Object.freeze([]) as unknown as never[];

export class BackpressureQueue<T extends QueueItem> {
  private items: T[] = NO_ITEMS;
  private head = 0;
  private queuedBytes = 0;
  /**
   * Pending snapshots in send order; the session channel '' is kept first (see next()). Made on the
   * first request: a server holds one queue per idle session, most of them never asked for one.
   */
  private snapshots: Map<string, SnapshotReason> | undefined;
  /** Items the policy dropped since the last item handed out (BP-10). */
  private droppedSince = 0;
  /** What the policy removed; made on the first drop: most queues never drop (memory per idle session). */
  private drops: DropCounters | undefined;
  /** The policy and bounds, normalized and shared (normalize). */
  private readonly limits: BackpressureQueueOptions;

  constructor(opts: BackpressureQueueOptions) {
    this.limits = normalize(opts);
  }

  get policy(): BackpressurePolicy {
    return this.limits.policy;
  }

  /** Queued items (pending snapshots not counted). */
  get length(): number {
    return this.items.length - this.head;
  }
  get bytes(): number {
    return this.queuedBytes;
  }
  /** What the policy removed so far (a copy). */
  get counters(): DropCounters {
    return { ...(this.drops ?? NO_DROPS) };
  }
  /** Items the policy removed so far, every kind (patchesReplaced are in the others already); no object made. */
  get dropTotal(): number {
    const d = this.drops;
    return d === undefined ? 0 : d.dropOldest + d.dropNewest + d.coalesced + d.disconnect;
  }
  /** Channels with a pending snapshot, in send order. */
  get pendingSnapshots(): string[] {
    return this.snapshots ? [...this.snapshots.keys()] : [];
  }
  /** Nothing to send: no item, no pending snapshot. */
  get isEmpty(): boolean {
    return this.length === 0 && (this.snapshots === undefined || this.snapshots.size === 0);
  }
  /** Items dropped since the last item handed out; the next Message/StatePatch carries it (BP-10). */
  get droppedPending(): number {
    return this.droppedSince;
  }

  /**
   * Items lost before they reached this queue (a channel's broker history trimmed while its session
   * moved between nodes, MN-10): the next Message/StatePatch counts them in dropped_before (BP-10).
   */
  noteLost(n: number): void {
    if (n > 0) this.droppedSince += n;
  }

  /**
   * An item handed out without being queued (the queue is empty: it would be the next one): the
   * drops it carries in dropped_before (BP-10), counted from here on anew, as next() does.
   */
  takeDropped(): number {
    const n = this.droppedSince;
    this.droppedSince = 0;
    return n;
  }

  /** The queued items, oldest first (for tests and introspection). */
  peekItems(): readonly T[] {
    return this.items.slice(this.head);
  }

  hasPendingSnapshot(channel: string): boolean {
    return this.snapshots?.has(channel) ?? false;
  }

  /**
   * Add an item under the policy (BP-2). Never lets the queue exceed its bounds
   * (BP-3): the policy makes room, drops the item, or reports an overflow.
   */
  push(item: T): PushResult {
    // A channel whose snapshot is pending needs no patch: the snapshot is read at
    // send time and already includes it (BP-9, SD-8).
    if (item.kind === 'patch' && this.hasPendingSnapshot(item.channel)) return 'absorbed';

    // BP-8: StatePatch has no key on the wire (spec §11.6), so only Messages coalesce.
    if (this.policy === BackpressurePolicy.COALESCE_BY_KEY && item.kind === 'message' && item.key !== '') {
      const i = this.findKey(item.channel, item.key);
      if (i >= 0) {
        const old = this.items[i] as T;
        this.counted().coalesced++;
        this.droppedSince++; // BP-10: a value replaced by coalescing counts as dropped
        this.items[i] = item; // BP-8: replace in place, keeping its position
        this.queuedBytes += item.bytes - old.bytes;
        this.makeRoom(0, false, item); // a larger value may push the byte count over: drop oldest others
        return 'coalesced';
      }
    }

    if (this.fits(item)) return this.append(item);

    switch (this.policy) {
      case BackpressurePolicy.DISCONNECT:
        this.counted().disconnect++;
        this.droppedSince++;
        return 'overflow'; // BP-11: the caller closes with SLOW_CONSUMER
      case BackpressurePolicy.DROP_NEWEST:
        this.counted().dropNewest++;
        if (item.kind === 'patch') {
          this.replacePatches(item.channel); // BP-9: the channel resyncs by snapshot; no state lost, not counted (BP-10)
        } else {
          this.droppedSince++; // BP-7, BP-10
        }
        return 'dropped';
      case BackpressurePolicy.DROP_OLDEST:
      case BackpressurePolicy.COALESCE_BY_KEY: // BP-8: no match → drop-oldest
      default:
        this.makeRoom(item.bytes, true);
        if (item.kind === 'patch' && this.hasPendingSnapshot(item.channel)) return 'absorbed';
        return this.append(item);
    }
  }

  /**
   * Ask for a Snapshot of a channel (CH-1 subscribe, RS-4 resume, SD-5 drift,
   * BP-9 backpressure). Removes the channel's queued patches, which the snapshot
   * supersedes. Returns false when one is already pending: coalesced (SD-8).
   */
  requestSnapshot(channel: string, reason: SnapshotReason): boolean {
    const pending = this.snapshots;
    if (pending?.has(channel)) return false; // SD-8
    this.removePatches(channel);
    if (channel === SESSION_CHANNEL && pending !== undefined && pending.size > 0) {
      // The session re-baseline goes first: the client rebases its seq on it, then
      // takes the channel snapshots that follow contiguously (SD-5).
      this.snapshots = new Map([[channel, reason], ...pending]);
    } else {
      (this.snapshots ??= new Map()).set(channel, reason);
    }
    return true;
  }

  /** Take the next thing to send: pending snapshots first, then items in order. */
  next(): Dequeued<T> | undefined {
    // Checked by size first: an iterator and its result per dequeue showed in the echo profile (issue 7).
    const pending = this.snapshots;
    if (pending !== undefined && pending.size > 0) {
      const first = pending.entries().next();
      if (!first.done) {
        const [channel, reason] = first.value;
        pending.delete(channel);
        return { kind: 'snapshot', channel, reason };
      }
    }
    if (this.length === 0) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head++] = undefined as unknown as T; // release for GC
    this.queuedBytes -= item.bytes;
    this.compact();
    const droppedBefore = this.droppedSince;
    // BP-10: counted since the previous Message/StatePatch. A Snapshot has no
    // dropped_before field, so drops before it are carried to the next item.
    this.droppedSince = 0;
    return { kind: 'item', item, droppedBefore };
  }

  /** Remove everything of a channel, its pending snapshot included (CH-2 unsubscribe). */
  removeChannel(channel: string): void {
    this.snapshots?.delete(channel);
    this.filter((it) => it.channel !== channel);
  }

  /**
   * Drop every queued item and pending snapshot, counting the Messages as dropped
   * (BP-10); used when continuity is lost and the client resyncs by snapshots.
   */
  clear(): number {
    const n = this.length;
    for (let i = this.head; i < this.items.length; i++) if ((this.items[i] as T).kind === 'message') this.droppedSince++;
    this.items = NO_ITEMS;
    this.head = 0;
    this.queuedBytes = 0;
    this.snapshots?.clear();
    return n;
  }

  private counted(): DropCounters {
    return (this.drops ??= { dropOldest: 0, dropNewest: 0, coalesced: 0, disconnect: 0, patchesReplaced: 0 });
  }

  private fits(item: T): boolean {
    if (this.length === 0) return true; // an oversized item alone still goes (its size is capped by max payload)
    const l = this.limits;
    return this.length + 1 <= l.limitMessages && this.queuedBytes + item.bytes <= l.limitBytes;
  }

  private append(item: T): PushResult {
    if (this.items === NO_ITEMS) this.items = [];
    this.items.push(item);
    this.queuedBytes += item.bytes;
    return 'queued';
  }

  /**
   * Drop oldest items (BP-6) until one more item (when `needSlot`) and `extraBytes`
   * more fit. `keep` (the value just coalesced in place) is never the victim.
   */
  private makeRoom(extraBytes: number, needSlot: boolean, keep?: T): void {
    const slot = needSlot ? 1 : 0;
    const l = this.limits;
    while (this.length + slot > l.limitMessages || this.queuedBytes + extraBytes > l.limitBytes) {
      let idx = this.head;
      if (idx < this.items.length && this.items[idx] === keep) idx++;
      if (idx >= this.items.length) return; // only `keep` is left: it goes alone
      const victim = this.items[idx] as T;
      if (victim.kind === 'patch') {
        // BP-9: never drop a patch alone. Patches replaced by a snapshot lose no state: not counted (BP-10).
        this.counted().dropOldest += this.replacePatches(victim.channel);
        continue;
      }
      this.counted().dropOldest++;
      this.droppedSince++;
      if (idx === this.head) {
        this.items[this.head++] = undefined as unknown as T;
        this.queuedBytes -= victim.bytes;
        this.compact();
      } else {
        this.items.splice(idx, 1);
        this.queuedBytes -= victim.bytes;
      }
    }
  }

  /** BP-9: swap the channel's queued patches for one pending Snapshot; returns how many went. */
  private replacePatches(channel: string): number {
    const n = this.countPatches(channel);
    if (n > 0) this.counted().patchesReplaced += n;
    this.requestSnapshot(channel, SnapshotReason.BACKPRESSURE);
    return n;
  }

  private countPatches(channel: string): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const it = this.items[i] as T;
      if (it.kind === 'patch' && it.channel === channel) n++;
    }
    return n;
  }

  private removePatches(channel: string): void {
    this.filter((it) => !(it.kind === 'patch' && it.channel === channel));
  }

  private filter(keep: (it: T) => boolean): void {
    if (this.length === 0) {
      // Nothing to keep (an idle session's subscribe): the shared empty array, none made.
      this.items = NO_ITEMS;
      this.head = 0;
      this.queuedBytes = 0;
      return;
    }
    const kept: T[] = [];
    let bytes = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const it = this.items[i] as T;
      if (keep(it)) {
        kept.push(it);
        bytes += it.bytes;
      }
    }
    this.items = kept;
    this.head = 0;
    this.queuedBytes = bytes;
  }

  private findKey(channel: string, key: string): number {
    for (let i = this.head; i < this.items.length; i++) {
      const it = this.items[i] as T;
      if (it.key === key && it.channel === channel && it.kind === 'message') return i;
    }
    return -1;
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
