/**
 * The async session store seam (issue 12, deliverable 2): where session records live, who owns
 * each one, why recently ended ids are gone (RS-6, RS-11) and which client message ids were
 * already processed (SEQ-8). Asynchronous because a store shared by nodes (Redis, issue 14) is
 * across a network; the in-memory default (memory-session-store.ts) answers at once.
 *
 * Ownership is fenced: create() and claim() return a fence that grows on every claim of the id,
 * and every write names the fence it was claimed under. A write under an older fence rejects with
 * StaleFenceError, so a node that lost a session to a takeover (RS-7 across nodes) can never
 * overwrite the new owner's state. Every store runs the contract suite in contract.ts.
 */
import type { ReplayFrame, SessionRecord, SubscriptionRecord } from './session-record.js';

/**
 * What a live session changed since its last write, committed in one atomic step under its fence
 * (issue 14). For a shared store the server commits ahead of the socket: a frame goes out, and an
 * Ack is sent, only once the store holds it, so the node that continues a session after this one
 * died resumes it exactly (spec §21).
 */
export interface RecordDelta {
  /** Frames sent since, in seq order, each after the last one stored (SEQ-2, SEQ-7). */
  readonly frames?: readonly ReplayFrame[];
  /** A cumulative ack from the client: release replay frames with seq ≤ acked; an older one changes nothing (SEQ-6, SEQ-7). */
  readonly acked?: bigint;
  /** The client's stream: last client seq processed and last ack sent (SEQ-3, SEQ-5, SEQ-10). Never moves back. */
  readonly inbound?: SessionRecord['inbound'];
  /** Channel → broker position of the last publication of that channel now in the session's stream (SubscriptionRecord.position). */
  readonly positions?: Readonly<Record<string, string>>;
  /**
   * The session's whole channel list, when it changed since the last commit (Hello channels,
   * Subscribe, Unsubscribe: MN-15). Replaces the stored list: a channel kept keeps its stored
   * version and position (unless `positions` moves it), a new one is stored as given here.
   */
  readonly subscriptions?: readonly SubscriptionRecord[];
}

/** One session's commit in a SessionStore.commitMany batch. */
export interface CommitRequest {
  readonly id: string;
  readonly fence: number;
  readonly delta: RecordDelta;
}

/** A store or broker across the network: is it reachable now (readiness, `/readyz`)? */
export interface Health {
  /** True while the backing service answers; false from the first failure until it answers again. */
  isReady(): boolean;
  /** Called on every change of isReady(). Returns a function that stops the calls. */
  onHealth(listener: (ready: boolean) => void): () => void;
}

/** Another node claimed a session this node owned (RS-7 across nodes): the id and the new fence. */
export type ClaimLost = (id: string, fence: number, byNode: string) => void;

export type MaybePromise<T> = T | Promise<T>;

/** Another node asks this one to release a session it holds attached (MN-17): the id and who asks. */
export type ReleaseRequested = (id: string, byNode: string) => void;

/**
 * MN-18: what the store knows of a node's liveness lease. `alive`: renewed within its TTL. `expired`:
 * the node kept a lease and it ran out or was ended (dead or gone: not waited for). `never`: no lease
 * of this node seen within LEASE_MARKER_TTL_MS: a node of a release before MN-18 (a rolling upgrade),
 * which neither keeps a lease nor hears release requests, so nothing says it is dead (MN-17's bound).
 */
export type LeaseState = 'alive' | 'expired' | 'never';

/**
 * MN-18: how long a store remembers that a node kept a lease, after its last renewal (24 h): past a
 * lease's TTL that node's lease reads `expired`, not `never`. Longer than any rolling deploy.
 */
export const LEASE_MARKER_TTL_MS = 24 * 60 * 60 * 1000;

/** Why a session ended: closed by either side, its resume TTL ran out (RS-6), evicted (RS-11). */
export type EndReason = 'ended' | 'expired' | 'evicted';

/** A write under a fence older than the session's current claim: another node owns it now. */
export class StaleFenceError extends Error {
  override readonly name = 'StaleFenceError';
  constructor(
    readonly sessionId: string,
    readonly fence: number,
    readonly currentFence: number | undefined,
  ) {
    super(`session ${sessionId.slice(0, 8)}…: fence ${fence} is stale (current ${currentFence ?? 'none'})`);
  }
}

/**
 * A commit would take the stored replay past the store's hard cap (RedisSessionStore maxReplayFrames,
 * maxReplayBytes). The server's replay window (RS-3) bounds a session long before: a bug or an
 * attack, never retried (write-ahead.ts fails the session, CC-5).
 */
export class ReplayCapError extends RangeError {
  override readonly name = 'ReplayCapError';
}

/**
 * A commit's first frame does not follow the stored replay (SEQ-2), changing nothing. `lastSeq`:
 * the last stored seq (or the ack when no frame is stored), so a retry of a commit whose answer
 * was lost can see that it landed and continue after it (write-ahead.ts).
 */
export class ReplayOrderError extends RangeError {
  override readonly name = 'ReplayOrderError';
  constructor(
    readonly sessionId: string,
    readonly firstSeq: bigint,
    readonly lastSeq: bigint,
  ) {
    super(`commit: seq ${firstSeq} not after ${lastSeq} (SEQ-2), session ${sessionId.slice(0, 8)}…`);
  }
}

/** create() of an id that already exists (ids are 128 random bits, §16.3: a bug, never chance). */
export class SessionExistsError extends Error {
  override readonly name = 'SessionExistsError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId.slice(0, 8)}… already exists`);
  }
}

export interface SessionStore {
  /**
   * True when the store outlives this node (Redis): the server then commits a session's frames,
   * acks, inbound cursor and positions ahead of the socket, batched once per tick (write-ahead.ts, MN-1). False for the in-memory store: the
   * node's own OutboundLog is the working copy and the record is written at lifecycle points
   * (create, claim at resume, save at detach and drain, end).
   *
   * When records are written (issue 16). A shared store gets `create` when a session starts (MN-1:
   * its frames are committed under that fence from the first one). A store that is not shared gets
   * `create` at the session's first save instead (its detach, or a drain), with the whole record: no
   * one reads a record while its session lives on this node, so a session that never detaches is
   * never in such a store. `claim` (a resume on this node) is asked only of a session the store
   * holds; `end` is called for every session, held or not (an id never created: remember why, and
   * ignore the fence).
   */
  readonly isShared: boolean;

  /**
   * Store a new session, owned by `nodeId`: resolves with its first fence. SessionExistsError if the
   * id exists. The server calls it when the session starts (shared store) or at its first save (see isShared).
   */
  create(record: SessionRecord, nodeId: string): Promise<number>;
  /** The record, or undefined when there is none or it expired (its TTL passed: endedReason says 'expired'). */
  load(id: string): Promise<SessionRecord | undefined>;
  /** Take the session for `nodeId` (a takeover when another node held it): a fence above every earlier one; undefined when there is no session. */
  claim(id: string, nodeId: string): Promise<number | undefined>;
  /** Write the whole record back under `fence`; the stored owner stays the claim's. */
  save(record: SessionRecord, fence: number): Promise<void>;
  /**
   * Apply `delta` under `fence`, all of it or none: appended frames (rejects, changing nothing,
   * when the first does not follow the last stored seq: SEQ-2), then the trim by `acked`, the
   * inbound cursor and the channel positions. `next` moves past the last appended frame.
   */
  commit(id: string, fence: number, delta: RecordDelta): Promise<void>;
  /**
   * Many sessions' commits at once (one tick's, MN-1), each exactly as `commit` would apply it:
   * resolves with each one's outcome in order (undefined: applied; else the error `commit` would
   * have rejected with). Optional: a store across the network offers it so a tick costs one call
   * there, not one per session (RedisSessionStore: one script call); the write-ahead falls back to
   * `commit` per session without it. Rejects only when the store cannot be reached (nothing applied).
   */
  commitMany?(batch: readonly CommitRequest[]): Promise<readonly (Error | undefined)[]>;
  /**
   * Delete the session and remember why for a bounded time (RS-6, RS-11), so a late Hello hears
   * EXPIRED or EVICTED rather than UNKNOWN_SESSION. With a fence, a stale one rejects. An id the
   * store does not hold (never created: see isShared) is remembered all the same, whatever the fence.
   */
  end(id: string, reason: EndReason, fence?: number): Promise<void>;
  /**
   * Why this id ended, while the store remembers it. May answer synchronously: a Hello that names
   * an ended session is answered before the frames the client sent right behind it are read (they
   * would otherwise reach a session still handshaking: HS-8, 1002). A shared store answers later;
   * the server must then hold the socket's later frames until the Hello is decided (issue 14).
   */
  endedReason(id: string): MaybePromise<EndReason | undefined>;

  /**
   * SEQ-8: this principal's message id was already processed, within the dedupe TTL. May answer
   * synchronously: it is asked once per client Message on the hot path, and a promise there would
   * cost a microtask and an allocation per message for a store that knows at once (memory). A
   * shared store returns a promise; the server then holds the message's delivery (and its ack)
   * until the answer comes, which keeps SEQ-10's order.
   */
  hasMessageId(principal: string, messageId: string): MaybePromise<boolean>;
  /** SEQ-8, SEQ-10: the application has this message; remember its id for the dedupe TTL. */
  addMessageId(principal: string, messageId: string): MaybePromise<void>;

  /**
   * RS-7 across nodes: call `onLost` when another node claims a session `nodeId` owned, so this
   * node closes its old socket 4002 at once rather than at its next (refused) write. Absent on a
   * store no other node shares. Returns a function that stops the calls.
   */
  watchClaims?(nodeId: string, onLost: ClaimLost): () => void;
  /**
   * MN-17: ask `ownerNode`, which holds session `id` attached, to release it (store it detached once
   * its application finished what it was given), on behalf of `byNode` resuming it. Resolves with how
   * many of the owner's listeners (watchReleaseRequests) it reached: 0 when the owner listens for none,
   * gone (its process ended: Redis dropped its connections) or cut off from the store; the asking node
   * then does not wait for it. A request lost otherwise costs the asking node its wait bound, nothing
   * else. With watchReleaseRequests; absent on a store no other node shares.
   */
  requestRelease?(id: string, ownerNode: string, byNode: string): Promise<number>;
  /** MN-17: call `onRequest` when another node asks `nodeId` to release a session (requestRelease). Returns a function that stops the calls. */
  watchReleaseRequests?(nodeId: string, onRequest: ReleaseRequested): () => void;
  /**
   * MN-18: this node is alive for `ttlMs` more (its liveness lease, renewed well within its TTL). A
   * node resuming a session held attached by a node whose lease is gone claims it without waiting
   * for a release that will never come. Each renewal also marks that `nodeId` keeps leases, for
   * LEASE_MARKER_TTL_MS (leaseState: `expired`, not `never`, once the lease is gone). With leaseState
   * and endLease; absent on a store no other node shares. TTLs run on the store's time (a Redis
   * key's PX), not the nodes' clocks.
   */
  renewLease?(nodeId: string, ttlMs: number): Promise<void>;
  /** MN-18: `nodeId`'s lease: alive (renewed within its TTL, not ended), expired (ran out or ended), or never kept (LeaseState). */
  leaseState?(nodeId: string): Promise<LeaseState>;
  /** MN-18: `nodeId` stops (a close after its sessions were written): its lease is gone at once (`expired`: its mark stays). */
  endLease?(nodeId: string): Promise<void>;
  /** Reachability of a store across the network (absent: always ready). */
  readonly health?: Health;
  /** Release connections. The server never calls it: whoever built the store closes it, after the servers that use it. */
  close?(): Promise<void>;
}
