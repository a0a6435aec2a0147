/**
 * SessionRecord: everything about a session that must survive the node that serves it (issue 12,
 * deliverable 1), as plain data. What is not here is the node-local attachment: the transport,
 * timers, write batching, token buckets, the outbound queue of not-yet-sequenced items (BP-2: a
 * queue is this node's backpressure, rebuilt empty elsewhere) and metrics state.
 *
 * A store that outlives the node (Redis, issue 14) keeps this form; the in-memory store keeps the
 * object it is given, so its replay frames are the very bytes the live session holds (no copy).
 */
import type { BackpressurePolicy, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';

/** A sent, not yet acknowledged frame kept for replay (SEQ-7, RS-2): its seq and its encoded bytes. */
export interface ReplayFrame {
  readonly seq: bigint;
  readonly bytes: Uint8Array;
}

/** One subscribed channel; `version` is the state version last sent on it, where known (SD-1). */
export interface SubscriptionRecord {
  readonly channel: string;
  readonly version?: bigint;
  /**
   * The broker position (broker.ts comparePositions) of the last publication of this channel in the
   * session's stream (sequenced: its frame is in the replay or acknowledged). The node that continues
   * the session reads the channel from here (Broker.since), so what was published while the session
   * moved reaches it once (issue 14). Absent: no publication taken yet, or a broker without positions.
   */
  readonly position?: string;
}

/**
 * Which node owns the session, and the fence of that claim. The fence grows on every claim (a
 * takeover); a write under an older fence is refused, so two nodes never both own a session.
 */
export interface OwnerClaim {
  readonly nodeId: string;
  readonly fence: number;
}

/** JSON-safe data (the machine snapshot's value and context are plain data). */
export type PlainData = null | boolean | number | string | bigint | Uint8Array | readonly PlainData[] | { readonly [k: string]: PlainData };

/** The persisted `serverSessionMachine` snapshot: its state value and context. */
export interface MachineRecord {
  readonly value: PlainData;
  readonly context: PlainData;
}

export interface SessionRecord {
  readonly id: string;
  readonly principal: string;
  /** Epoch ms (wall clock: another node reads it). */
  readonly createdAtMs: number;
  /** Epoch ms after which a detached session is gone (RS-1 resume TTL); undefined while attached. */
  readonly expiresAtMs: number | undefined;
  readonly policy: BackpressurePolicy;
  /** The window in force for the server's stream (BP-1, BP-5). */
  readonly receiveWindow: number;
  /** The server's stream (SEQ-2, SEQ-7): the next seq, the cumulative ack, the unacked frames in seq order. */
  readonly outbound: { readonly next: bigint; readonly acked: bigint; readonly replay: readonly ReplayFrame[] };
  /** The client's stream (SEQ-3, SEQ-5, SEQ-10): last client seq processed, last ack the server sent. */
  readonly inbound: { readonly lastProcessed: bigint; readonly lastAckSent: bigint };
  readonly subscriptions: readonly SubscriptionRecord[];
  /** BP-11: the next resume resyncs by snapshots. */
  readonly isContinuityLost: boolean;
  /** Why the session was NEW (RS-6), restated by nothing after its first Welcome but kept for logs. */
  readonly newReason: ResumeReason;
  readonly machine: MachineRecord | undefined;
  readonly owner: OwnerClaim | undefined;
}

/** A copy of `r` with `patch` applied (records are immutable values). */
export function withRecord(r: SessionRecord, patch: Partial<SessionRecord>): SessionRecord {
  return { ...r, ...patch };
}

/** Replay frames after a cumulative ack (SEQ-7): those with seq > acked. */
export function trimmedReplay(replay: readonly ReplayFrame[], acked: bigint): readonly ReplayFrame[] {
  let i = 0;
  while (i < replay.length && (replay[i] as ReplayFrame).seq <= acked) i++;
  return i === 0 ? replay : replay.slice(i);
}
