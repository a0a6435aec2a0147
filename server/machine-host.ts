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
import { LiveSession, type SessionEnv } from './session.js';
import type { FanOut, SessionStore } from './stores.js';
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
  readonly store: SessionStore<LiveSession>;
  readonly fanOut: FanOut<LiveSession>;
  readonly sweep: LivenessSweep<Connection>;
  readonly log: Logger;
  hostOf(actor: SessionActor): Host | undefined;
  setOwner(conn: Connection, actor: SessionActor): void;
  newSessionId(): string;
  /** Why a session id is gone, for a later Hello naming it (RS-6: EXPIRED; RS-11: EVICTED). */
  rememberEnded(id: string, reason: ResumeReason): void;
  readonly detachedSessions: DetachedSessions<LiveSession>;
  /** Check the detached limits soon (RS-11): not inside the transition that detached a session. */
  scheduleDetachedCheck(): void;
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
      createSession: safe('createSession', ({ self }) => {
        const h = hostOf(self);
        if (!h.hello) throw new Error('createSession without Hello');
        const s = new LiveSession(reg.newSessionId(), h.principal, self, reg.env, h.hello);
        s.newReason = h.newReason;
        s.conn = h.conn;
        h.session = s;
        reg.store.set(s.id, s);
        reg.sweep.add(h.conn);
      }),
      handOverSocket: safe('handOverSocket', ({ self }) => {
        const h = hostOf(self);
        const target = h.existing;
        if (!target || !h.hello) throw new Error('handOver without a session');
        target.pendingAttach = { conn: h.conn, hello: h.hello };
        reg.setOwner(h.conn, target.actor);
        target.actor.send({ type: 'socket.attached', socketId: h.conn.id });
      }),
      attachSocket: safe('attachSocket', ({ self }) => {
        const s = sessionOf(self);
        const pending = s.pendingAttach;
        if (!pending) throw new Error('attach without a pending socket');
        s.conn = pending.conn;
        hostOf(self).isTeardownFailed = false;
        reg.sweep.add(pending.conn);
      }),
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
      markDetached: safe('markDetached', ({ self }) => {
        reg.detachedSessions.add(sessionOf(self)); // RS-11
        reg.scheduleDetachedCheck();
      }),
      unmarkDetached: safe('unmarkDetached', ({ self }) => {
        const s = hostOf(self).session;
        if (s) reg.detachedSessions.remove(s);
      }),
      // CC-6, in this order: channels, store, then the close.
      leaveChannels: teardownStep('leaveChannels', ({ self }) => {
        const s = hostOf(self).session;
        if (s) reg.fanOut.leaveAll(s);
      }),
      deleteSession: teardownStep('deleteSession', ({ self, event }) => {
        const s = hostOf(self).session;
        if (!s) return;
        reg.store.delete(s.id);
        const expired = event.type.startsWith('xstate.after.');
        const evicted = event.type === 'app.evict';
        if (expired) reg.rememberEnded(s.id, ResumeReason.EXPIRED); // RS-6: a late Hello hears EXPIRED
        else if (evicted) reg.rememberEnded(s.id, ResumeReason.EVICTED); // RS-11: … or EVICTED
        s.dispose();
        reg.emitEvent('sessionEnded', s.handle, { expired, evicted });
      }),
    },
  });
}
