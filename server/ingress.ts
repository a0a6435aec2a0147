/**
 * Ingress: inbound frames → machine events carrying the decoded body and what the adapter
 * observed (spec §4, §6, §7): the decode result (WIRE-1 … WIRE-7), the Hello facts
 * (HS-11, HS-12, RS-2, CC-8), where the session stands in the client's seq space
 * (SEQ-3, SEQ-4, BP-17), the last seq sent (SEQ-6), the message rate (BP-14). The
 * machine decides what they mean, with the rule functions of
 * spec/protocol/session-rules.ts; the hot path below calls the same functions.
 *
 * It works against IngressDeps, the few things it reads or calls (the registry, registry.ts,
 * provides them), not the server: a frame needs no HTTP, transport or publishing (issue 12).
 */
import type { Logger } from 'pino';
import { ResumeReason, type Hello } from '../gen/lifeline/v1/envelope_pb.js';
import type { ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { decode } from '../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../spec/protocol/defaults.js';
import { decideClientMessage, isAckBeyondSent, type InboundPosition } from '../spec/protocol/session-rules.js';
import type { Clock } from './clock.js';
import type { Connection } from './connection.js';
import type { Host } from './host.js';
import type { LifelineServerOptions, ResolvedOptions } from './options.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { stateValueOf, type SessionActor } from './session-actor.js';
import type { LiveSession } from './session.js';
import type { StoreResume } from './store-resume.js';

/** What the ingress reads and calls: the settings a frame is judged by, and the node's sessions. */
export interface IngressDeps {
  readonly opts: Pick<ResolvedOptions, 'maxPayloadBytes' | 'heartbeatIntervalStepsMax' | 'heartbeatRttToleranceMs' | 'receiveWindow' | 'maxChannelsPerSession'>;
  readonly metrics: LifelineMetrics | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  /** HS-12: the application's Hello token check, if any. */
  readonly authenticateHello: LifelineServerOptions['authenticateHello'];
  /** SEC-6: the application's channel check, if any. */
  readonly authorizeChannel: LifelineServerOptions['authorizeChannel'];
  ownerOf(conn: Connection): SessionActor | undefined;
  hostOf(actor: SessionActor): Host | undefined;
  /** Send the connection's owner an event (a failure fails that session only, CC-5). */
  forward(conn: Connection, ev: ServerSessionEvent): void;
  failSession(actor: SessionActor, err: unknown): void;
  /** This node's live session with this id (RS-2). */
  liveSession(id: string): LiveSession | undefined;
  /** The spec's state name of an actor. */
  stateOf(actor: SessionActor): string;
  /** RS-6, RS-11: why a session id is gone. */
  endedReason(id: string): ResumeReason | Promise<ResumeReason>;
  /** CC-8, RS-11: room for a new session, evicting a detached one if need be. */
  makeRoomForSession(): boolean;
  /** Sessions may live on other nodes (a shared store, issue 14). */
  readonly isStoreShared: boolean;
  /** The shared store answers (MN-12). */
  isStoreReady(): boolean;
  /** MN-3: a session not held here, from the shared store: revived and caught up here, or why not. */
  resumeFromStore(id: string, principal: string, conn: Connection): Promise<StoreResume>;
  /** An inspector watches the session machines (`inspect`): Heartbeats go through them, to be seen. */
  readonly isInspecting: boolean;
}

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
function isAnyForbidden(ing: IngressDeps, channels: readonly string[], principal: string): boolean {
  const authorize = ing.authorizeChannel;
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
function isHotPath(ing: IngressDeps, actor: SessionActor): boolean {
  return ing.opts.heartbeatIntervalStepsMax <= 1 && isAttached(stateValueOf(actor)); // no snapshot built per frame
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
export function onFrame(ing: IngressDeps, conn: Connection, bytes: Uint8Array, isBinary: boolean): void {
  if (conn.isEnded) return;
  if (pendingHellos.size > 0) {
    const held = pendingHellos.get(conn); // looked up only while some Hello is being decided: not per frame otherwise
    if (held !== undefined) {
      holdFrame(ing, conn, held, bytes, isBinary); // HS-8: read once the Hello is decided
      return;
    }
  }
  try {
    const m = ing.metrics;
    if (!isBinary) {
      m?.frame('received', undefined, bytes.byteLength);
      ing.forward(conn, { type: 'frame.invalid', closeName: 'UNSUPPORTED_DATA', reason: 'WIRE-1: text frame' });
      return;
    }
    const r = decode(bytes, { from: 'client', maxPayloadBytes: ing.opts.maxPayloadBytes });
    if (!r.ok) {
      m?.frame('received', undefined, bytes.byteLength);
      ing.forward(conn, { type: 'frame.invalid', closeName: r.error.closeName, reason: r.error.reason });
      return;
    }
    const env = r.envelope;
    m?.frame('received', env.body.case, bytes.byteLength);
    // HB-8: a valid frame is proof of life (the sweep's fixed-interval counts; the machine resets its own).
    conn.missedPings = 0;
    conn.silentTicks = 0;
    const actor = ing.ownerOf(conn);
    const host = actor && ing.hostOf(actor);
    if (!actor || !host) return;
    const session = host.session;
    const body = env.body;
    // BP-16: every control body counts against the session's control rate (a Heartbeat flood
    // makes the server write a reply per frame; an Ack flood costs a pump per frame).
    if (session?.controlBucket && body.case !== 'message' && body.case !== 'hello' && !session.controlBucket.take(ing.clock.now())) {
      ing.forward(conn, { type: 'frame.controlOverRate' }); // BP-16
      return;
    }
    switch (body.case) {
      case 'hello':
        if (session) ing.forward(conn, { ...NO_HELLO_OBJECTIONS, type: 'frame.hello', hello: body.value }); // a second Hello: WIRE-7
        else void onHello(ing, conn, body.value);
        return;
      case 'heartbeat':
        if (session && !ing.isInspecting && isHotPath(ing, actor)) {
          // HB-6 at a fixed interval: the machine's transition is the HeartbeatAck with nothing to
          // announce (interval_ms 0, the client at the base interval) and counts that stay constant
          // (server/hot-path.test.ts holds it); stepping it cost ~45 µs per Heartbeat (issue 12).
          try {
            session.heartbeatAck(body.value.id, body.value.sentAtMs, body.value.rttMs); // HB-6, HB-9
          } catch (err) {
            ing.failSession(actor, err); // CC-5
          }
          return;
        }
        ing.forward(conn, { type: 'frame.heartbeat', heartbeat: body.value, isRttStable: conn.isRttStable(ing.opts.heartbeatRttToleranceMs) });
        return;
      case 'heartbeatAck':
        if (session && isHotPath(ing, actor)) return; // HB-8: proof of life, counted above
        ing.forward(conn, { type: 'frame.heartbeatAck' });
        return;
      case 'ack': {
        const seq = body.value.seq;
        const lastSent = session ? session.log.lastSent : 0n;
        if (session && !isAckBeyondSent(seq, lastSent) && isHotPath(ing, actor)) {
          // As the machine's action would: a failure fails this session only (CC-5). Inline, not a
          // closure per frame (issue 7).
          try {
            session.applyAck(seq); // SEQ-7
          } catch (err) {
            ing.failSession(actor, err);
          }
          return;
        }
        ing.forward(conn, { type: 'frame.ack', seq, lastSent }); // SEQ-6 in the machine
        return;
      }
      case 'message': {
        const msg = body.value;
        const isOverRate = session?.messageBucket ? !session.messageBucket.take(ing.clock.now()) : false; // BP-14: one token per Message
        const window = ing.opts.receiveWindow;
        if (session && isHotPath(ing, actor)) {
          const inbound = session.inbound;
          const rule = decideClientMessage(msg.seq, isOverRate, inbound.lastAccepted, inbound.lastAckSent, window);
          if (rule === 'SEQ-10' || rule === 'SEQ-3') {
            try {
              if (rule === 'SEQ-3') session.ackDuplicate();
              else session.deliver(msg);
            } catch (err) {
              ing.failSession(actor, err); // CC-5
            }
            return;
          }
        }
        const at: InboundPosition = session
          ? { lastAccepted: session.inbound.lastAccepted, lastAckSent: session.inbound.lastAckSent, receiveWindow: window }
          : { ...NO_POSITION, receiveWindow: window };
        ing.forward(conn, { type: 'frame.message', message: msg, isOverRate, inbound: at }); // BP-14, BP-17, SEQ-4 in the machine
        return;
      }
      case 'stateDrift':
        m?.drift(body.value.reason); // SD-2, SD-3: DIGEST_MISMATCH always means a bug somewhere
        ing.forward(conn, { type: 'frame.stateDrift', drift: body.value });
        return;
      case 'subscribe': {
        const wanted = new Set([...(session?.subscriptions ?? []), ...body.value.channels]);
        ing.forward(conn, {
          type: 'frame.subscribe',
          channels: body.value.channels,
          isForbidden: isAnyForbidden(ing, body.value.channels, session?.principal ?? conn.principal),
          isOverChannelLimit: wanted.size > ing.opts.maxChannelsPerSession,
          isConfirmAsked: session?.isConfirmAsked ?? false, // CH-4
        });
        return;
      }
      case 'unsubscribe':
        ing.forward(conn, { type: 'frame.unsubscribe', channels: body.value.channels });
        return;
      // decode({ from: 'client' }) already refuses these (WIRE-7); kept for exhaustiveness.
      case 'welcome':
      case 'statePatch':
      case 'snapshot':
      case 'drainNotice':
      case 'subscribed':
      case undefined:
        ing.forward(conn, { type: 'frame.invalid', closeName: 'PROTOCOL_ERROR', reason: `WIRE-7: ${body.case ?? 'no body'}` });
        return;
      default: {
        const never: never = body;
        return never;
      }
    }
  } catch (err) {
    const actor = ing.ownerOf(conn);
    if (actor) ing.failSession(actor, err); // CC-5
  }
}

/**
 * Frames that arrived behind a Hello still being decided (an async `authenticateHello`, a shared
 * store: issue 14), by connection; an entry exists only while one is. Read in order once the Hello
 * is decided, as a synchronous decision reads them (HS-8): a client that pipelines its first
 * frames behind its Hello sees the same outcome whatever the store's latency. A Map, not a
 * WeakMap: its size tells the hot path whether to look at all (every entry is removed when its
 * Hello is decided).
 */
const pendingHellos = new Map<Connection, { bytes: Uint8Array; isBinary: boolean }[]>();

/** How many frames may wait behind a Hello: the client's window of Messages, and a few control bodies. */
const HELD_CONTROL_FRAMES = 16;

function holdFrame(ing: IngressDeps, conn: Connection, held: { bytes: Uint8Array; isBinary: boolean }[], bytes: Uint8Array, isBinary: boolean): void {
  if (held.length >= ing.opts.receiveWindow + HELD_CONTROL_FRAMES) {
    pendingHellos.delete(conn);
    ing.forward(conn, { type: 'frame.invalid', closeName: 'PROTOCOL_ERROR', reason: 'HS-8: too many frames before Welcome' });
    return;
  }
  held.push({ bytes, isBinary });
}

/** The Hello is decided: the frames held behind it, in order (HS-8). */
function releaseHeld(ing: IngressDeps, conn: Connection): void {
  const held = pendingHellos.get(conn);
  if (held === undefined) return;
  pendingHellos.delete(conn);
  for (const f of held) onFrame(ing, conn, f.bytes, f.isBinary);
}

/** Gather the Hello facts, authenticating the token when configured (HS-11, HS-12, RS-2, RS-6, CC-8, MN-3, MN-6). */
async function onHello(ing: IngressDeps, conn: Connection, hello: Hello): Promise<void> {
  const actor = ing.ownerOf(conn);
  const host = actor && ing.hostOf(actor);
  if (!actor || !host) return;
  pendingHellos.set(conn, []); // HS-8: later frames wait for the decision (released below, or dropped with the socket)
  try {
    await decideHello(ing, conn, actor, host, hello);
  } catch (err) {
    ing.failSession(actor, err);
  } finally {
    releaseHeld(ing, conn);
  }
}

async function decideHello(ing: IngressDeps, conn: Connection, actor: SessionActor, host: Host, hello: Hello): Promise<void> {
  const isVersionSupported = hello.protocolVersion === PROTOCOL_VERSION;
  let isAuthorized = true;
  let principal = conn.principal;
  const authHello = ing.authenticateHello;
  const isStale = () => conn.isEnded || ing.stateOf(actor) !== 'handshaking';
  if (isVersionSupported && authHello) {
    let p: string | undefined;
    try {
      const r = authHello(hello.token, principal);
      p = r instanceof Promise ? await r : r;
    } catch (err) {
      ing.log.warn({ err }, 'authenticateHello threw; refusing'); // SEC-2: never the token
      p = undefined;
    }
    if (isStale()) return;
    isAuthorized = p !== undefined;
    if (p !== undefined) principal = p;
  }
  host.principal = principal;
  const id = hello.sessionId;
  let existing = id === '' ? undefined : ing.liveSession(id);
  let isLive = existing !== undefined && ['active', 'draining', 'attached', 'detached'].includes(ing.stateOf(existing.actor));
  let newReason = id === '' ? ResumeReason.NOT_REQUESTED : ResumeReason.PRINCIPAL_MISMATCH;
  let isStoreAway = false;
  const isAcceptable = isVersionSupported && isAuthorized;
  // MN-16: a detached copy here may be older than what another node served since (a claim notice missed).
  const isDetachedHere = isLive && existing !== undefined && ing.stateOf(existing.actor) === 'detached';
  if (id !== '' && (!isLive || isDetachedHere) && ing.isStoreShared && isAcceptable) {
    // MN-3: another node may hold it (or have died holding it): the shared store decides.
    const r = await ing.resumeFromStore(id, principal, conn);
    existing = undefined;
    isLive = false;
    if (r.kind === 'resumed') {
      existing = r.session;
      isLive = true;
    } else if (r.kind === 'new') newReason = r.reason;
    else isStoreAway = true; // MN-12
    if (isStale()) return; // a session revived meanwhile stays here, detached, within its TTL (RS-1)
  } else if (id !== '' && !isLive) {
    const r = ing.endedReason(id); // RS-6 EXPIRED, RS-11 EVICTED, else UNKNOWN_SESSION: the store remembers
    if (r instanceof Promise) {
      newReason = await r; // a shared store: the Hello waits for it
      if (isStale()) return;
    } else newReason = r; // no tick: frames pipelined behind the Hello find it decided (HS-8)
  }
  const isResume = isLive && existing !== undefined && existing.principal === principal;
  host.existing = isResume ? existing : undefined;
  host.newReason = newReason;
  const isForbidden = isAnyForbidden(ing, hello.channels, principal);
  const isOverChannelLimit = new Set(hello.channels).size > ing.opts.maxChannelsPerSession;
  const isRefused = !isVersionSupported || !isAuthorized || isForbidden || isOverChannelLimit;
  // MN-12: a new session cannot be stored while the shared store is away: TRY_AGAIN_LATER (1013),
  // as when the node is full (CC-8); the client backs off and comes back.
  if (!isResume && ing.isStoreShared && !ing.isStoreReady()) isStoreAway = true;
  // CC-8: full even after evicting detached sessions (RS-11: a client here now goes first); a
  // Hello refused for another reason evicts nothing.
  const isOverCapacity = !isResume && !isRefused && (isStoreAway || !ing.makeRoomForSession());
  ing.forward(conn, { type: 'frame.hello', hello, isVersionSupported, isAuthorized, isResume, isOverCapacity, isForbidden, isOverChannelLimit });
}
