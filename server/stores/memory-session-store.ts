/**
 * The in-memory SessionStore, the default (issue 12). Not shared: it dies with the node, so the
 * node's live sessions are the working copy and this store is written at lifecycle points only,
 * from a session's first save (its detach, or a drain: SessionStore.isShared). An attached session
 * that never detached has no record here (issue 16: memory per idle session).
 *
 * With `shared: true` it is the in-process double of a store several nodes share (issue 14:
 * RedisSessionStore): isShared, so the server commits ahead of the socket, and watchClaims, so
 * several servers in one process (tests, conformance self-run, mutants) see cross-node takeovers.
 *
 * No second copy of what a live session holds (issue 12: memory per idle session must not grow):
 * a record is kept as the object given, never encoded or cloned, so its replay frames are the very
 * Uint8Arrays the session's OutboundLog holds. Callers treat records as immutable values.
 */
import { defaults } from '../../spec/protocol/defaults.js';
import type { Clock } from '../../spec/protocol/clock.js';
import { RecentMessageIds } from '../message-ids.js';
import { applyDelta } from './record-delta.js';
import { withRecord, type SessionRecord } from './session-record.js';
import { LEASE_MARKER_TTL_MS, SessionExistsError, StaleFenceError, type ClaimLost, type EndReason, type LeaseState, type RecordDelta, type ReleaseRequested, type SessionStore } from './session-store.js';

export interface MemorySessionStoreOptions {
  /** Time for TTLs: record expiry (epoch ms), ended reasons, dedupe. Default Date.now. */
  readonly clock?: Pick<Clock, 'now'>;
  /** Ended ids remembered (RS-6, RS-11), oldest forgotten first. Default 10 000. */
  readonly endedMaxIds?: number;
  /** How long an ended id's reason is remembered, ms. Default 1 h: far beyond any client's reconnect backoff. */
  readonly endedTtlMs?: number;
  /** SEQ-8 dedupe bounds. Default §17: 10 000 ids for resume TTL + reconnect cap. */
  readonly dedupeMaxIds?: number;
  readonly dedupeTtlMs?: number;
  /**
   * Act as a store several nodes share (issue 14): `isShared` true and claim notices through
   * watchClaims, for servers in one process. Default false: today's direct path on one node.
   */
  readonly shared?: boolean;
}

/** The record as given (its `owner` ignored) and the claim: the owner is added when read, so a write never copies a record. */
class Entry {
  constructor(
    public record: SessionRecord,
    public fence: number,
    public nodeId: string,
  ) {}
}

/**
 * What the map holds per session: the claim as an Entry, or, for the usual claim (fence 1 by the
 * store's first node: every session of a store no other node writes), the record alone. Issue 16,
 * memory per idle session: the default store keeps the record of every session that detached (and
 * with `shared`, of every session), and an Entry per session was 48 B of it.
 */
type Slot = SessionRecord | Entry;

const epochClock: Pick<Clock, 'now'> = { now: () => Date.now() };

export class MemorySessionStore implements SessionStore {
  readonly isShared: boolean;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly records = new Map<string, Slot>();
  /** The node of the first create: its sessions at fence 1 are held as bare records (Slot). */
  private homeNode: string | undefined;
  /** id → why and when it ended; insertion order is age (RS-6, RS-11). */
  private readonly ended = new Map<string, { readonly reason: EndReason; readonly at: number }>();
  private readonly endedMaxIds: number;
  private readonly endedTtlMs: number;
  /** SEQ-8: processed client message ids, by principal. */
  readonly messageIds: RecentMessageIds;
  /** nodeId → listeners of claims that took a session from that node (RS-7 across nodes). */
  private readonly claimWatchers = new Map<string, Set<ClaimLost>>();
  /** nodeId → listeners of release requests for that node's sessions (MN-17). */
  private readonly releaseWatchers = new Map<string, Set<ReleaseRequested>>();
  /** nodeId → when its liveness lease runs out, on this store's clock (MN-18). */
  private readonly leases = new Map<string, number>();
  /** nodeId → until when the store remembers that it kept a lease (LEASE_MARKER_TTL_MS after its last renewal). */
  private readonly leaseMarks = new Map<string, number>();

  constructor(o: MemorySessionStoreOptions = {}) {
    this.isShared = o.shared ?? false;
    this.clock = o.clock ?? epochClock;
    this.endedMaxIds = Math.max(1, o.endedMaxIds ?? 10_000);
    this.endedTtlMs = Math.max(1, o.endedTtlMs ?? 3_600_000);
    this.messageIds = new RecentMessageIds(
      Math.max(1, o.dedupeMaxIds ?? defaults.dedupeMaxIds),
      Math.max(1, o.dedupeTtlMs ?? defaults.resumeTtlMs + defaults.reconnectCapMs), // spec §7.6
      this.clock,
    );
  }

  /** Sessions held (for tests and stats). */
  get size(): number {
    return this.records.size;
  }

  create(record: SessionRecord, nodeId: string): Promise<number> {
    this.expireIfDue(record.id);
    if (this.records.has(record.id)) return Promise.reject(new SessionExistsError(record.id));
    this.ended.delete(record.id);
    this.homeNode ??= nodeId;
    this.put(record.id, new Entry(record, 1, nodeId));
    return Promise.resolve(1);
  }

  load(id: string): Promise<SessionRecord | undefined> {
    const e = this.live(id);
    return Promise.resolve(e && withRecord(e.record, { owner: { nodeId: e.nodeId, fence: e.fence } }));
  }

  claim(id: string, nodeId: string): Promise<number | undefined> {
    const e = this.live(id);
    if (!e) return Promise.resolve(undefined);
    const from = e.nodeId;
    e.fence++; // a takeover: every earlier claim is now stale
    e.nodeId = nodeId;
    this.put(id, e);
    if (from !== nodeId) this.notifyClaim(from, id, e.fence, nodeId);
    return Promise.resolve(e.fence);
  }

  /**
   * RS-7 across nodes: `onLost(id, newFence, byNode)` when another node claims a session `nodeId`
   * owned; a claim by the same node is no takeover and calls nothing. It matters with `shared:
   * true` (several servers on one store); on one node every claim is that node's own.
   *
   * Timing: each listener runs in its own microtask queued by claim(), so after claim() returns
   * and before the claimer's `await` resumes (like Redis, the notice never runs inside the
   * claimer's stack; unlike Redis, it never arrives late). A listener that throws does not touch
   * the claim or the other listeners (it is an uncaught exception, as in any event listener).
   */
  watchClaims(nodeId: string, onLost: ClaimLost): () => void {
    let set = this.claimWatchers.get(nodeId);
    if (!set) this.claimWatchers.set(nodeId, (set = new Set()));
    const mine = set;
    // A wrapper per call, so the same function watched twice is two watches, each stopped by its own return.
    const watch: ClaimLost = (id, fence, byNode) => onLost(id, fence, byNode);
    mine.add(watch);
    return () => {
      mine.delete(watch);
      if (mine.size === 0 && this.claimWatchers.get(nodeId) === mine) this.claimWatchers.delete(nodeId);
    };
  }

  /** MN-17: the owner's listeners run each in its own microtask (as claim notices: never in the asker's stack). */
  requestRelease(id: string, ownerNode: string, byNode: string): Promise<number> {
    const set = this.releaseWatchers.get(ownerNode);
    if (!set) return Promise.resolve(0);
    for (const onRequest of set) queueMicrotask(() => set.has(onRequest) && onRequest(id, byNode));
    return Promise.resolve(set.size);
  }

  watchReleaseRequests(nodeId: string, onRequest: ReleaseRequested): () => void {
    let set = this.releaseWatchers.get(nodeId);
    if (!set) this.releaseWatchers.set(nodeId, (set = new Set()));
    const mine = set;
    const watch: ReleaseRequested = (id, byNode) => onRequest(id, byNode); // one per call, as watchClaims
    mine.add(watch);
    return () => {
      mine.delete(watch);
      if (mine.size === 0 && this.releaseWatchers.get(nodeId) === mine) this.releaseWatchers.delete(nodeId);
    };
  }

  /** MN-18: one entry per node, not per session. */
  renewLease(nodeId: string, ttlMs: number): Promise<void> {
    const now = this.clock.now();
    this.leases.set(nodeId, now + Math.max(1, ttlMs));
    this.leaseMarks.set(nodeId, now + LEASE_MARKER_TTL_MS);
    return Promise.resolve();
  }

  leaseState(nodeId: string): Promise<LeaseState> {
    const now = this.clock.now();
    const until = this.leases.get(nodeId);
    if (until !== undefined && now < until) return Promise.resolve('alive');
    this.leases.delete(nodeId); // ran out: forgotten, as a key past its TTL
    const marked = this.leaseMarks.get(nodeId);
    if (marked !== undefined && now < marked) return Promise.resolve('expired');
    this.leaseMarks.delete(nodeId);
    return Promise.resolve('never');
  }

  endLease(nodeId: string): Promise<void> {
    this.leases.delete(nodeId);
    return Promise.resolve();
  }

  save(record: SessionRecord, fence: number): Promise<void> {
    return this.fenced(record.id, fence, (e) => {
      e.record = record;
    });
  }

  commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    return this.fenced(id, fence, (e) => {
      e.record = applyDelta(e.record, delta);
    });
  }

  end(id: string, reason: EndReason, fence?: number): Promise<void> {
    const e = this.entry(id);
    if (e && fence !== undefined && fence < e.fence) return Promise.reject(new StaleFenceError(id, fence, e.fence));
    this.records.delete(id);
    this.remember(id, reason);
    return Promise.resolve();
  }

  /** Synchronous (see SessionStore.endedReason). */
  endedReason(id: string): EndReason | undefined {
    this.expireIfDue(id);
    const e = this.ended.get(id);
    if (!e) return undefined;
    if (this.clock.now() - e.at < this.endedTtlMs) return e.reason;
    this.ended.delete(id);
    return undefined;
  }

  hasMessageId(principal: string, messageId: string): boolean {
    return this.messageIds.has(principal, messageId); // SEQ-8
  }

  addMessageId(principal: string, messageId: string): void {
    this.messageIds.add(principal, messageId); // SEQ-8, SEQ-10
  }

  /** The entry, unless missing or past its TTL (then it ends as expired, RS-6). */
  private live(id: string): Entry | undefined {
    this.expireIfDue(id);
    return this.entry(id);
  }

  /** The session's claim and record; for a bare record a new Entry: a change to it is kept by put(). */
  private entry(id: string): Entry | undefined {
    const slot = this.records.get(id);
    if (slot === undefined || slot instanceof Entry) return slot;
    return new Entry(slot, 1, this.homeNode as string);
  }

  /** Hold `e` for `id`: the usual claim as the record alone (Slot). */
  private put(id: string, e: Entry): void {
    this.records.set(id, e.fence === 1 && e.nodeId === this.homeNode ? e.record : e);
  }

  private expireIfDue(id: string): void {
    const slot = this.records.get(id);
    const at = slot === undefined ? undefined : slot instanceof Entry ? slot.record.expiresAtMs : slot.expiresAtMs;
    if (at === undefined || this.clock.now() < at) return;
    this.records.delete(id);
    this.remember(id, 'expired'); // RS-6
  }

  private fenced(id: string, fence: number, write: (e: Entry) => void): Promise<void> {
    const e = this.live(id);
    if (!e || fence !== e.fence) return Promise.reject(new StaleFenceError(id, fence, e?.fence));
    try {
      write(e);
    } catch (err) {
      return Promise.reject(err);
    }
    this.put(id, e);
    return Promise.resolve();
  }

  private notifyClaim(from: string, id: string, fence: number, byNode: string): void {
    const set = this.claimWatchers.get(from);
    if (!set) return;
    // A watch stopped before its microtask runs hears nothing (as an UNSUBSCRIBE would).
    for (const onLost of set) queueMicrotask(() => set.has(onLost) && onLost(id, fence, byNode));
  }

  /** RS-6, RS-11: bounded in count and in time; one Map in insertion order is LRU and expiry queue at once. */
  private remember(id: string, reason: EndReason): void {
    const now = this.clock.now();
    this.ended.delete(id);
    this.ended.set(id, { reason, at: now });
    for (const [oldest, e] of this.ended) {
      if (this.ended.size <= this.endedMaxIds && now - e.at < this.endedTtlMs) break;
      this.ended.delete(oldest);
    }
  }
}
