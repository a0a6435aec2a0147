/**
 * The server session machine's actions, supplied once per server with
 * `.provide()`. Each action finds its actor's Host (connection, session, the
 * frame being handled) and calls the session data; it decides nothing.
 *
 * An exception in an action must not crash the process or touch other sessions
 * (CC-5, SEC-4): every action is wrapped, and a failure becomes `app.fail` (1011).
 * A failure while tearing down turns the close that follows into 1011 (CC-6).
 */
import type { AnyActorRef } from 'xstate';
import type { SessionActor } from './session-actor.js';
import { DrainReason, ResumeOutcome, ResumeReason, type Envelope, type Hello } from '../gen/lifeline/v1/envelope_pb.js';
import { serverSessionMachine, type ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { Connection } from './connection.js';
import type { ServerEvents } from './types.js';
import type { LiveSession, SessionEnv } from './session.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import type { DetachedSessions } from './detached-sessions.js';
import type { LivenessSweep } from './sweep.js';
import type { Logger } from 'pino';
import { sessionIdPrefix } from './telemetry.js';

/** Everything an actor's actions need. */
export interface Host {
  /** The connection that said Hello (the handshake's socket). */
  readonly conn: Connection;
  /** Principal from the upgrade, or from authenticateHello (HS-12). */
  principal: string;
  /** Set by createSession: this actor is the session. */
  session: LiveSession | undefined;
  /** The envelope whose event is being handled. */
  frame: Envelope | undefined;
  hello: Hello | undefined;
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

/** What the actions need from the server. */
export interface HostRegistry {
  readonly env: SessionEnv;
  /** Registry, channel index and session store at the lifecycle points (server/session-lifecycle.ts). */
  readonly lifecycle: SessionLifecycle;
  readonly sweep: LivenessSweep<Connection>;
  readonly log: Logger;
  hostOf(actor: SessionActor): Host | undefined;
  readonly detachedSessions: DetachedSessions<LiveSession>;
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void;
  failSession(actor: SessionActor, err: unknown): void;
}

type Args = { self: AnyActorRef; event: ServerSessionEvent };

function reasonOf(ev: ServerSessionEvent, name: WsCloseCodeName): string {
  if (ev.type === 'frame.invalid') return ev.reason;
  if (ev.type === 'app.fail') return `CC-5: ${ev.reason}`;
  return name;
}

export function provideMachine(reg: HostRegistry) {
  const hostOf = (self: AnyActorRef): Host => {
    const h = reg.hostOf(self);
    if (!h) throw new Error('actor without host');
    return h;
  };
  const sessionOf = (self: AnyActorRef): LiveSession => {
    const s = hostOf(self).session;
    if (!s) throw new Error('no session yet');
    return s;
  };
  const frameBody = <C extends NonNullable<Envelope['body']['case']>>(self: AnyActorRef, c: C) => {
    const f = hostOf(self).frame;
    if (!f || f.body.case !== c) throw new Error(`expected a ${c} frame`);
    return f.body.value as Extract<Envelope['body'], { case: C }>['value'];
  };
  /** Run an action; an exception fails this session only (CC-5). */
  const safe =
    <P>(name: string, fn: (a: Args, p: P) => void, onError?: (a: Args) => void) =>
    (a: Args, p: P): void => {
      try {
        fn(a, p);
      } catch (err) {
        reg.log.error({ err, action: name }, 'session action failed');
        onError?.(a);
        reg.failSession(a.self, err);
      }
    };
  const teardownStep = (name: string, fn: (a: Args) => void) =>
    safe<unknown>(name, fn, ({ self }) => {
      const h = reg.hostOf(self);
      if (h) h.isTeardownFailed = true;
    });

  /** The socket the actor writes to: the session's, or the handshake's. */
  const socketOf = (h: Host): Connection | undefined => (h.session ? h.session.detach() : h.conn.isEnded ? undefined : h.conn);

  const endSocket = (a: Args, name: WsCloseCodeName, how: 'close' | 'terminate') => {
    const h = hostOf(a.self);
    const effective: WsCloseCodeName = h.isTeardownFailed ? 'INTERNAL_ERROR' : name; // CC-6: teardown errors → 1011
    const conn = socketOf(h);
    if (!conn) return;
    reg.sweep.delete(conn);
    if (how === 'terminate') conn.terminate(effective, reasonOf(a.event, effective));
    else conn.close(effective, reasonOf(a.event, effective));
    if (h.session) reg.emitEvent('sessionClosed', h.session.handle, { code: codeOf(effective), byPeer: false });
  };

  return serverSessionMachine.provide({
    actions: {
      createSession: safe('createSession', ({ self }) => reg.lifecycle.create(self, hostOf(self))),
      handOverSocket: safe('handOverSocket', ({ self }) => reg.lifecycle.handOver(hostOf(self))),
      attachSocket: safe('attachSocket', ({ self }) => reg.lifecycle.attach(sessionOf(self), hostOf(self))),
      sendWelcome: safe('sendWelcome', ({ self }) => {
        const h = hostOf(self);
        const s = sessionOf(self);
        let outcome: ResumeOutcome;
        let reason: ResumeReason;
        if (s.pendingAttach) {
          ({ outcome, reason } = s.welcomeResume());
        } else {
          if (!h.hello) throw new Error('Welcome without Hello');
          s.welcomeNew(h.hello);
          outcome = ResumeOutcome.NEW;
          reason = s.newReason;
        }
        const conn = s.conn;
        if (conn) {
          const id = sessionIdPrefix(s.id); // §16.3: the full id is a capability; logs and spans get a prefix
          conn.log = conn.log.with({ sessionId: id });
          conn.span?.setSessionId(id);
          conn.span?.setHeartbeatInterval(reg.env.opts.heartbeatIntervalMs);
          conn.span?.setResume(outcome, reason);
          conn.log.debug({ outcome: ResumeOutcome[outcome], reason: ResumeReason[reason] }, 'welcome');
        }
        reg.env.metrics?.resume(outcome, reason); // RS-5
        if (outcome === ResumeOutcome.NEW) reg.emitEvent('sessionOpened', s.handle);
        else {
          reg.emitEvent('sessionResumed', s.handle, {
            outcome: outcome === ResumeOutcome.SNAPSHOT ? 'snapshot' : 'resumed',
            reason: ResumeReason[reason] ?? String(reason),
          });
        }
      }),
      closeSocket: safe<{ name: WsCloseCodeName }>('closeSocket', (a, p) => endSocket(a, p.name, 'close')),
      terminateSocket: safe<{ name: WsCloseCodeName }>('terminateSocket', (a, p) => endSocket(a, p.name, 'terminate')),
      forgetSocket: safe('forgetSocket', ({ self }) => {
        const h = hostOf(self);
        const conn = h.session ? h.session.detach() : h.conn;
        if (!conn) return;
        conn.forget();
        reg.sweep.delete(conn);
        if (h.session) reg.emitEvent('sessionClosed', h.session.handle, { code: h.peerCloseCode ?? codeOf('ABNORMAL'), byPeer: true });
      }),
      sendPing: safe('sendPing', ({ self }) => sessionOf(self).conn?.ping()),
      sendHeartbeatAck: safe<{ intervalSteps: number; clientSteps: number }>('sendHeartbeatAck', ({ self }, p) => {
        const hb = frameBody(self, 'heartbeat');
        const base = reg.env.opts.heartbeatIntervalMs;
        const s = sessionOf(self);
        s.heartbeatAck(hb.id, hb.sentAtMs, hb.rttMs, p.intervalSteps * base, p.clientSteps * base);
        if (p.intervalSteps > 0) {
          s.conn?.span?.setHeartbeatInterval(p.intervalSteps * base); // HB-11: the interval in force changed
          s.conn?.log.debug({ intervalMs: p.intervalSteps * base }, 'heartbeat interval announced');
        }
      }),
      deliverMessage: safe('deliverMessage', ({ self }) => sessionOf(self).deliver(frameBody(self, 'message'))),
      ackDuplicate: safe('ackDuplicate', ({ self }) => sessionOf(self).ackDuplicate()),
      applyAck: safe('applyAck', ({ self }) => sessionOf(self).applyAck(frameBody(self, 'ack').seq)),
      answerDrift: safe('answerDrift', ({ self }) => sessionOf(self).answerDrift(frameBody(self, 'stateDrift'))),
      subscribe: safe('subscribe', ({ self }) => sessionOf(self).subscribe(frameBody(self, 'subscribe').channels)),
      confirmSubscribe: safe('confirmSubscribe', ({ self }) => sessionOf(self).confirmSubscribe(frameBody(self, 'subscribe').channels)), // CH-4
      unsubscribe: safe('unsubscribe', ({ self }) => sessionOf(self).unsubscribe(frameBody(self, 'unsubscribe').channels)),
      sendDrainNotice: safe<{ reconnectAfterMs: number; deadlineMs: number }>('sendDrainNotice', ({ self }, p) => {
        const h = hostOf(self);
        sessionOf(self).drainNotice(p.reconnectAfterMs, p.deadlineMs, h.drainReason ?? DrainReason.DEPLOY, h.drainTarget ?? '');
      }),
      loseContinuity: safe('loseContinuity', ({ self }) => {
        sessionOf(self).isContinuityLost = true;
      }),
      releaseReplay: safe('releaseReplay', ({ self }) => sessionOf(self).releaseReplay()),
      markDetached: safe('markDetached', ({ self }) => reg.lifecycle.markDetached(sessionOf(self))),
      unmarkDetached: safe('unmarkDetached', ({ self }) => {
        const s = hostOf(self).session;
        if (s) reg.detachedSessions.remove(s);
      }),
      // CC-6, in this order: channels, store, then the close.
      leaveChannels: teardownStep('leaveChannels', ({ self }) => {
        const s = hostOf(self).session;
        if (s) reg.lifecycle.leaveChannels(s);
      }),
      deleteSession: teardownStep('deleteSession', ({ self, event }) => {
        const s = hostOf(self).session;
        if (s) reg.lifecycle.delete(s, event);
      }),
    },
  });
}
