/**
 * The server's public types, in one module (issue 12): what the application hands the server and
 * gets back (sessions, messages, channel state, events, stats). Types only, importing no other
 * server module, so any module may import it without closing a cycle;
 * options.ts keeps the options and their resolution, index.ts exports from here.
 */
import type { DrainReason } from '../gen/lifeline/v1/envelope_pb.js';

/** A channel's whole state as the application owns it (SD-4). */
export interface ChannelState {
  /** The channel version the state is at (StatePatch.version chain, SD-1). */
  readonly version: bigint;
  /** The application's canonical encoding of the state. */
  readonly state: Uint8Array;
  /** CRC-32C of `state` (stateDigest); 0 or absent = none (SD-3). */
  readonly digest?: number;
}

/** A client Message as the application receives it (SEQ-10). */
export interface ClientMessage {
  readonly seq: bigint;
  readonly channel: string;
  readonly key: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
}

/** What the application sees of a session. */
export interface SessionView {
  readonly id: string;
  readonly principal: string;
  readonly subscriptions: ReadonlySet<string>;
}

/** Who is connecting, as `authenticate` decided; undefined refuses (HS-4 → 401). */
export type Principal = string;
export type MaybePromise<T> = T | Promise<T>;

export type PolicyName = 'drop-oldest' | 'drop-newest' | 'coalesce-by-key' | 'disconnect';

/** What the application sees of a session. */
export interface LifelineSession {
  readonly id: string;
  readonly principal: string;
  readonly subscriptions: ReadonlySet<string>;
  /** The spec's name of its state: handshaking, active, draining, detached, closed, expired. */
  readonly state: string;
  /** A direct message to this session (channel ''), or on a channel it need not be subscribed to. */
  send(message: PublishMessage): void;
  /** End the session on purpose: close 1000 after leaving channels and store (CC-6). */
  end(): void;
  stats(): SessionStats;
}

export interface PublishMessage {
  readonly payload: Uint8Array;
  readonly channel?: string;
  /** Coalescing key (BP-8). */
  readonly key?: string;
  /** End-to-end id for dedupe (SEQ-8). */
  readonly messageId?: string;
}

export interface PublishPatch {
  readonly baseVersion: bigint;
  readonly version: bigint;
  readonly delta: Uint8Array;
  /** stateDigest of the canonical state at `version` (SD-3); 0 or absent = none. */
  readonly digest?: number;
  readonly messageId?: string;
}

/** Per-session numbers the application and metrics read. */
export interface SessionStats {
  readonly rttMs: number | undefined;
  readonly clientRttMs: number | undefined;
  readonly queueLength: number;
  readonly queueBytes: number;
  /** Snapshots waiting to be written (SD-8: at most one per channel). */
  readonly pendingSnapshots: number;
  readonly inFlight: number;
  readonly lastSentSeq: bigint;
  readonly lastAckedSeq: bigint;
  readonly lastClientSeq: bigint;
  readonly drops: Readonly<{ dropOldest: number; dropNewest: number; coalesced: number; disconnect: number; patchesReplaced: number }>;
}

export type ResumeResultName = 'resumed' | 'snapshot';

export interface ServerEvents {
  /** A new session was welcomed (outcome NEW). */
  sessionOpened: [session: LifelineSession];
  /** A session resumed on a new socket, by replay or by snapshot (RS-2, RS-4). */
  sessionResumed: [session: LifelineSession, result: { readonly outcome: ResumeResultName; readonly reason: string }];
  /** A client Message reached the application (also given to `onMessage`). */
  message: [session: LifelineSession, message: ClientMessage];
  /** A session's socket closed; the session may live on, detached (RS-1). */
  sessionClosed: [session: LifelineSession, info: { readonly code: number; readonly byPeer: boolean }];
  /** A session is over: ended, revoked, reset by a close, expired (RS-1) or evicted while detached (RS-11). */
  sessionEnded: [session: LifelineSession, info: { readonly expired: boolean; readonly evicted: boolean }];
  /**
   * Another node took the session over (a resume there, MN-4): its socket here, if any, was closed
   * 4002 and this node no longer serves it. Not an end: the session goes on, on `byNode` (when known).
   */
  sessionMoved: [session: LifelineSession, info: { readonly byNode: string | undefined }];
}

export interface DrainOptions {
  readonly deadlineMs?: number;
  readonly spreadMs?: number;
  /** Default DEPLOY, or REBALANCE when a target is named. */
  readonly reason?: DrainReason;
  /**
   * A rebalance: where clients should reconnect (a URL, at most 2048 bytes), sent in every
   * DrainNotice; sessions close RECONNECT_ELSEWHERE (4300) instead of SERVICE_RESTART (1012)
   * (spec §13.3). Clients follow it only if it is on their endpoint list or same-origin (§16.9).
   */
  readonly target?: string;
}

/** The liveness sweep's own health (HB-1): how late it ticks and how long a slice takes. */
export interface SweepStats {
  /** How late the last tick fired, in ms. */
  readonly lagMs: number;
  /** The worst lag seen, in ms. */
  readonly maxLagMs: number;
  /** How long the last slice's work took, in ms. */
  readonly lastSliceMs: number;
  readonly ticks: number;
  readonly members: number;
}

export interface ServerStats {
  readonly sessions: number;
  readonly connections: number;
  readonly sweep: SweepStats;
  readonly isReady: boolean;
  readonly isDraining: boolean;
}

