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
import type { ReplayFrame, SessionRecord } from './session-record.js';

export type MaybePromise<T> = T | Promise<T>;

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

/** create() of an id that already exists (ids are 128 random bits, §16.3: a bug, never chance). */
export class SessionExistsError extends Error {
  override readonly name = 'SessionExistsError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId.slice(0, 8)}… already exists`);
  }
}

export interface SessionStore {
  /**
   * True when the store outlives this node (Redis): the server then writes replay appends and
   * trims behind, batched once per tick (replay-writer.ts). False for the in-memory store: the
   * node's own OutboundLog is the working copy and the record is written at lifecycle points
   * (create, claim at resume, save at detach and drain, end).
   */
  readonly isShared: boolean;

  /** Store a new session, owned by `nodeId`: resolves with its first fence. SessionExistsError if the id exists. */
  create(record: SessionRecord, nodeId: string): Promise<number>;
  /** The record, or undefined when there is none or it expired (its TTL passed: endedReason says 'expired'). */
  load(id: string): Promise<SessionRecord | undefined>;
  /** Take the session for `nodeId` (a takeover when another node held it): a fence above every earlier one; undefined when there is no session. */
  claim(id: string, nodeId: string): Promise<number | undefined>;
  /** Write the whole record back under `fence`; the stored owner stays the claim's. */
  save(record: SessionRecord, fence: number): Promise<void>;
  /** Add sent frames to the replay, in seq order, under `fence` (SEQ-7). */
  appendReplay(id: string, fence: number, frames: readonly ReplayFrame[]): Promise<void>;
  /** Release replay frames a cumulative ack covers (seq ≤ acked), under `fence` (SEQ-7). */
  trimReplay(id: string, fence: number, acked: bigint): Promise<void>;
  /**
   * Delete the session and remember why for a bounded time (RS-6, RS-11), so a late Hello hears
   * EXPIRED or EVICTED rather than UNKNOWN_SESSION. With a fence, a stale one rejects.
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
}
