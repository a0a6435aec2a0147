/**
 * The server side of one Lifeline session (spec §5–§13): handshaking → attached
 * (active → draining, with liveness and flow as parallel regions) → detached
 * (socket gone, kept for resume) → closed / expired.
 *
 * Part of the specification: pure. No sockets, no clock, no timers except the
 * named delays below (values from input or from the drain event). Effects are
 * named action stubs that server/ supplies (a runner's handler table, or `.provide()`;
 * ServerSessionEffects lists them with their params). Events carry the decoded body
 * their actions use and the facts the adapter observed (the decode result, the rate
 * limiter's verdict, the seqs the sequencing rules compare); the machine decides what
 * they mean, its sequencing and liveness guards calling the rule functions of
 * spec/protocol/session-rules.ts (spec §7.10).
 *
 * The hot outbound path (each published message) does not go through the machine:
 * the adapter runs it through the pure BackpressureQueue and OutboundLog and tells
 * the machine only about changes of flow (blocked, flowing, flushed, overflow).
 *
 * One actor per connection until `Hello`: a Hello that resumes another session
 * hands the socket to that session's actor (`handedOver`); a valid new Hello makes
 * this actor the session (HS-7: no session state before a valid Hello).
 *
 * Liveness counts ticks of the server's one sweep, which runs at the base interval
 * I (HB-1). The adaptive heartbeat (HB-11, spec §8.8) keeps the interval in force a
 * multiple k·I of it: the session pings on every k-th tick, grows k by one after
 * `heartbeatStableBeats` on-time Heartbeats with a stable RTT, returns to I on any
 * miss or RTT spike, and announces each change in a HeartbeatAck. HB-3 and HB-7 apply
 * to the interval in force and are checked on every base tick, so a silent peer is
 * dropped within k·I × (missed_max + 1) + I.
 *
 * Hot paths (issue 7, issue 12): a step of this machine with XState's transition() costs about
 * 27 µs, so with a fixed interval (heartbeatIntervalStepsMax = 1, the default, HB-10) two paths
 * skip it, deciding with the same rule functions as the guards below, in their order:
 * - the server's sweep does not send `sweep.tick`: it keeps the unanswered-ping and silent-tick
 *   counts as plain fields on the connection (reset by every frame, HB-8, and pongs, HB-2), asks
 *   `fixedIntervalTick` (the `sweep.tick` guards isMissedTooMany, isSilentTooLong), pings (HB-1),
 *   and sends `liveness.expired` only when HB-3 or HB-7 is crossed;
 * - the adapter (server/ingress.ts) handles the hot inbound bodies of an attached session itself,
 *   through the same session methods the actions call: a Message that `decideClientMessage` (the
 *   `frame.message` guards) delivers or acks as a duplicate (SEQ-10, SEQ-3), an Ack that is not
 *   `isAckBeyondSent` (SEQ-7), a HeartbeatAck (HB-8). Only the exceptions reach the machine as
 *   `frame.*` events: over the rate (BP-14), beyond the window (BP-17), a gap (SEQ-4), an ack
 *   beyond the last sent seq (SEQ-6), any other state.
 * The counting transitions below remain the spec of both and run as is when the interval adapts
 * (HB-11). server/hot-path.test.ts steps this machine on random inputs to prove each hot path's
 * decision is the transition taken here.
 */
import { assign, not, setup } from 'xstate';
import type { Heartbeat, Hello, Message, StateDrift } from '../../gen/lifeline/v1/envelope_pb.js';
import { closeCodes, type WsCloseCodeName } from '../protocol/close-codes.js';
import { defaults } from '../protocol/defaults.js';
import { arrivalOf, isAckBeyondSent, isBeyondWindow, isMissedTooMany, isSilentTooLong, type InboundPosition } from '../protocol/session-rules.js';

/** Timing options of the machine; every value carries its unit. */
export interface ServerSessionOptions {
  /** No Hello within this: HANDSHAKE_TIMEOUT (HS-10). */
  readonly handshakeTimeoutMs: number;
  /** A detached session is kept this long for resume (RS-1). */
  readonly resumeTtlMs: number;
  /**
   * A detached session keeps its sent-unacked messages this long (RS-3, by time); a later resume
   * that needs them is a SNAPSHOT. Not below resumeTtlMs = kept for the whole TTL.
   */
  readonly replayWindowMs: number;
  /** Unanswered pings (and silent sweep ticks) tolerated (HB-3, HB-7). */
  readonly heartbeatMissedMax: number;
  /**
   * Largest interval in force, in base intervals (HB-11): heartbeatIntervalMaxMs ÷ the base,
   * rounded down. 1 turns adaptation off.
   */
  readonly heartbeatIntervalStepsMax: number;
  /** On-time Heartbeats with a stable RTT before the interval grows by one base interval (HB-11). */
  readonly heartbeatStableBeats: number;
}

export type ServerSessionInput = Partial<ServerSessionOptions>;

export interface ServerSessionContext {
  readonly opts: ServerSessionOptions;
  /** Pings sent since the last pong or frame (HB-2). At most missedMax + 1. */
  missed: number;
  /** Sweep (base) ticks since the last frame of any kind (HB-7, HB-8). At most (missedMax + 1) · clientSteps. */
  silentTicks: number;
  /** The interval in force for pings and HB-3, in base intervals (HB-11). 1 = the base. */
  intervalSteps: number;
  /**
   * The interval HB-7 allows the client, in base intervals: the last one announced to it. After a
   * reset it stays at the longer interval until the client's next Heartbeat, which is the first
   * one it can send after hearing of the reset (spec §8.8).
   */
  clientSteps: number;
  /** The interval last announced to the client (Welcome: the base). */
  announcedSteps: number;
  /** Base ticks since the last ping (the session is pinged when it reaches intervalSteps). */
  ticksSinceVisit: number;
  /** On-time Heartbeats since the interval last changed (HB-11). */
  stableBeats: number;
  /** A Welcome was sent on the socket now attached (HS-9). */
  welcomed: boolean;
  /** This session's drain deadline, in ms from its notice (DrainNotice.deadline_ms, DR-4). */
  drainDeadlineMs: number;
  /** The drain names a target: a rebalance, closed RECONNECT_ELSEWHERE (spec §13.3). */
  isRebalance: boolean;
}

export type { Arrival, InboundPosition } from '../protocol/session-rules.js';

export type ServerSessionEvent =
  /** A decoded Hello, with what the adapter found out about it. */
  | {
      readonly type: 'frame.hello';
      readonly hello: Hello;
      /** Hello.protocol_version is one this server speaks (HS-11). */
      readonly isVersionSupported: boolean;
      /** The Hello token passed authenticateHello, or no Hello auth is configured (HS-12). */
      readonly isAuthorized: boolean;
      /** A live or detached session of this principal will take this socket (RS-2, RS-4). */
      readonly isResume: boolean;
      /** A new session would exceed the session limit (CC-8). */
      readonly isOverCapacity: boolean;
      /** Hello.channels names a channel the principal may not use (SEC-6). */
      readonly isForbidden: boolean;
      /** Hello.channels exceeds the server's channels-per-session bound (SEC-7). */
      readonly isOverChannelLimit: boolean;
    }
  /** `isRttStable`: the smoothed RTT varies little (RTTVAR ≤ SRTT / 4, spec §8.8); absent = false. */
  | { readonly type: 'frame.heartbeat'; readonly heartbeat: Heartbeat; readonly isRttStable?: boolean }
  | { readonly type: 'frame.heartbeatAck' }
  /** `lastSent`: the highest seq the server has sent in this session (SEQ-6); 0 before a session. */
  | { readonly type: 'frame.ack'; readonly seq: bigint; readonly lastSent: bigint }
  /**
   * `isOverRate`: the per-session message rate limit's verdict for this Message (BP-14). `inbound`:
   * where the server stands in the client's seq space (SEQ-3, SEQ-4, BP-17); zeros before a session.
   */
  | { readonly type: 'frame.message'; readonly message: Message; readonly isOverRate: boolean; readonly inbound: InboundPosition }
  /** A control body (not Message, not Hello) beyond the per-session control rate (BP-16). */
  | { readonly type: 'frame.controlOverRate' }
  | { readonly type: 'frame.stateDrift'; readonly drift: StateDrift }
  /**
   * `isForbidden`: a channel the principal may not use (SEC-6); `isOverChannelLimit`: too many channels
   * (SEC-7); `isConfirmAsked`: the socket's Hello announced `subscribed` (CH-4); absent = false.
   */
  | {
      readonly type: 'frame.subscribe';
      readonly channels: readonly string[];
      readonly isForbidden: boolean;
      readonly isOverChannelLimit: boolean;
      readonly isConfirmAsked?: boolean;
    }
  | { readonly type: 'frame.unsubscribe'; readonly channels: readonly string[] }
  /** A frame that failed: text (WIRE-1), undecodable (WIRE-2), no body (WIRE-3), too big (WIRE-4), … */
  | { readonly type: 'frame.invalid'; readonly closeName: WsCloseCodeName; readonly reason: string }
  /** `isRttSpike`: this pong's RTT sample exceeds SRTT + 4·RTTVAR (spec §8.8); absent = false. */
  | { readonly type: 'socket.pong'; readonly isRttSpike?: boolean }
  /** The attached socket closed (peer close, or the transport died). */
  | { readonly type: 'socket.closed'; readonly code: number }
  /** A new connection's Hello resumed this session: it takes the socket (RS-2, RS-7). */
  | { readonly type: 'socket.attached'; readonly socketId: number }
  /** One visit of the shared liveness sweep (HB-1). */
  | { readonly type: 'sweep.tick' }
  /**
   * The adapter's own per-tick count crossed a threshold (fixed interval only, see the header):
   * HB-3, pings unanswered beyond missed_max; HB-7, no frame for interval × (missed_max + 1).
   */
  | { readonly type: 'liveness.expired'; readonly rule: 'HB-3' | 'HB-7' }
  /** Outbound flow, reported by the adapter's pump. */
  | { readonly type: 'queue.blocked' }
  | { readonly type: 'queue.flowing' }
  /** DISCONNECT policy: the queue would exceed its limit (BP-11). */
  | { readonly type: 'queue.overflow' }
  /** `isRebalance`: the DrainNotice names a target; the close is 4300 instead of 1012 (spec §13.3). */
  | { readonly type: 'app.drain'; readonly reconnectAfterMs: number; readonly deadlineMs: number; readonly isRebalance?: boolean }
  /** The principal's access was revoked (SEC-6). */
  | { readonly type: 'app.revoke' }
  /** The principal's credential expired (SEC-5). */
  | { readonly type: 'app.credentialExpired' }
  /** The application ends the session on purpose (CC-6). */
  | { readonly type: 'app.end' }
  /** The server evicts this detached session to stay within its detached-session limits (RS-11). */
  | { readonly type: 'app.evict' }
  /** Serving this session failed (an exception in a handler, CC-5). */
  | { readonly type: 'app.fail'; readonly reason: string };

/**
 * The effects the machine names, with their params: its action stubs below, which server/ supplies
 * (a runner's handler table, or `.provide()` for an inspected actor). The context updates (`assign`)
 * are the machine's own and are not listed.
 */
export interface ServerSessionEffects {
  readonly createSession: undefined;
  readonly handOverSocket: undefined;
  readonly attachSocket: { readonly socketId: number };
  readonly sendWelcome: undefined;
  readonly closeSocket: { readonly name: WsCloseCodeName };
  readonly terminateSocket: { readonly name: WsCloseCodeName };
  readonly forgetSocket: undefined;
  readonly sendPing: undefined;
  readonly sendHeartbeatAck: { readonly intervalSteps: number; readonly clientSteps: number };
  readonly deliverMessage: undefined;
  readonly ackDuplicate: undefined;
  readonly applyAck: undefined;
  readonly answerDrift: undefined;
  readonly subscribe: undefined;
  readonly confirmSubscribe: undefined;
  readonly unsubscribe: undefined;
  readonly sendDrainNotice: { readonly reconnectAfterMs: number; readonly deadlineMs: number };
  readonly loseContinuity: undefined;
  readonly releaseReplay: undefined;
  readonly markDetached: undefined;
  readonly unmarkDetached: undefined;
  readonly leaveChannels: undefined;
  readonly deleteSession: undefined;
}

export const serverSessionDefaults: ServerSessionOptions = {
  handshakeTimeoutMs: defaults.handshakeTimeoutMs,
  resumeTtlMs: defaults.resumeTtlMs,
  replayWindowMs: defaults.resumeTtlMs,
  heartbeatMissedMax: defaults.heartbeatMissedMax,
  heartbeatIntervalStepsMax: 1,
  heartbeatStableBeats: 8,
};

/** Whether closing with this code ends the session instead of keeping it for resume (RS-1). */
export function closeResetsSession(code: number): boolean {
  for (const row of Object.values(closeCodes)) {
    if ('code' in row && row.code === code) return row.resetSession;
  }
  return false; // unregistered and transport-level codes (1005, 1006) keep the session
}

const close = (name: WsCloseCodeName) => ({ type: 'closeSocket', params: { name } }) as const;
/** HB-6 at once; announces the interval in force when the client has not heard it yet (HB-11). */
const heartbeatAck = {
  type: 'sendHeartbeatAck',
  params: ({ context }: { context: ServerSessionContext }) => ({
    intervalSteps: context.intervalSteps === context.announcedSteps ? 0 : context.intervalSteps,
    clientSteps: context.clientSteps,
  }),
} as const;
/** CC-6 teardown order: out of every channel, then out of the store, then the close. */
const teardown = (name: WsCloseCodeName) => ['leaveChannels', 'deleteSession', close(name)] as const;

export const serverSessionMachine = setup({
  types: {} as {
    context: ServerSessionContext;
    events: ServerSessionEvent;
    input: ServerSessionInput;
  },
  delays: {
    handshakeTimeout: ({ context }) => context.opts.handshakeTimeoutMs,
    resumeTtl: ({ context }) => context.opts.resumeTtlMs,
    replayWindow: ({ context }) => Math.min(context.opts.replayWindowMs, context.opts.resumeTtlMs),
    drainDeadline: ({ context }) => context.drainDeadlineMs,
  },
  guards: {
    isVersionSupported: ({ event }) => event.type === 'frame.hello' && event.isVersionSupported,
    isAuthorized: ({ event }) => event.type === 'frame.hello' && event.isAuthorized,
    isResume: ({ event }) => event.type === 'frame.hello' && event.isResume,
    isOverCapacity: ({ event }) => event.type === 'frame.hello' && event.isOverCapacity,
    isForbidden: ({ event }) => (event.type === 'frame.hello' || event.type === 'frame.subscribe') && event.isForbidden,
    isOverChannelLimit: ({ event }) => (event.type === 'frame.hello' || event.type === 'frame.subscribe') && event.isOverChannelLimit,
    isConfirmAsked: ({ event }) => event.type === 'frame.subscribe' && event.isConfirmAsked === true,
    // The sequencing guards are the rules of spec/protocol/session-rules.ts, which the adapter's hot
    // path composes in this order (decideClientMessage); a property test holds the two together.
    isAckBeyondSent: ({ event }) => event.type === 'frame.ack' && isAckBeyondSent(event.seq, event.lastSent), // SEQ-6
    isOverRate: ({ event }) => event.type === 'frame.message' && event.isOverRate, // BP-14
    isBeyondWindow: ({ event }) =>
      event.type === 'frame.message' && isBeyondWindow(event.message.seq, event.inbound.lastAckSent, event.inbound.receiveWindow), // BP-17
    isGap: ({ event }) => event.type === 'frame.message' && arrivalOf(event.message.seq, event.inbound.lastAccepted) === 'gap', // SEQ-4
    isDuplicate: ({ event }) => event.type === 'frame.message' && arrivalOf(event.message.seq, event.inbound.lastAccepted) === 'duplicate', // SEQ-3
    isPeerCloseResetting: ({ event }) => event.type === 'socket.closed' && closeResetsSession(event.code),
    // HB-2, HB-3: the count exceeds missed_max when a tick comes round again.
    isMissedTooMany: ({ context }) => isMissedTooMany(context.missed, context.opts.heartbeatMissedMax),
    // HB-7: this tick makes the silence reach the client's interval × (missed_max + 1) (base ticks).
    isSilentTooLong: ({ context }) => isSilentTooLong(context.silentTicks, context.opts.heartbeatMissedMax, context.clientSteps),
    isLivenessClear: ({ context }) => context.missed === 0,
    isZombie: ({ event }) => event.type === 'liveness.expired' && event.rule === 'HB-3',
    isRebalance: ({ context }) => context.isRebalance,
    isReplayWindowShorter: ({ context }) => context.opts.replayWindowMs < context.opts.resumeTtlMs,
    // HB-1, HB-11: a session at k·I is pinged on every k-th tick of the base-rate sweep.
    isVisitDue: ({ context }) => context.ticksSinceVisit + 1 >= context.intervalSteps,
    // HB-11, a miss under an adapted interval: "a ping still unanswered at the next tick", or "a
    // Heartbeat later than I_cur" (by more than one base tick, the sweep's granularity).
    isMissWhileAdapted: ({ context }) =>
      context.intervalSteps > 1 && (context.missed > 0 || context.silentTicks + 1 > context.clientSteps + 1),
    isRttSpikeWhileAdapted: ({ context, event }) => context.intervalSteps > 1 && event.type === 'socket.pong' && event.isRttSpike === true,
    // HB-11: enough on-time Heartbeats, a stable RTT, room below the ceiling, no reset still unannounced.
    mayGrowInterval: ({ context, event }) =>
      event.type === 'frame.heartbeat' &&
      event.isRttStable === true &&
      context.stableBeats + 1 >= context.opts.heartbeatStableBeats &&
      context.intervalSteps < context.opts.heartbeatIntervalStepsMax &&
      context.announcedSteps === context.intervalSteps,
  },
  actions: {
    /** A valid Hello for a new session: create it (id, seq spaces, buffers, subscriptions). */
    createSession: () => {},
    /** A valid resuming Hello: hand this socket to the session it names. */
    handOverSocket: () => {},
    /** Make the socket of `socket.attached` the session's socket. */
    attachSocket: (_, _p: { socketId: number }) => {},
    /** Send Welcome with the resume result, then start the replay or the snapshots (HS-9, RS-2, RS-4, RS-5). */
    sendWelcome: () => {},
    /** Send a close frame and stop writing to the socket; the session forgets it. */
    closeSocket: (_, _p: { name: WsCloseCodeName }) => {},
    /** Send a close frame best-effort and destroy the transport at once (HB-3, DR-5). */
    terminateSocket: (_, _p: { name: WsCloseCodeName }) => {},
    /** The peer's socket is gone; forget it. */
    forgetSocket: () => {},
    sendPing: () => {},
    /** HeartbeatAck at once (HB-6); `intervalSteps` > 0 announces a new interval in force (HB-11), `clientSteps` is the one the client follows. */
    sendHeartbeatAck: (_, _p: { intervalSteps: number; clientSteps: number }) => {},
    /** Hand a client Message to the application, then ack once it has it (SEQ-10, SEQ-5). */
    deliverMessage: () => {},
    /** A duplicate: discard, still acknowledge (SEQ-3). */
    ackDuplicate: () => {},
    /** Release acknowledged messages from the replay buffer and reopen the window (SEQ-7, BP-1). */
    applyAck: () => {},
    /** Queue the Snapshot(s) a StateDrift asks for (SD-5, SD-8). */
    answerDrift: () => {},
    subscribe: () => {},
    /** Answer the Subscribe with Subscribed, its channels now in effect (CH-4). */
    confirmSubscribe: () => {},
    unsubscribe: () => {},
    sendDrainNotice: (_, _p: { reconnectAfterMs: number; deadlineMs: number }) => {},
    /** DISCONNECT overflow: the next resume must resync by snapshots (BP-11). */
    loseContinuity: () => {},
    /** Release the replay buffer of a detached session (RS-3 by time): a resume that needs it is a SNAPSHOT. */
    releaseReplay: () => {},
    /** The session is kept detached: count it against the server's detached limits (RS-11). */
    markDetached: () => {},
    /** No longer detached (attached again, ended, expired or evicted). */
    unmarkDetached: () => {},
    /** Remove the session from every channel (CC-6: first). */
    leaveChannels: () => {},
    /** Remove the session from the store (CC-6: second). */
    deleteSession: () => {},
    resetLiveness: assign({ missed: 0, silentTicks: 0 }),
    /** A Heartbeat arrived: the client follows what was announced before it (spec §8.8). */
    countBeat: assign({
      clientSteps: ({ context }) => context.announcedSteps,
      // Counted only below the ceiling (nothing to grow into above it), and only up to "enough".
      stableBeats: ({ context }) =>
        context.intervalSteps < context.opts.heartbeatIntervalStepsMax ? Math.min(context.stableBeats + 1, context.opts.heartbeatStableBeats) : 0,
    }),
    growInterval: assign({ intervalSteps: ({ context }) => context.intervalSteps + 1, stableBeats: 0 }),
    /** Back to the base interval (HB-11); announced with the next HeartbeatAck. */
    resetInterval: assign({ intervalSteps: 1, stableBeats: 0 }),
    /** The HeartbeatAck just sent told the client the interval in force; HB-7 allows it the longer of old and new. */
    noteAnnounced: assign({
      announcedSteps: ({ context }) => context.intervalSteps,
      clientSteps: ({ context }) => Math.max(context.clientSteps, context.intervalSteps),
    }),
    visit: assign({
      missed: ({ context }) => context.missed + 1,
      silentTicks: ({ context }) => context.silentTicks + 1,
      ticksSinceVisit: 0,
    }),
    skipVisit: assign({
      silentTicks: ({ context }) => context.silentTicks + 1,
      ticksSinceVisit: ({ context }) => context.ticksSinceVisit + 1,
    }),
  },
}).createMachine({
  id: 'serverSession',
  context: ({ input }) => ({
    opts: { ...serverSessionDefaults, ...input },
    missed: 0,
    silentTicks: 0,
    intervalSteps: 1,
    clientSteps: 1,
    announcedSteps: 1,
    ticksSinceVisit: 0,
    stableBeats: 0,
    welcomed: false,
    drainDeadlineMs: 0,
    isRebalance: false,
  }),
  initial: 'handshaking',
  states: {
    handshaking: {
      after: {
        handshakeTimeout: { target: 'closed', actions: close('HANDSHAKE_TIMEOUT'), meta: { spec: 'HS-10' } },
      },
      on: {
        'frame.hello': [
          { guard: not('isVersionSupported'), target: 'closed', actions: close('VERSION_UNSUPPORTED'), meta: { spec: 'HS-11' } },
          { guard: not('isAuthorized'), target: 'closed', actions: close('UNAUTHORIZED'), meta: { spec: 'HS-12' } },
          { guard: 'isForbidden', target: 'closed', actions: close('FORBIDDEN'), meta: { spec: 'SEC-6' } },
          { guard: 'isOverChannelLimit', target: 'closed', actions: close('POLICY_VIOLATION'), meta: { spec: 'SEC-7' } },
          { guard: 'isResume', target: 'handedOver', actions: 'handOverSocket', meta: { spec: 'RS-2' } },
          { guard: 'isOverCapacity', target: 'closed', actions: close('TRY_AGAIN_LATER'), meta: { spec: 'CC-8' } },
          { target: 'attached', actions: 'createSession', meta: { spec: 'HS-7' } },
        ],
        'frame.invalid': { target: 'closed', actions: { type: 'closeSocket', params: ({ event }) => ({ name: event.closeName }) }, meta: { spec: 'WIRE-2' } },
        // HS-8, WIRE-7: anything but Hello before Welcome.
        'frame.heartbeat': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.heartbeatAck': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.ack': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.message': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.stateDrift': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.controlOverRate': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.subscribe': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'frame.unsubscribe': { target: 'closed', actions: close('PROTOCOL_ERROR'), meta: { spec: 'HS-8' } },
        'socket.closed': { target: 'closed', actions: 'forgetSocket', meta: { spec: 'HS-7' } },
        // No session yet: nothing to notify or flush.
        'app.drain': { target: 'closed', actions: close('SERVICE_RESTART'), meta: { spec: 'DR-4' } },
        'app.revoke': { target: 'closed', actions: close('REVOKED'), meta: { spec: 'SEC-6' } },
        'app.end': { target: 'closed', actions: close('NORMAL'), meta: { spec: 'CC-6' } },
        'app.fail': { target: 'closed', actions: close('INTERNAL_ERROR'), meta: { spec: 'CC-5' } },
      },
    },

    attached: {
      type: 'parallel',
      // HS-9: Welcome is the first frame on every socket the session takes. It states the base
      // interval, so each socket starts there (HB-11).
      entry: [
        assign({ welcomed: true, missed: 0, silentTicks: 0, intervalSteps: 1, clientSteps: 1, announcedSteps: 1, ticksSinceVisit: 0, stableBeats: 0 }),
        'sendWelcome',
      ],
      exit: assign({ welcomed: false }),
      on: {
        'frame.hello': { target: 'closed', actions: teardown('PROTOCOL_ERROR'), meta: { spec: 'WIRE-7' } },
        // HB-8: every frame that keeps the session attached is proof of life ('resetLiveness').
        'frame.heartbeat': [
          { guard: 'mayGrowInterval', actions: ['resetLiveness', 'countBeat', 'growInterval', heartbeatAck, 'noteAnnounced'], meta: { spec: 'HB-11' } },
          { actions: ['resetLiveness', 'countBeat', heartbeatAck, 'noteAnnounced'], meta: { spec: 'HB-6' } },
        ],
        'frame.heartbeatAck': { actions: 'resetLiveness', meta: { spec: 'HB-8' } },
        'frame.ack': [
          { guard: 'isAckBeyondSent', target: 'closed', actions: teardown('PROTOCOL_ERROR'), meta: { spec: 'SEQ-6' } },
          { actions: ['resetLiveness', 'applyAck'], meta: { spec: 'SEQ-7' } },
        ],
        'frame.message': [
          { guard: 'isOverRate', target: 'detached', actions: close('RATE_LIMITED'), meta: { spec: 'BP-14' } },
          // BP-17: a client past the window it was granted; checked before the gap (a flood is contiguous).
          { guard: 'isBeyondWindow', target: 'closed', actions: teardown('PROTOCOL_ERROR'), meta: { spec: 'BP-17' } },
          { guard: 'isGap', target: 'closed', actions: teardown('PROTOCOL_ERROR'), meta: { spec: 'SEQ-4' } },
          { guard: 'isDuplicate', actions: ['resetLiveness', 'ackDuplicate'], meta: { spec: 'SEQ-3' } },
          { actions: ['resetLiveness', 'deliverMessage'], meta: { spec: 'SEQ-10' } },
        ],
        'frame.stateDrift': { actions: ['resetLiveness', 'answerDrift'], meta: { spec: 'SD-5' } },
        // BP-16: a control flood (Heartbeats past the rate): ended, 1008 resets the session.
        'frame.controlOverRate': { target: 'closed', actions: teardown('POLICY_VIOLATION'), meta: { spec: 'BP-16' } },
        'frame.subscribe': [
          { guard: 'isForbidden', target: 'closed', actions: teardown('FORBIDDEN'), meta: { spec: 'SEC-6' } },
          { guard: 'isOverChannelLimit', target: 'closed', actions: teardown('POLICY_VIOLATION'), meta: { spec: 'SEC-7' } },
          { guard: 'isConfirmAsked', actions: ['resetLiveness', 'subscribe', 'confirmSubscribe'], meta: { spec: 'CH-4' } },
          { actions: ['resetLiveness', 'subscribe'], meta: { spec: 'CH-1' } },
        ],
        'frame.unsubscribe': { actions: ['resetLiveness', 'unsubscribe'], meta: { spec: 'CH-2' } },
        // WIRE-1 … WIRE-5: every decode failure's code (1002, 1003, 1007, 1009) resets the session.
        'frame.invalid': {
          target: 'closed',
          actions: ['leaveChannels', 'deleteSession', { type: 'closeSocket', params: ({ event }) => ({ name: event.closeName }) }],
          meta: { spec: 'SEC-4' },
        },
        'socket.closed': [
          // A peer close whose advice resets the session (1000, 1002, …) ends it; any other keeps it (RS-1).
          { guard: 'isPeerCloseResetting', target: 'closed', actions: ['forgetSocket', 'leaveChannels', 'deleteSession'], meta: { spec: 'RS-1' } },
          { target: 'detached', actions: 'forgetSocket', meta: { spec: 'RS-1' } },
        ],
        'socket.attached': {
          target: 'attached',
          reenter: true,
          actions: [close('SESSION_TAKEN_OVER'), { type: 'attachSocket', params: ({ event }) => ({ socketId: event.socketId }) }],
          meta: { spec: 'RS-7' },
        },
        'queue.overflow': { target: 'detached', actions: [close('SLOW_CONSUMER'), 'loseContinuity'], meta: { spec: 'BP-11' } },
        'app.revoke': { target: 'closed', actions: teardown('REVOKED'), meta: { spec: 'SEC-6' } },
        'app.credentialExpired': { target: 'detached', actions: close('TOKEN_EXPIRED'), meta: { spec: 'SEC-5' } },
        'app.end': { target: 'closed', actions: teardown('NORMAL'), meta: { spec: 'CC-6' } },
        'app.fail': { target: 'detached', actions: close('INTERNAL_ERROR'), meta: { spec: 'CC-5' } },
      },
      states: {
        phase: {
          initial: 'active',
          states: {
            active: {
              on: {
                'app.drain': {
                  target: 'draining',
                  actions: [
                    assign({ drainDeadlineMs: ({ event }) => event.deadlineMs, isRebalance: ({ event }) => event.isRebalance === true }),
                    { type: 'sendDrainNotice', params: ({ event }) => ({ reconnectAfterMs: event.reconnectAfterMs, deadlineMs: event.deadlineMs }) },
                  ],
                  meta: { spec: 'DR-2' },
                },
              },
            },
            // DR-4: served and flushed as usual until its deadline (the client may leave first, at its
            // slot), then closed 1012. DR-5, destroying what is still open at the drain's own
            // deadline, is the server's: it spans every connection.
            draining: {
              after: {
                drainDeadline: [
                  // A rebalance names where to go: RECONNECT_ELSEWHERE, whose advice matches 1012's (DR-6).
                  { guard: 'isRebalance', target: '#serverSession.detached', actions: close('RECONNECT_ELSEWHERE'), meta: { spec: 'DR-6' } },
                  { target: '#serverSession.detached', actions: close('SERVICE_RESTART'), meta: { spec: 'DR-4' } },
                ],
              },
            },
          },
        },
        liveness: {
          initial: 'alive',
          on: {
            // Every tick of the base-rate sweep: HB-3 and HB-7 are checked on each, pings go out on
            // the session's k-th (HB-1, HB-11).
            'sweep.tick': [
              {
                guard: 'isMissedTooMany',
                target: '#serverSession.detached',
                actions: { type: 'terminateSocket', params: { name: 'HEARTBEAT_TIMEOUT' } },
                meta: { spec: 'HB-3' },
              },
              { guard: 'isSilentTooLong', target: '#serverSession.detached', actions: close('HEARTBEAT_TIMEOUT'), meta: { spec: 'HB-7' } },
              { guard: 'isMissWhileAdapted', target: '.suspect', actions: ['resetInterval', 'visit', 'sendPing'], meta: { spec: 'HB-11' } },
              { guard: 'isVisitDue', target: '.suspect', actions: ['visit', 'sendPing'], meta: { spec: 'HB-1' } },
              { actions: 'skipVisit', meta: { spec: 'HB-11' } },
            ],
            // The fixed-interval fast path: the adapter counted, these are the decisions (HB-3, HB-7).
            'liveness.expired': [
              {
                guard: 'isZombie',
                target: '#serverSession.detached',
                actions: { type: 'terminateSocket', params: { name: 'HEARTBEAT_TIMEOUT' } },
                meta: { spec: 'HB-3' },
              },
              { target: '#serverSession.detached', actions: close('HEARTBEAT_TIMEOUT'), meta: { spec: 'HB-7' } },
            ],
            'socket.pong': [
              { guard: 'isRttSpikeWhileAdapted', actions: [assign({ missed: 0 }), 'resetInterval'], meta: { spec: 'HB-11' } },
              { actions: assign({ missed: 0 }), meta: { spec: 'HB-2' } },
            ],
            // Frames are handled on `attached` (a region's handler would hide the parent's in XState 5),
            // and each one resets the counts there (HB-8).
          },
          states: {
            alive: {},
            suspect: { always: { guard: 'isLivenessClear', target: 'alive', meta: { spec: 'HB-2' } } },
          },
        },
        flow: {
          initial: 'flowing',
          states: {
            flowing: { on: { 'queue.blocked': { target: 'blocked', meta: { spec: 'BP-1' } } } },
            // Window full (BP-1) or socket over its high-water mark (BP-4): items wait in the queue.
            blocked: { on: { 'queue.flowing': { target: 'flowing', meta: { spec: 'BP-4' } } } },
          },
        },
      },
    },

    detached: {
      entry: 'markDetached',
      exit: 'unmarkDetached',
      after: {
        resumeTtl: { target: 'expired', actions: ['leaveChannels', 'deleteSession'], meta: { spec: 'RS-1' } },
        // RS-3 by time: the session lives on (RS-1), its replay does not (never a partial replay).
        replayWindow: { guard: 'isReplayWindowShorter', actions: 'releaseReplay', meta: { spec: 'RS-3' } },
      },
      on: {
        'socket.attached': {
          target: 'attached',
          actions: { type: 'attachSocket', params: ({ event }) => ({ socketId: event.socketId }) },
          meta: { spec: 'RS-2' },
        },
        // A detached session keeps queueing under its policy (BP-2); DISCONNECT loses continuity.
        'queue.overflow': { actions: 'loseContinuity', meta: { spec: 'BP-11' } },
        'app.revoke': { target: 'closed', actions: ['leaveChannels', 'deleteSession'], meta: { spec: 'SEC-6' } },
        'app.end': { target: 'closed', actions: ['leaveChannels', 'deleteSession'], meta: { spec: 'CC-6' } },
        // RS-11: over the detached limits, oldest first; a later Hello naming it hears NEW/EVICTED.
        'app.evict': { target: 'expired', actions: ['leaveChannels', 'deleteSession'], meta: { spec: 'RS-11' } },
      },
    },

    /** The socket was handed to the session its Hello resumed; this actor's job is done. */
    handedOver: { type: 'final' },
    closed: { type: 'final' },
    /** The resume window ran out (RS-1), or the session was evicted (RS-11); a later Hello naming it gets NEW/EXPIRED or NEW/EVICTED (RS-6). */
    expired: { type: 'final' },
  },
});

export type ServerSessionMachine = typeof serverSessionMachine;

/** The spec's name of the state a snapshot is in, for logs and tests. */
export function serverStateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { attached?: { phase?: string } };
  return v.attached?.phase ?? 'attached';
}
