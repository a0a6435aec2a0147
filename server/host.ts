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
  actor: SessionActor | undefined;
  /** Set by createSession: this actor is the session. */
  session: LiveSession | undefined;
  /** The session a resuming Hello named (RS-2). */
  existing: LiveSession | undefined;
  /** Why a Hello got a new session (RS-6). */
  newReason: ResumeReason;
  /** Made when first set (endingOf), at a close, a failed teardown or a drain: an idle session holds none. */
  ending: HostEnding | undefined;
}

/**
 * The facts of a session's end and of a drain: set late and on few sessions, so one object made
 * then rather than four fields of every Host (issue 16, memory per idle session: 8 B a field).
 */
export interface HostEnding {
  /** The code of the peer's close (or 1005/1006), for sessionClosed. */
  peerCloseCode: number | undefined;
  /** A teardown step failed: the close becomes 1011 (CC-6). */
  isTeardownFailed: boolean;
  drainReason: DrainReason | undefined;
  /** DrainNotice.target of a rebalance drain (spec §13.3). */
  drainTarget: string | undefined;
}

/** The host's HostEnding, made now if it has none, to be written. */
export function endingOf(h: Host): HostEnding {
  return (h.ending ??= { peerCloseCode: undefined, isTeardownFailed: false, drainReason: undefined, drainTarget: undefined });
}

/**
 * A Host for the connection that said (or will say) Hello. Every field is in the literal, those
 * set later included: V8 then keeps them all in the object itself, where fields added afterwards
 * (`actor` at start) would grow a property array of their own (issue 16: memory per idle session).
 */
export function newHost(conn: Connection, principal: string, newReason: ResumeReason): Host {
  return {
    conn,
    principal,
    actor: undefined,
    session: undefined,
    existing: undefined,
    newReason,
    ending: undefined,
  };
}
