/**
 * The client connection lifecycle (spec §15, RC-1): idle → connecting → handshaking → connected,
 * and on any loss reconnecting / suspended / failed, until close() makes it closed.
 *
 * Part of the specification: pure. No sockets, no clock, no randomness of its own (`random` comes
 * from input), no timers except the named delays below, whose values come from input or from the
 * server (Welcome, HeartbeatAck, DrainNotice, Retry-After). Effects are named action stubs that
 * client/ supplies with `.provide()`. How a close is answered comes from the close-code registry
 * (CC-2, CC-3), never from a table of its own.
 *
 * Liveness (HB-4, HB-8) without a per-frame event: the adapter records when the last frame arrived
 * and supplies `silenceMs` in input. The dead-peer delay fires after interval × (missed + 1); if a
 * frame came meanwhile it re-arms for the rest of that span from the frame, else it closes 4200.
 * `frame.any` and `frame.heartbeatAck` still restart the delay outright.
 *
 * Transports (§22.7, HT-20 … HT-29): each attempt goes over a WebSocket or the HTTP carrier
 * (`transport` in context). After `httpFallbackAfter` consecutive attempts whose WebSocket never
 * opened, the next goes over HTTP; while connected over HTTP the client probes a WebSocket every
 * `wsRetry` (doubling per failed probe) and moves back at once when one opens, resuming the session.
 */
import { assign, cancel, fromPromise, raise, setup } from 'xstate';
import { backoffDelayMs } from '../protocol/backoff.js';
import { adviceForCode, adviceForHttpStatus, codeOf, type Advice } from '../protocol/close-codes.js';
import { defaults } from '../protocol/defaults.js';

/** The carrier of one connection attempt (§22): a WebSocket or the HTTP carrier. */
export type TransportKind = 'ws' | 'http';

/** Timing and policy options of the machine; every value carries its unit. */
export interface ClientConnectionOptions {
  readonly reconnectBaseMs: number;
  readonly reconnectCapMs: number;
  /** Consecutive failed attempts before `suspended` (RC-3). */
  readonly reconnectMaxAttempts: number;
  /** Retry interval while suspended (RC-3). */
  readonly suspendedRetryMs: number;
  /** No socket open, or no Welcome, within this: HANDSHAKE_TIMEOUT (HS-10). */
  readonly handshakeTimeoutMs: number;
  /** Used until a Welcome states the server's values (HB-4, HB-5). */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMissedMax: number;
  /**
   * The carriers this client may use, the first one first (HT-20); default `['ws']` here, and
   * `['ws', 'http']` in the reference clients that have an HTTP transport.
   */
  readonly transports: readonly TransportKind[];
  /** Consecutive attempts whose WebSocket never opened before the next attempt goes over HTTP (HT-21). */
  readonly httpFallbackAfter: number;
  /** Over HTTP: the wait before the first WebSocket probe (HT-23). */
  readonly wsRetryMs: number;
  /** The longest probe wait; each failed probe doubles the wait up to this (HT-24). */
  readonly wsRetryCapMs: number;
}

export interface ClientConnectionInput extends Partial<ClientConnectionOptions> {
  /** Uniform in [0, 1): the jitter source (RC-2), injected so runs replay. */
  readonly random: () => number;
  /**
   * Ms since the adapter last received a frame, on the actor's clock (HB-8). With it the adapter
   * need not send `frame.any` per frame: the dead-peer delay re-checks when it fires. Without it
   * only `frame.any`/`frame.heartbeatAck` count as proof of life.
   */
  readonly silenceMs?: () => number;
}

/** What the machine remembers about the way the last connection ended. */
export interface ConnectionEnd {
  /** WebSocket close code, or HTTP status for a refused upgrade. */
  readonly code?: number;
  readonly status?: number;
  readonly reason: string;
  readonly advice: Advice;
}

export interface ClientConnectionContext {
  readonly opts: ClientConnectionOptions;
  readonly random: () => number;
  readonly silenceMs: (() => number) | undefined;
  /** The current dead-peer wait in ms (HB-4); 0 = the full interval × (missed + 1). */
  deadPeerWaitMs: number;
  /** Consecutive failed attempts since the last Welcome (RC-3, RC-4). */
  failures: number;
  /**
   * Reconnect delays computed since the last Welcome, connect(), reconnect() or online signal: the
   * backoff exponent n of the next delay (RC-2). The first delay of a series is n = 0, whether it
   * follows the drop of a live session or a failed first attempt.
   */
  retries: number;
  /** Session id of the last Welcome; '' when the next Hello asks for a new session (RC-10). */
  sessionId: string;
  /** Credential from the last getToken (RC-5); sent in Hello.token. */
  token: string | undefined;
  /** The next getToken must bypass any cache (advice refresh-token, RC-5). */
  forceRefresh: boolean;
  /** Heartbeat interval and missed threshold in force (Welcome, HB-11). */
  heartbeatIntervalMs: number;
  heartbeatMissedMax: number;
  /** Delay of the current `reconnecting` wait, in ms (RC-2, RC-7, RC-8, DR-6). */
  reconnectDelayMs: number;
  /**
   * URL to use instead of the configured one (DrainNotice.target, DR-6); '' = configured. It holds
   * for the attempts after the notice until one gets a Welcome, or until suspended/failed.
   */
  target: string;
  /** A DrainNotice's slot has not come yet (DR-6): no reconnect before `deadline.drainSlot`. */
  isDrainPending: boolean;
  /** reconnect_after_ms of the last DrainNotice, from its receipt (DR-6). */
  drainDelayMs: number;
  lastEnd: ConnectionEnd | undefined;
  /** The carrier of the current or next attempt (HT-20). */
  transport: TransportKind;
  /** Consecutive attempts since the last Welcome whose WebSocket never opened (HT-21). */
  wsFailures: number;
  /** The current wait before a WebSocket probe while connected over HTTP (HT-23, HT-24). */
  wsRetryDelayMs: number;
}

export interface WelcomeFacts {
  readonly sessionId: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMissedMax: number;
}

export type ClientConnectionEvent =
  | { readonly type: 'app.connect' }
  | { readonly type: 'app.close' }
  | { readonly type: 'app.reconnect' }
  | { readonly type: 'network.online' }
  | { readonly type: 'socket.opened' }
  | { readonly type: 'socket.closed'; readonly code: number; readonly reason: string }
  /** The upgrade was answered with an HTTP status (Node only; browsers see 1006). */
  | { readonly type: 'socket.refused'; readonly status: number; readonly retryAfterMs?: number }
  /** The client found the server breaking a rule; it closes with `code` (a ProtocolError's code). */
  | { readonly type: 'frame.invalid'; readonly code: number; readonly reason: string }
  | ({ readonly type: 'frame.welcome' } & WelcomeFacts)
  | { readonly type: 'frame.heartbeatAck'; readonly intervalMs: number }
  | { readonly type: 'frame.drainNotice'; readonly reconnectAfterMs: number; readonly target: string }
  /** Any other frame from the server: proof of life (HB-8). */
  | { readonly type: 'frame.any' }
  /** The WebSocket probe opened (and was closed 1000 before any Hello) (HT-25). */
  | { readonly type: 'probe.opened' }
  /** The WebSocket probe closed or was refused before it opened (HT-24). */
  | { readonly type: 'probe.failed' }
  /** The attempt's one handshake deadline passed (HS-10); raised by the machine itself. */
  | { readonly type: 'deadline.handshake' }
  /** reconnect_after_ms since the DrainNotice passed (DR-6); raised by the machine itself. */
  | { readonly type: 'deadline.drainSlot' };

export interface GetTokenInput {
  readonly forceRefresh: boolean;
  readonly sessionId: string;
}

export interface OpenSocketParams {
  /** '' = the configured URL. */
  readonly target: string;
  readonly token: string | undefined;
  /** The carrier to open (HT-20). */
  readonly transport: TransportKind;
}
export interface OpenProbeParams {
  /** '' = the configured URL. */
  readonly target: string;
  readonly token: string | undefined;
}
export interface SendHelloParams {
  /** '' asks for a new session. */
  readonly sessionId: string;
  readonly token: string | undefined;
}
export interface CloseSocketParams {
  readonly code: number;
  readonly reason: string;
}

export const clientConnectionDefaults: ClientConnectionOptions = {
  reconnectBaseMs: defaults.reconnectBaseMs,
  reconnectCapMs: defaults.reconnectCapMs,
  reconnectMaxAttempts: defaults.reconnectMaxAttempts,
  suspendedRetryMs: defaults.suspendedRetryMs,
  handshakeTimeoutMs: defaults.handshakeTimeoutMs,
  heartbeatIntervalMs: defaults.heartbeatIntervalMs,
  heartbeatMissedMax: defaults.heartbeatMissedMax,
  transports: ['ws'],
  httpFallbackAfter: defaults.httpFallbackAfter,
  wsRetryMs: defaults.wsRetryMs,
  wsRetryCapMs: defaults.wsRetryCapMs,
};

/**
 * HTTP statuses that are admission answers (HS-2, HS-4, HS-5, HS-6): the server itself refused the
 * attempt, so the carrier works and they never count toward a transport switch (HT-21).
 */
export const ADMISSION_STATUSES: readonly number[] = [401, 403, 429, 503];

/** Admission answers that mean "reached, but busy now" (HS-5, HS-6): they send an HTTP attempt back to WebSocket (HT-22). */
export const BUSY_STATUSES: readonly number[] = [429, 503];

/** The other carrier, when this client may use it (HT-20). */
function otherTransport(ctx: ClientConnectionContext): TransportKind | undefined {
  const other: TransportKind = ctx.transport === 'ws' ? 'http' : 'ws';
  return ctx.opts.transports.includes(other) ? other : undefined;
}

/**
 * The attempt's carrier never opened for a reason that is not an admission answer (HT-21): a close
 * before open, a network error, or a refusal with any status but 401, 403, 429, 503 (a proxy's 400,
 * 426, 502 …). Only meaningful for the events of `connecting`. A handshake deadline that passes while
 * the socket is opening does not count: a slow or loaded path is not a blocked one, and a fallback it
 * caused would move clients to HTTP for wsRetryMs for nothing (e2e MN-11 under load saw 157 of them).
 */
export function isCarrierFailure(event: ClientConnectionEvent): boolean {
  if (event.type === 'socket.closed') return true;
  return event.type === 'socket.refused' && !ADMISSION_STATUSES.includes(event.status);
}

/**
 * The transport facts after an attempt that never opened (HT-21, HT-22): over WebSocket it counts,
 * and the `httpFallbackAfter`-th in a row sends the next attempt over HTTP; over HTTP, the next
 * attempt goes back to WebSocket. Exported so tests and other implementations share the arithmetic.
 */
export function afterOpenFailure(ctx: ClientConnectionContext, event: ClientConnectionEvent): { transport: TransportKind; wsFailures: number } {
  const other = otherTransport(ctx);
  if (other === undefined) return { transport: ctx.transport, wsFailures: ctx.wsFailures };
  // HT-22: over HTTP, an open refused 429 or 503 (a drain, a rate limit) says the server was reached and
  // busy: the WebSocket failures before it were likely that same refusal, which a browser cannot see
  // (§5.5), so the next attempt goes back to WebSocket instead of keeping a whole fleet on HTTP.
  if (ctx.transport === 'http' && event.type === 'socket.refused' && BUSY_STATUSES.includes(event.status)) return { transport: 'ws', wsFailures: 0 };
  if (!isCarrierFailure(event)) return { transport: ctx.transport, wsFailures: ctx.wsFailures };
  if (ctx.transport === 'http') return { transport: 'ws', wsFailures: 0 }; // HT-22
  const wsFailures = ctx.wsFailures + 1;
  return wsFailures >= Math.max(1, ctx.opts.httpFallbackAfter) ? { transport: 'http', wsFailures: 0 } : { transport: 'ws', wsFailures }; // HT-21
}

/**
 * The delay before the next attempt (RC-2, RC-7, RC-8). `n` is the number of failed attempts since
 * the last Welcome. Exported so tests and other implementations check the same arithmetic.
 */
export function reconnectDelayFor(
  advice: Advice,
  n: number,
  random: () => number,
  opts: Pick<ClientConnectionOptions, 'reconnectBaseMs' | 'reconnectCapMs'>,
  serverDelayMs?: number,
): number {
  if (advice.retry === 'immediate' && n === 0) return 0; // RC-7: first attempt only
  if (advice.retry === 'server-delay' && serverDelayMs !== undefined) {
    return Math.max(advice.minDelayMs, serverDelayMs); // RC-8
  }
  return backoffDelayMs(n, random, opts, advice.minDelayMs); // RC-2 (and RC-8 with no delay given)
}

/** The advice and facts of an event that ended a connection (CC-2, CC-3). */
function endOf(event: ClientConnectionEvent, ctx: ClientConnectionContext): { end: ConnectionEnd; serverDelayMs?: number } {
  switch (event.type) {
    case 'socket.closed':
      return { end: { code: event.code, reason: event.reason, advice: adviceForCode(event.code) } };
    case 'frame.invalid':
      // CC-2: the client closed because the server broke a rule. Whatever code it sent, it resets
      // the session and backs off from PROTOCOL_ERROR's minimum; a code's own advice (1003, 1009:
      // none) is written for the peer that receives it, the offender.
      return { end: { code: event.code, reason: event.reason, advice: adviceForCode(codeOf('PROTOCOL_ERROR')) } };
    case 'socket.refused': {
      // HT-21: while the other carrier may be tried, a refusal that is not an admission answer
      // (a proxy's 426 to a stripped Upgrade, its 502) says "not this carrier", not "never": backoff.
      const isSwitchable = otherTransport(ctx) !== undefined && isCarrierFailure(event);
      const advice = isSwitchable ? adviceForCode(codeOf('ABNORMAL')) : adviceForHttpStatus(event.status);
      const end: ConnectionEnd = { status: event.status, reason: `HTTP ${event.status}`, advice };
      return event.retryAfterMs === undefined ? { end } : { end, serverDelayMs: event.retryAfterMs };
    }
    default:
      // A failure with no code of its own (getToken rejected): plain backoff.
      return { end: { reason: event.type, advice: adviceForCode(codeOf('ABNORMAL')) } };
  }
}

function localEnd(name: 'HANDSHAKE_TIMEOUT' | 'HEARTBEAT_TIMEOUT', reason: string): ConnectionEnd {
  const code = codeOf(name);
  return { code, reason, advice: adviceForCode(code) };
}

/** Context after a connection ended: session reset, token refresh, next delay (CC-2, RC-5, RC-10). */
function afterEnd(ctx: ClientConnectionContext, end: ConnectionEnd, countFailure: boolean, serverDelayMs?: number) {
  // Saturates at the limit: a failed retry from `suspended` returns there without counting on.
  const failures = countFailure ? Math.min(ctx.failures + 1, Math.max(1, ctx.opts.reconnectMaxAttempts)) : ctx.failures;
  // DR-6: while a drain slot is pending, a server-delay close (1012, 4300) waits for the slot alone
  // (`reconnecting.slot`); any other code waits for the later of the slot and its own delay.
  const given = ctx.isDrainPending && end.advice.retry === 'server-delay' ? 0 : serverDelayMs;
  return {
    lastEnd: end,
    failures,
    sessionId: end.advice.resetSession ? '' : ctx.sessionId, // RC-10: a reset drops the session id
    forceRefresh: ctx.forceRefresh || end.advice.retry === 'refresh-token', // RC-5
    // RC-2: n is the number of delays already computed in this series, from 0.
    reconnectDelayMs: reconnectDelayFor(end.advice, ctx.retries, ctx.random, ctx.opts, given),
    retries: ctx.retries + 1,
  };
}

const HANDSHAKE_REASON = 'HS-10: no Welcome within the handshake timeout';
const HEARTBEAT_REASON = 'HB-4: nothing from the server within interval × (missed + 1)';
/** HT-25: the reason of the close that leaves HTTP for a WebSocket that opened. */
export const SWITCH_REASON = 'transport switch';

/** HB-4: interval × (missed + 1) of silence means the server (or the path) is dead. */
export function deadPeerMs(c: ClientConnectionContext): number {
  return c.heartbeatIntervalMs * (c.heartbeatMissedMax + 1);
}

/*
 * The pieces of the connect path (idle → connecting → handshaking → connected) as named pure
 * functions: the machine below uses them, and so does the client's precomputed connect path
 * (client/connect-steps.ts, issue 16), which steps these transitions without `transition()`. One
 * implementation of each; client/connect-steps.test.ts proves the two paths equal.
 */

/** The options in force: the defaults, overridden by every option the input gives (functions aside). */
export function clientOptionsOf(input: ClientConnectionInput): ClientConnectionOptions {
  return { ...clientConnectionDefaults, ...stripUndefined(input) };
}

/** The machine's initial context; `opts` may be one the caller shares (equal to clientOptionsOf(input)). */
export function initialClientContext(input: ClientConnectionInput, opts: ClientConnectionOptions = clientOptionsOf(input)): ClientConnectionContext {
  return {
    opts,
    random: input.random,
    silenceMs: input.silenceMs,
    deadPeerWaitMs: 0,
    failures: 0,
    retries: 0,
    sessionId: '',
    token: undefined,
    forceRefresh: false,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatMissedMax: opts.heartbeatMissedMax,
    reconnectDelayMs: 0,
    target: '',
    isDrainPending: false,
    drainDelayMs: 0,
    lastEnd: undefined,
    transport: opts.transports[0] ?? 'ws',
    wsFailures: 0,
    wsRetryDelayMs: opts.wsRetryMs,
  };
}

/** The invoked getToken's input (RC-5). */
export function getTokenInputOf(c: ClientConnectionContext): GetTokenInput {
  return { forceRefresh: c.forceRefresh, sessionId: c.sessionId };
}

/** What an attempt opens: the drain target or the configured URL (''), with its token and carrier. */
export function openSocketParamsOf(c: ClientConnectionContext): OpenSocketParams {
  return { target: c.target, token: c.token, transport: c.transport };
}

/** The Hello's session to resume ('' = new) and token (HS-8, RS-10). */
export function sendHelloParamsOf(c: ClientConnectionContext): SendHelloParams {
  return { sessionId: c.sessionId, token: c.token };
}

/** What a Welcome sets in context (RC-4, RC-2, DR-6, HB-4, HT-21, HB-11). */
export function afterWelcome(e: WelcomeFacts): Partial<ClientConnectionContext> {
  return {
    sessionId: e.sessionId,
    failures: 0, // RC-4
    retries: 0, // RC-2: the next drop starts a new series at n = 0
    target: '', // DR-6: a drain target holds until a Welcome; later reconnects go home
    deadPeerWaitMs: 0, // HB-4: a new socket gets the full dead-peer wait
    wsFailures: 0, // HT-21: consecutive since the last Welcome
    heartbeatIntervalMs: e.heartbeatIntervalMs,
    heartbeatMissedMax: e.heartbeatMissedMax,
    lastEnd: undefined,
  };
}

/** The Welcome's facts for acceptWelcome. */
export function welcomeFactsOf(e: WelcomeFacts): WelcomeFacts {
  return { sessionId: e.sessionId, heartbeatIntervalMs: e.heartbeatIntervalMs, heartbeatMissedMax: e.heartbeatMissedMax };
}

/** Connected over HTTP, and WebSocket is one of the client's transports (HT-23). */
export function mayProbeWebSocket(c: ClientConnectionContext): boolean {
  return c.transport === 'http' && c.opts.transports.includes('ws');
}

/** Close 4201, then a failed attempt: suspended at the limit, else reconnecting (HS-10, RC-3). */
const handshakeExpired = [
  {
    guard: 'isLastAttempt',
    target: '#client.suspended',
    actions: [{ type: 'closeSocket', params: { code: codeOf('HANDSHAKE_TIMEOUT'), reason: HANDSHAKE_REASON } }, 'recordHandshakeTimeout'],
    meta: { spec: 'RC-3' },
  },
  {
    target: '#client.reconnecting',
    actions: [{ type: 'closeSocket', params: { code: codeOf('HANDSHAKE_TIMEOUT'), reason: HANDSHAKE_REASON } }, 'recordHandshakeTimeout'],
    meta: { spec: 'HS-10' },
  },
] as const;

/** The client found the server breaking a rule: close with that rule's code, then back off (CC-2). */
const closeForViolation = { type: 'closeSocket', params: ({ event }: { event: ClientConnectionEvent }) => (event.type === 'frame.invalid' ? { code: event.code, reason: event.reason } : { code: codeOf('PROTOCOL_ERROR'), reason: '' }) } as const;

export const clientConnectionMachine = setup({
  types: {} as {
    context: ClientConnectionContext;
    events: ClientConnectionEvent;
    input: ClientConnectionInput;
  },
  actors: {
    /** Credentials before every attempt (RC-5); client/ provides the application's getToken. */
    getToken: fromPromise<string | undefined, GetTokenInput>(async () => undefined),
  },
  actions: {
    /** Open a WebSocket (replacing any socket still open after a DrainNotice, with GOING_AWAY). */
    openSocket: (_, _params: OpenSocketParams) => {},
    /** Send Hello with the session id to resume and the last processed server seq (HS-8, RS-10). */
    sendHello: (_, _params: SendHelloParams) => {},
    /** Welcome arrived: rebase the inbound cursor, replay or renumber unacked sends (RS-10, SEQ-9). */
    acceptWelcome: (_, _params: WelcomeFacts) => {},
    /** Send an application Heartbeat carrying the smoothed RTT (HB-5, HB-9). */
    sendHeartbeat: () => {},
    /** Close the current socket with a registry code (CC-1); no-op without a socket. */
    closeSocket: (_, _params: CloseSocketParams) => {},
    /** Open a WebSocket probe; the adapter closes it 1000 before any Hello once it opens (HT-23). */
    openProbe: (_, _params: OpenProbeParams) => {},
    /** Abandon a probe still opening; no-op without one (HT-23). */
    closeProbe: () => {},
    /** An attempt never opened: count it toward a transport switch, or switch (HT-21, HT-22). */
    countOpenFailure: assign(({ context, event }) => afterOpenFailure(context, event)),
    /** A probe failed: the next waits twice as long, up to wsRetryCapMs (HT-24). */
    recordProbeFailure: assign(({ context }) => ({ wsRetryDelayMs: Math.min(context.wsRetryDelayMs * 2, context.opts.wsRetryCapMs) })),
    /** The probe opened: the next attempt goes over WebSocket, and a later fallback starts afresh (HT-25). */
    switchToWebSocket: assign(({ context }) => ({ transport: 'ws' as const, wsFailures: 0, wsRetryDelayMs: context.opts.wsRetryMs })),
    /** An explicit reconnect() or online signal starts a fresh series (RC-3, RC-6). */
    resetAttempts: assign({ failures: 0, retries: 0 }),
    /** A connection attempt failed before Welcome: advice, session reset, next delay (CC-2, RC-3). */
    recordFailedAttempt: assign(({ context, event }) => {
      const { end, serverDelayMs } = endOf(event, context);
      return afterEnd(context, end, true, serverDelayMs);
    }),
    /** A live session dropped: the first retry backs off from n = 0 (CC-2, RC-4). */
    recordDroppedSession: assign(({ context, event }) => afterEnd(context, endOf(event, context).end, false)),
    /** getToken rejected: a failed attempt with plain backoff (RC-5). */
    recordTokenFailure: assign(({ context }) =>
      afterEnd(context, { reason: 'getToken failed', advice: adviceForCode(codeOf('ABNORMAL')) }, true),
    ),
    recordHandshakeTimeout: assign(({ context }) => afterEnd(context, localEnd('HANDSHAKE_TIMEOUT', HANDSHAKE_REASON), true)),
    recordHeartbeatTimeout: assign(({ context }) => afterEnd(context, localEnd('HEARTBEAT_TIMEOUT', HEARTBEAT_REASON), false)),
    /** HS-10: one deadline per attempt, from entering `connecting` (token, socket and Welcome). */
    armHandshakeDeadline: raise({ type: 'deadline.handshake' }, { id: 'handshakeDeadline', delay: 'handshakeTimeout' }),
    cancelHandshakeDeadline: cancel('handshakeDeadline'),
    /** DR-6: the slot of the last DrainNotice; a later notice replaces it. */
    armDrainSlot: raise({ type: 'deadline.drainSlot' }, { id: 'drainSlot', delay: 'drainSlot' }),
    /** No reconnect waits for a slot any more: advice none or suspended ended the series (DR-6). */
    cancelDrainSlot: cancel('drainSlot'),
  },
  guards: {
    /** The advice of what ended the connection is none (RC-6). */
    isAdviceNone: ({ context, event }) => endOf(event, context).end.advice.retry === 'none',
    /** This failed attempt reaches reconnectMaxAttempts (RC-3). */
    isLastAttempt: ({ context }) => context.failures + 1 >= Math.max(1, context.opts.reconnectMaxAttempts),
    /** HB-8: a frame arrived while the dead-peer delay ran (the adapter's silence is shorter). */
    isFrameSinceArmed: ({ context }) => context.silenceMs !== undefined && context.silenceMs() < deadPeerMs(context),
    /** HeartbeatAck announces a different interval (HB-11). */
    isIntervalChange: ({ context, event }) =>
      event.type === 'frame.heartbeatAck' && event.intervalMs > 0 && event.intervalMs !== context.heartbeatIntervalMs,
    /** A DrainNotice's slot is still to come (DR-6). */
    isDrainPending: ({ context }) => context.isDrainPending,
    /** Connected over HTTP, and WebSocket is one of the client's transports (HT-23). */
    mayProbeWebSocket: ({ context }) => mayProbeWebSocket(context),
  },
  delays: {
    handshakeTimeout: ({ context }) => context.opts.handshakeTimeoutMs,
    heartbeatInterval: ({ context }) => context.heartbeatIntervalMs,
    /** HB-4: interval × (missed + 1) of silence means the server (or the path) is dead. */
    deadPeer: ({ context }) => context.deadPeerWaitMs || deadPeerMs(context),
    reconnectDelay: ({ context }) => context.reconnectDelayMs,
    suspendedRetry: ({ context }) => context.opts.suspendedRetryMs,
    drainSlot: ({ context }) => context.drainDelayMs,
    wsRetry: ({ context }) => context.wsRetryDelayMs,
  },
}).createMachine({
  id: 'client',
  initial: 'idle',
  context: ({ input }) => initialClientContext(input),
  on: {
    // RC-9: close() from any live state sends NORMAL and ends for good.
    'app.close': {
      target: '.closed',
      actions: { type: 'closeSocket', params: { code: codeOf('NORMAL'), reason: 'RC-9: client closed' } },
      meta: { spec: 'RC-9' },
    },
  },
  states: {
    idle: {
      on: { 'app.connect': { target: 'connecting', meta: { spec: 'RC-1' } } },
    },

    connecting: {
      initial: 'authorizing',
      // HS-10: the attempt's one handshake deadline starts here and runs through `handshaking`.
      entry: 'armHandshakeDeadline',
      states: {
        authorizing: {
          invoke: {
            id: 'getToken',
            src: 'getToken',
            input: ({ context }) => getTokenInputOf(context),
            onDone: {
              target: 'opening',
              actions: assign({ token: ({ event }) => event.output, forceRefresh: false }),
              meta: { spec: 'RC-5' },
            },
            // No credentials: a failed attempt, retried with backoff.
            onError: [
              { guard: 'isLastAttempt', target: '#client.suspended', actions: 'recordTokenFailure', meta: { spec: 'RC-3' } },
              { target: '#client.reconnecting', actions: 'recordTokenFailure', meta: { spec: 'RC-5' } },
            ],
          },
        },
        opening: {
          entry: {
            type: 'openSocket',
            params: ({ context }) => openSocketParamsOf(context),
          },
          on: { 'socket.opened': { target: '#client.handshaking', meta: { spec: 'HS-8' } } },
        },
      },
      on: {
        // HS-10: a token fetch or a socket that has not opened by the deadline fails the attempt.
        'deadline.handshake': handshakeExpired,
        // HT-21, HT-22: an attempt that never opened also counts toward a transport switch.
        'socket.closed': [
          { guard: 'isAdviceNone', target: '#client.failed', actions: 'recordFailedAttempt', meta: { spec: 'RC-6' } },
          { guard: 'isLastAttempt', target: '#client.suspended', actions: ['recordFailedAttempt', 'countOpenFailure'], meta: { spec: 'RC-3' } },
          { target: '#client.reconnecting', actions: ['recordFailedAttempt', 'countOpenFailure'], meta: { spec: 'HT-21' } },
        ],
        'socket.refused': [
          { guard: 'isAdviceNone', target: '#client.failed', actions: 'recordFailedAttempt', meta: { spec: 'RC-6' } },
          { guard: 'isLastAttempt', target: '#client.suspended', actions: ['recordFailedAttempt', 'countOpenFailure'], meta: { spec: 'RC-3' } },
          { target: '#client.reconnecting', actions: ['recordFailedAttempt', 'countOpenFailure'], meta: { spec: 'HT-21' } },
        ],
      },
    },

    handshaking: {
      entry: {
        type: 'sendHello',
        params: ({ context }) => sendHelloParamsOf(context),
      },
      on: {
        'frame.welcome': {
          target: 'connected',
          actions: [
            'cancelHandshakeDeadline',
            assign(({ event }) => afterWelcome(event)),
            { type: 'acceptWelcome', params: ({ event }) => welcomeFactsOf(event) },
          ],
          meta: { spec: 'RC-4' },
        },
        'socket.closed': [
          { guard: 'isAdviceNone', target: '#client.failed', actions: 'recordFailedAttempt', meta: { spec: 'RC-6' } },
          { guard: 'isLastAttempt', target: '#client.suspended', actions: 'recordFailedAttempt', meta: { spec: 'RC-3' } },
          { target: '#client.reconnecting', actions: 'recordFailedAttempt', meta: { spec: 'CC-2' } },
        ],
        // CC-2: the server broke a rule; close with that code, reset the session and back off.
        'frame.invalid': [
          { guard: 'isLastAttempt', target: 'suspended', actions: [closeForViolation, 'recordFailedAttempt'], meta: { spec: 'RC-3' } },
          { target: 'reconnecting', actions: [closeForViolation, 'recordFailedAttempt'], meta: { spec: 'CC-2' } },
        ],
        // HS-10: the same deadline as in `connecting`, not a second one.
        'deadline.handshake': handshakeExpired,
      },
    },

    connected: {
      type: 'parallel',
      states: {
        heartbeat: {
          initial: 'waiting',
          states: {
            waiting: {
              after: {
                heartbeatInterval: { target: 'waiting', reenter: true, actions: 'sendHeartbeat', meta: { spec: 'HB-5' } },
              },
              on: {
                'frame.heartbeatAck': {
                  guard: 'isIntervalChange',
                  target: 'waiting',
                  reenter: true,
                  actions: assign({ heartbeatIntervalMs: ({ event }) => event.intervalMs }),
                  meta: { spec: 'HB-11' },
                },
              },
            },
          },
        },
        // HT-23 … HT-25: over HTTP, probe a WebSocket now and then and move back when one opens.
        probe: {
          initial: 'idle',
          states: {
            idle: { always: { guard: 'mayProbeWebSocket', target: 'waiting', meta: { spec: 'HT-23' } } },
            waiting: { after: { wsRetry: { target: 'probing', meta: { spec: 'HT-23' } } } },
            probing: {
              entry: { type: 'openProbe', params: ({ context }) => ({ target: context.target, token: context.token }) },
              exit: 'closeProbe',
              on: {
                'probe.opened': [
                  // DR-6: a drain slot is pending; the drain's own reconnect comes first.
                  { guard: 'isDrainPending', target: 'waiting', meta: { spec: 'DR-6' } },
                  {
                    target: '#client.connecting',
                    actions: [{ type: 'closeSocket', params: { code: codeOf('GOING_AWAY'), reason: SWITCH_REASON } }, 'switchToWebSocket'],
                    meta: { spec: 'HT-25' },
                  },
                ],
                'probe.failed': { target: 'waiting', actions: 'recordProbeFailure', meta: { spec: 'HT-24' } },
              },
              // A probe that neither opens nor fails (a proxy holding the upgrade) fails at the handshake timeout.
              after: { handshakeTimeout: { target: 'waiting', actions: 'recordProbeFailure', meta: { spec: 'HT-24' } } },
            },
          },
        },
        liveness: {
          initial: 'alive',
          states: {
            alive: {
              on: {
                // HB-8: any frame restarts the dead-peer clock.
                'frame.any': { target: 'alive', reenter: true, actions: assign({ deadPeerWaitMs: 0 }), meta: { spec: 'HB-8' } },
                'frame.heartbeatAck': { target: 'alive', reenter: true, actions: assign({ deadPeerWaitMs: 0 }), meta: { spec: 'HB-8' } },
              },
              after: {
                deadPeer: [
                  {
                    // HB-8 without a per-frame event: a frame came since the delay was armed, so wait
                    // out the rest of interval × (missed + 1) from that frame, then check again.
                    guard: 'isFrameSinceArmed',
                    target: 'alive',
                    reenter: true,
                    actions: assign({ deadPeerWaitMs: ({ context }) => Math.max(1, deadPeerMs(context) - (context.silenceMs?.() ?? 0)) }),
                    meta: { spec: 'HB-8' },
                  },
                  {
                    target: '#client.reconnecting',
                    actions: [
                      { type: 'closeSocket', params: { code: codeOf('HEARTBEAT_TIMEOUT'), reason: HEARTBEAT_REASON } },
                      'recordHeartbeatTimeout',
                    ],
                    meta: { spec: 'HB-4' },
                  },
                ],
              },
            },
          },
        },
      },
      on: {
        // DR-6: stay connected until the slot (heartbeats, watchdog, acks and sends go on, so the
        // server can flush, DR-4), then leave with GOING_AWAY and reconnect (to target).
        'frame.drainNotice': {
          actions: [
            assign(({ event, context }) => ({
              drainDelayMs: event.reconnectAfterMs,
              isDrainPending: true,
              target: event.target === '' ? context.target : event.target,
            })),
            'cancelDrainSlot',
            'armDrainSlot',
          ],
          meta: { spec: 'DR-6' },
        },
        'deadline.drainSlot': {
          target: 'connecting',
          actions: [
            assign({ isDrainPending: false }),
            { type: 'closeSocket', params: { code: codeOf('GOING_AWAY'), reason: 'DR-6: reconnecting at the drain slot' } },
          ],
          meta: { spec: 'DR-6' },
        },
        'socket.closed': [
          { guard: 'isAdviceNone', target: 'failed', actions: 'recordDroppedSession', meta: { spec: 'RC-6' } },
          { target: 'reconnecting', actions: 'recordDroppedSession', meta: { spec: 'CC-2' } },
        ],
        'frame.invalid': { target: 'reconnecting', actions: [closeForViolation, 'recordDroppedSession'], meta: { spec: 'CC-2' } },
      },
    },

    reconnecting: {
      initial: 'waiting',
      entry: 'cancelHandshakeDeadline',
      states: {
        waiting: {
          after: {
            reconnectDelay: [
              // DR-6: a connection lost before its drain slot is not retried before the slot.
              { guard: 'isDrainPending', target: 'slot', meta: { spec: 'DR-6' } },
              { target: '#client.connecting', meta: { spec: 'RC-2' } },
            ],
          },
          on: { 'deadline.drainSlot': { actions: assign({ isDrainPending: false }), meta: { spec: 'DR-6' } } },
        },
        slot: {
          on: { 'deadline.drainSlot': { target: '#client.connecting', actions: assign({ isDrainPending: false }), meta: { spec: 'DR-6' } } },
        },
      },
    },

    suspended: {
      // RC-3: slow retries go to the configured URL; no drain slot survives giving up.
      entry: ['cancelHandshakeDeadline', 'cancelDrainSlot', assign({ target: '', isDrainPending: false })],
      on: {
        'app.reconnect': { target: 'connecting', actions: 'resetAttempts', meta: { spec: 'RC-3' } },
        'network.online': { target: 'connecting', actions: 'resetAttempts', meta: { spec: 'RC-3' } },
      },
      // Keeps failures at the limit: a failed retry goes straight back to suspended.
      after: { suspendedRetry: { target: 'connecting', meta: { spec: 'RC-3' } } },
    },

    // RC-6: no reconnect on its own; only an explicit reconnect() leaves it.
    failed: {
      entry: ['cancelHandshakeDeadline', 'cancelDrainSlot', assign({ target: '', isDrainPending: false })],
      on: { 'app.reconnect': { target: 'connecting', actions: 'resetAttempts', meta: { spec: 'RC-6' } } },
    },

    closed: { type: 'final' },
  },
});

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  // A key loop, not Object.entries: it ran once per client and was 6 % of a client's connect CPU
  // (issue 16, bench/probes/client-heap.md).
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export type ClientConnectionMachine = typeof clientConnectionMachine;
/** The top-level state names (RC-1). */
export type ClientStateName = 'idle' | 'connecting' | 'handshaking' | 'connected' | 'reconnecting' | 'suspended' | 'failed' | 'closed';

/** The RC-1 state of a snapshot value. */
export function clientStateName(value: unknown): ClientStateName {
  const top = typeof value === 'string' ? value : Object.keys(value as object)[0];
  return top as ClientStateName;
}
