/**
 * What one session machine's actions act on (its "host"): the connection that said Hello, the
 * Hello's facts, and the session once there is one. Its own module because both the action table
 * (machine-host.ts) and the lifecycle (session-lifecycle.ts) use it, and the table uses the
 * lifecycle: with `Host` in either of them the two would import each other (issue 12).
 */
import type { DrainReason, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { Connection } from './connection.js';
import type { SessionActor } from './session-actor.js';
import type { LiveSession } from './session.js';

/** Everything an actor's actions need. */
export interface Host {
  /** The connection that said Hello (the handshake's socket). */
  readonly conn: Connection;
  /** Principal from the upgrade, or from authenticateHello (HS-12). */
  principal: string;
  /** The session machine this host serves (set when it starts). */
  actor?: SessionActor;
  /** Set by createSession: this actor is the session. */
  session: LiveSession | undefined;
  /** The session a resuming Hello named (RS-2). */
  existing: LiveSession | undefined;
  /** Why a Hello got a new session (RS-6). */
  newReason: ResumeReason;
  peerCloseCode: number | undefined;
  /** A teardown step failed: the close becomes 1011 (CC-6). */
  isTeardownFailed: boolean;
  drainReason?: DrainReason;
  /** DrainNotice.target of a rebalance drain (spec §13.3). */
  drainTarget?: string;
}
