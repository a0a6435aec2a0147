/** The server's public event and result types. */
import type { DrainReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { ClientMessage, LifelineSession } from './options.js';
import type { SweepStats } from './sweep.js';

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

export interface ServerStats {
  readonly sessions: number;
  readonly connections: number;
  readonly sweep: SweepStats;
  readonly isReady: boolean;
  readonly isDraining: boolean;
}

