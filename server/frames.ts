/**
 * Inbound frames → machine events carrying the decoded body and what the adapter
 * observed (spec §4, §6, §7): the decode result (WIRE-1 … WIRE-7), the Hello facts
 * (HS-11, HS-12, RS-2, CC-8), where the session stands in the client's seq space
 * (SEQ-3, SEQ-4, BP-17), the last seq sent (SEQ-6), the message rate (BP-14). The
 * machine decides what they mean, with the rule functions of
 * spec/protocol/session-rules.ts; the hot path below calls the same functions.
 */
import { stateValueOf, type SessionActor } from './session-actor.js';
import { ResumeReason, type Hello } from '../gen/lifeline/v1/envelope_pb.js';
import { decode } from '../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../spec/protocol/defaults.js';
import { decideClientMessage, isAckBeyondSent, type InboundPosition } from '../spec/protocol/session-rules.js';
import type { Connection } from './connection.js';
import type { LifelineServer } from './server.js';

/** Where a connection without a session stands in the client's seq space: nowhere (the machine refuses its Message, HS-8). */
const NO_POSITION = { lastAccepted: 0n, lastAckSent: 0n } as const;

const NO_HELLO_OBJECTIONS = {
  isVersionSupported: true,
  isAuthorized: true,
  isResume: false,
  isOverCapacity: false,
  isForbidden: false,
  isOverChannelLimit: false,
} as const;

/** SEC-6: a channel the application does not let this principal use. */
function isAnyForbidden(srv: LifelineServer, channels: readonly string[], principal: string): boolean {
  const authorize = srv.authorizeChannel;
  return authorize !== undefined && channels.some((ch) => !authorize(ch, principal));
}

/**
 * Hot bodies bypass the session machine (issue 7: a machine step costs ~27 µs) when nothing about
 * them is exceptional: the session is attached and the interval is fixed (with HB-11 the machine
 * counts every frame). The decision is the machine's own rule functions (session-rules.ts), in its
 * guard order; server/hot-path.test.ts steps the machine to prove the two agree. Only a gap, a
 * Message beyond the window or over the rate, an ack beyond what was sent, or another state goes
 * through the machine.
 */
function isHotPath(srv: LifelineServer, actor: SessionActor): boolean {
  return srv.opts.heartbeatIntervalStepsMax <= 1 && isAttached(stateValueOf(actor)); // no snapshot built per frame
}

/**
 * `snapshot.matches('attached')` for the top-level parallel state `attached`: its value is
 * `{ attached: { … } }`. XState parses the state id into a path on every matches() call: 11 % of
 * the bytes the server allocated in the echo bench (issue 7), once per frame.
 */
export function isAttached(value: unknown): boolean {
  return value === 'attached' || (typeof value === 'object' && value !== null && 'attached' in value);
}

/**
 * One frame from a client, as its transport delivered it (server/transport.ts; the ws transport
 * batches the writes this causes). Never throws (SEC-4).
 */
export function onFrame(srv: LifelineServer, conn: Connection, bytes: Uint8Array, isBinary: boolean): void {
  if (conn.isEnded) return;
  try {
    const m = srv.metrics;
    if (!isBinary) {
      m?.frame('received', undefined, bytes.byteLength);
      srv.forward(conn, { type: 'frame.invalid', closeName: 'UNSUPPORTED_DATA', reason: 'WIRE-1: text frame' });
      return;
    }
    const r = decode(bytes, { from: 'client', maxPayloadBytes: srv.opts.maxPayloadBytes });
    if (!r.ok) {
      m?.frame('received', undefined, bytes.byteLength);
      srv.forward(conn, { type: 'frame.invalid', closeName: r.error.closeName, reason: r.error.reason });
      return;
    }
    const env = r.envelope;
    m?.frame('received', env.body.case, bytes.byteLength);
    // HB-8: a valid frame is proof of life (the sweep's fixed-interval counts; the machine resets its own).
    conn.missedPings = 0;
    conn.silentTicks = 0;
    const actor = srv.ownerOf(conn);
    const host = actor && srv.hostOf(actor);
    if (!actor || !host) return;
    const session = host.session;
    const body = env.body;
    // BP-16: every control body counts against the session's control rate (a Heartbeat flood
    // makes the server write a reply per frame; an Ack flood costs a pump per frame).
    if (session?.controlBucket && body.case !== 'message' && body.case !== 'hello' && !session.controlBucket.take(srv.clock.now())) {
      srv.forward(conn, { type: 'frame.controlOverRate' }); // BP-16
      return;
    }
    switch (body.case) {
      case 'hello':
        if (session) srv.forward(conn, { ...NO_HELLO_OBJECTIONS, type: 'frame.hello', hello: body.value }); // a second Hello: WIRE-7
        else void onHello(srv, conn, body.value);
        return;
      case 'heartbeat':
        srv.forward(conn, { type: 'frame.heartbeat', heartbeat: body.value, isRttStable: conn.isRttStable(srv.opts.heartbeatRttToleranceMs) });
        return;
      case 'heartbeatAck':
        if (session && isHotPath(srv, actor)) return; // HB-8: proof of life, counted above
        srv.forward(conn, { type: 'frame.heartbeatAck' });
        return;
      case 'ack': {
        const seq = body.value.seq;
        const lastSent = session ? session.log.lastSent : 0n;
        if (session && !isAckBeyondSent(seq, lastSent) && isHotPath(srv, actor)) {
          // As the machine's action would: a failure fails this session only (CC-5). Inline, not a
          // closure per frame (issue 7).
          try {
            session.applyAck(seq); // SEQ-7
          } catch (err) {
            srv.failSession(actor, err);
          }
          return;
        }
        srv.forward(conn, { type: 'frame.ack', seq, lastSent }); // SEQ-6 in the machine
        return;
      }
      case 'message': {
        const msg = body.value;
        const isOverRate = session?.messageBucket ? !session.messageBucket.take(srv.clock.now()) : false; // BP-14: one token per Message
        const window = srv.opts.receiveWindow;
        if (session && isHotPath(srv, actor)) {
          const inbound = session.inbound;
          const rule = decideClientMessage(msg.seq, isOverRate, inbound.cursor.last, inbound.lastAckSent, window);
          if (rule === 'SEQ-10' || rule === 'SEQ-3') {
            try {
              if (rule === 'SEQ-3') session.ackDuplicate();
              else session.deliver(msg);
            } catch (err) {
              srv.failSession(actor, err); // CC-5
            }
            return;
          }
        }
        const at: InboundPosition = session
          ? { lastAccepted: session.inbound.cursor.last, lastAckSent: session.inbound.lastAckSent, receiveWindow: window }
          : { ...NO_POSITION, receiveWindow: window };
        srv.forward(conn, { type: 'frame.message', message: msg, isOverRate, inbound: at }); // BP-14, BP-17, SEQ-4 in the machine
        return;
      }
      case 'stateDrift':
        m?.drift(body.value.reason); // SD-2, SD-3: DIGEST_MISMATCH always means a bug somewhere
        srv.forward(conn, { type: 'frame.stateDrift', drift: body.value });
        return;
      case 'subscribe': {
        const wanted = new Set([...(session?.subscriptions ?? []), ...body.value.channels]);
        srv.forward(conn, {
          type: 'frame.subscribe',
          channels: body.value.channels,
          isForbidden: isAnyForbidden(srv, body.value.channels, session?.principal ?? conn.principal),
          isOverChannelLimit: wanted.size > srv.opts.maxChannelsPerSession,
          isConfirmAsked: session?.isConfirmAsked ?? false, // CH-4
        });
        return;
      }
      case 'unsubscribe':
        srv.forward(conn, { type: 'frame.unsubscribe', channels: body.value.channels });
        return;
      // decode({ from: 'client' }) already refuses these (WIRE-7); kept for exhaustiveness.
      case 'welcome':
      case 'statePatch':
      case 'snapshot':
      case 'drainNotice':
      case 'subscribed':
      case undefined:
        srv.forward(conn, { type: 'frame.invalid', closeName: 'PROTOCOL_ERROR', reason: `WIRE-7: ${body.case ?? 'no body'}` });
        return;
      default: {
        const never: never = body;
        return never;
      }
    }
  } catch (err) {
    const actor = srv.ownerOf(conn);
    if (actor) srv.failSession(actor, err); // CC-5
  }
}

/** Gather the Hello facts, authenticating the token when configured (HS-11, HS-12, RS-2, RS-6, CC-8). */
async function onHello(srv: LifelineServer, conn: Connection, hello: Hello): Promise<void> {
  const actor = srv.ownerOf(conn);
  const host = actor && srv.hostOf(actor);
  if (!actor || !host) return;
  try {
    const isVersionSupported = hello.protocolVersion === PROTOCOL_VERSION;
    let isAuthorized = true;
    let principal = conn.principal;
    const authHello = srv.authenticateHello;
    if (isVersionSupported && authHello) {
      let p: string | undefined;
      try {
        const r = authHello(hello.token, principal);
        p = r instanceof Promise ? await r : r;
      } catch (err) {
        srv.log.warn({ err }, 'authenticateHello threw; refusing'); // SEC-2: never the token
        p = undefined;
      }
      if (conn.isEnded || srv.stateOf(actor) !== 'handshaking') return;
      isAuthorized = p !== undefined;
      if (p !== undefined) principal = p;
    }
    host.principal = principal;
    // This node's live sessions (a session another node holds is issue 14's: load and claim it here).
    const existing = hello.sessionId === '' ? undefined : srv.liveSession(hello.sessionId);
    const isLive = existing !== undefined && ['active', 'draining', 'attached', 'detached'].includes(srv.stateOf(existing.actor));
    let newReason = hello.sessionId === '' ? ResumeReason.NOT_REQUESTED : ResumeReason.PRINCIPAL_MISMATCH;
    if (hello.sessionId !== '' && !isLive) {
      const r = srv.endedReason(hello.sessionId); // RS-6 EXPIRED, RS-11 EVICTED, else UNKNOWN_SESSION: the store remembers
      if (r instanceof Promise) {
        newReason = await r; // a shared store: the Hello waits for it
        if (conn.isEnded || srv.stateOf(actor) !== 'handshaking') return;
      } else newReason = r; // no tick: frames pipelined behind the Hello find it decided (HS-8)
    }
    const isResume = isLive && existing.principal === principal;
    host.existing = isResume ? existing : undefined;
    host.newReason = newReason;
    const isForbidden = isAnyForbidden(srv, hello.channels, principal);
    const isOverChannelLimit = new Set(hello.channels).size > srv.opts.maxChannelsPerSession;
    const isRefused = !isVersionSupported || !isAuthorized || isForbidden || isOverChannelLimit;
    // CC-8: full even after evicting detached sessions (RS-11: a client here now goes first); a
    // Hello refused for another reason evicts nothing.
    const isOverCapacity = !isResume && !isRefused && !srv.makeRoomForSession();
    srv.forward(conn, { type: 'frame.hello', hello, isVersionSupported, isAuthorized, isResume, isOverCapacity, isForbidden, isOverChannelLimit });
  } catch (err) {
    srv.failSession(actor, err);
  }
}
