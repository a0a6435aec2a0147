/**
 * The server session machine's actions as a handler table, one per server:
 * `(host, event, params) => void` per action. The runner (session-actor.ts)
 * calls them with the session's Host and the event the action ran for, whose
 * payload (the Hello, Message, Heartbeat, …) is all the frame there is; each
 * handler calls the session data and decides nothing.
 *
 * An exception in an action must not crash the process or touch other sessions
 * (CC-5, SEC-4): every action is wrapped, and a failure becomes `app.fail` (1011).
 * A failure while tearing down turns the close that follows into 1011 (CC-6).
 */
import type { ActionTable, HostEvent, SessionActor } from './session-actor.js';
import { DrainReason, ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { Connection } from './connection.js';
import type { ServerEvents } from './types.js';
import type { LiveSession, SessionEnv } from './session.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import type { DetachedSessions } from './detached-sessions.js';
import type { LivenessSweep } from './sweep.js';
import type { Logger } from 'pino';
import { sessionIdPrefix } from './telemetry.js';
import { endingOf, type Host } from './host.js';

/** What the actions need from the node (SessionRegistry, server/registry.ts, provides it). */
export interface HostRegistry {
  readonly env: SessionEnv;
  /** Registry, channel index and session store at the lifecycle points (server/session-lifecycle.ts). */
  readonly lifecycle: SessionLifecycle;
  readonly sweep: LivenessSweep<Connection>;
  readonly log: Logger;
  hostOf(actor: SessionActor): Host | undefined;
  readonly detachedSessions: DetachedSessions<LiveSession>;
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void;
  hasListeners(event: keyof ServerEvents): boolean;
  failSession(actor: SessionActor, err: unknown): void;
}

function reasonOf(ev: HostEvent, name: WsCloseCodeName): string {
  if (ev.type === 'frame.invalid') return ev.reason;
  if (ev.type === 'app.fail') return `CC-5: ${ev.reason}`;
  return name;
}

/** The event an action ran for, as the type its payload comes from (the machine only runs it on that event). */
function eventOf<T extends ServerSessionEvent['type']>(ev: HostEvent, type: T): Extract<ServerSessionEvent, { type: T }> {
  if (ev.type !== type) throw new Error(`expected ${type}, got ${ev.type}`);
  return ev as Extract<ServerSessionEvent, { type: T }>;
}

/** What an action handler receives: the session's host and the event the action ran for. */
type Args = { host: Host; event: HostEvent };

export function sessionActions(reg: HostRegistry): ActionTable<Host> {
  const sessionOf = (h: Host): LiveSession => {
    if (!h.session) throw new Error('no session yet');
    return h.session;
  };
  /** Run an action; an exception fails this session only (CC-5). */
  const safe =
    <P>(name: string, fn: (a: Args, p: P) => void, onError?: (a: Args) => void) =>
    (host: Host, event: HostEvent, p: P): void => {
      const a = { host, event };
      try {
        fn(a, p);
      } catch (err) {
        reg.log.error({ err, action: name }, 'session action failed');
        onError?.(a);
        if (host.actor) reg.failSession(host.actor, err);
      }
    };
  const teardownStep = (name: string, fn: (a: Args) => void) =>
    safe<undefined>(name, fn, ({ host }) => {
      endingOf(host).isTeardownFailed = true;
    });

  /** The socket the actor writes to: the session's, or the handshake's. */
  const socketOf = (h: Host): Connection | undefined => (h.session ? h.session.detach() : h.conn.isEnded ? undefined : h.conn);

  const endSocket = (a: Args, name: WsCloseCodeName, how: 'close' | 'terminate') => {
    const h = a.host;
    const effective: WsCloseCodeName = h.ending?.isTeardownFailed === true ? 'INTERNAL_ERROR' : name; // CC-6: teardown errors → 1011
    const conn = socketOf(h);
    if (!conn) return;
    reg.sweep.delete(conn);
    if (how === 'terminate') conn.terminate(effective, reasonOf(a.event, effective));
    else conn.close(effective, reasonOf(a.event, effective));
    if (h.session) reg.emitEvent('sessionClosed', h.session.handle, { code: codeOf(effective), byPeer: false });
  };

  return {
      createSession: safe('createSession', ({ host: h, event }) => {
        if (!h.actor) throw new Error('createSession without an actor');
        reg.lifecycle.create(h.actor, h, eventOf(event, 'frame.hello').hello);
      }),
      handOverSocket: safe('handOverSocket', ({ host: h, event }) => reg.lifecycle.handOver(h, eventOf(event, 'frame.hello').hello)),
      attachSocket: safe<{ socketId: number }>('attachSocket', ({ host: h }) => reg.lifecycle.attach(sessionOf(h), h)),
      sendWelcome: safe('sendWelcome', ({ host: h, event }) => {
        const s = sessionOf(h);
        let outcome: ResumeOutcome;
        let reason: ResumeReason;
        if (s.pendingAttach) {
          ({ outcome, reason } = s.welcomeResume());
        } else {
          s.welcomeNew(eventOf(event, 'frame.hello').hello); // a new session: the Hello that created it
          outcome = ResumeOutcome.NEW;
          reason = s.newReason;
        }
        const conn = s.conn;
        if (conn) {
          conn.nameSession(s.id); // its records show the prefix (§16.3)
          conn.span?.setSessionId(sessionIdPrefix(s.id)); // §16.3: the full id is a capability; logs and spans get a prefix
          conn.span?.setHeartbeatInterval(reg.env.opts.heartbeatIntervalMs);
          conn.span?.setResume(outcome, reason);
          // Only when written: the connection makes its logger on the first record (memory per idle session).
          if (reg.log.isLevelEnabled('debug')) conn.log.debug({ outcome: ResumeOutcome[outcome], reason: ResumeReason[reason] }, 'welcome');
        }
        reg.env.metrics?.resume(outcome, reason); // RS-5
        // The handle is made on first use: a server nobody listens to holds none per session (memory per idle session).
        if (outcome === ResumeOutcome.NEW) {
          if (reg.hasListeners('sessionOpened')) reg.emitEvent('sessionOpened', s.handle);
        }
        else {
          reg.emitEvent('sessionResumed', s.handle, {
            outcome: outcome === ResumeOutcome.SNAPSHOT ? 'snapshot' : 'resumed',
            reason: ResumeReason[reason] ?? String(reason),
          });
        }
      }),
      closeSocket: safe<{ name: WsCloseCodeName }>('closeSocket', (a, p) => endSocket(a, p.name, 'close')),
      terminateSocket: safe<{ name: WsCloseCodeName }>('terminateSocket', (a, p) => endSocket(a, p.name, 'terminate')),
      forgetSocket: safe('forgetSocket', ({ host: h }) => {
        const conn = h.session ? h.session.detach() : h.conn;
        if (!conn) return;
        conn.forget();
        reg.sweep.delete(conn);
        if (h.session) reg.emitEvent('sessionClosed', h.session.handle, { code: h.ending?.peerCloseCode ?? codeOf('ABNORMAL'), byPeer: true });
      }),
      sendPing: safe('sendPing', ({ host }) => sessionOf(host).conn?.ping()),
      sendHeartbeatAck: safe<{ intervalSteps: number; clientSteps: number }>('sendHeartbeatAck', ({ host, event }, p) => {
        const hb = eventOf(event, 'frame.heartbeat').heartbeat;
        const base = reg.env.opts.heartbeatIntervalMs;
        const s = sessionOf(host);
        s.heartbeatAck(hb.id, hb.sentAtMs, hb.rttMs, p.intervalSteps * base, p.clientSteps * base);
        if (p.intervalSteps > 0) {
          s.conn?.span?.setHeartbeatInterval(p.intervalSteps * base); // HB-11: the interval in force changed
          s.conn?.log.debug({ intervalMs: p.intervalSteps * base }, 'heartbeat interval announced');
        }
      }),
      deliverMessage: safe('deliverMessage', ({ host, event }) => sessionOf(host).deliver(eventOf(event, 'frame.message').message)),
      ackDuplicate: safe('ackDuplicate', ({ host }) => sessionOf(host).ackDuplicate()),
      applyAck: safe('applyAck', ({ host, event }) => sessionOf(host).applyAck(eventOf(event, 'frame.ack').seq)),
      answerDrift: safe('answerDrift', ({ host, event }) => sessionOf(host).answerDrift(eventOf(event, 'frame.stateDrift').drift)),
      subscribe: safe('subscribe', ({ host, event }) => sessionOf(host).subscribe(eventOf(event, 'frame.subscribe').channels)),
      confirmSubscribe: safe('confirmSubscribe', ({ host, event }) => sessionOf(host).confirmSubscribe(eventOf(event, 'frame.subscribe').channels)), // CH-4
      unsubscribe: safe('unsubscribe', ({ host, event }) => sessionOf(host).unsubscribe(eventOf(event, 'frame.unsubscribe').channels)),
      sendDrainNotice: safe<{ reconnectAfterMs: number; deadlineMs: number }>('sendDrainNotice', ({ host: h }, p) => {
        sessionOf(h).drainNotice(p.reconnectAfterMs, p.deadlineMs, h.ending?.drainReason ?? DrainReason.DEPLOY, h.ending?.drainTarget ?? '');
      }),
      loseContinuity: safe('loseContinuity', ({ host }) => {
        sessionOf(host).isContinuityLost = true;
      }),
      releaseReplay: safe('releaseReplay', ({ host }) => sessionOf(host).releaseReplay()),
      markDetached: safe('markDetached', ({ host }) => reg.lifecycle.markDetached(sessionOf(host))),
      unmarkDetached: safe('unmarkDetached', ({ host }) => {
        const s = host.session;
        if (s) reg.detachedSessions.remove(s);
      }),
      // CC-6, in this order: channels, store, then the close.
      leaveChannels: teardownStep('leaveChannels', ({ host }) => {
        const s = host.session;
        if (s) reg.lifecycle.leaveChannels(s);
      }),
      deleteSession: teardownStep('deleteSession', ({ host, event }) => {
        const s = host.session;
        if (s) reg.lifecycle.delete(s, event);
      }),
  };
}
