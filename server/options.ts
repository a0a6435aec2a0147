/**
 * Options of the reference server, with the defaults of spec §17. Every timing
 * carries its unit and can be shrunk to milliseconds by tests. The types they mention
 * (sessions, messages, channel state) live in types.ts.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { InspectionEvent, Observer } from 'xstate';
import { BackpressurePolicy } from '../gen/lifeline/v1/envelope_pb.js';
import { defaults } from '../spec/protocol/defaults.js';
import type { Clock } from './clock.js';
import type { ServerOptions as HttpServerOptions } from 'node:http';
import { checkIntervalFor, httpServerTimeouts } from './http-phase.js';
import type { MessageIdDedupeOptions } from './message-ids.js';
import type { LifelineMetrics } from './observability/metrics.js';
import type { Broker } from './stores/broker.js';
import type { SessionStore } from './stores/session-store.js';
import type { ChannelState, ClientMessage, LifelineSession, MaybePromise, PolicyName, Principal, SessionView } from './types.js';


export const policyByName: Record<PolicyName, BackpressurePolicy> = {
  'drop-oldest': BackpressurePolicy.DROP_OLDEST,
  'drop-newest': BackpressurePolicy.DROP_NEWEST,
  'coalesce-by-key': BackpressurePolicy.COALESCE_BY_KEY,
  disconnect: BackpressurePolicy.DISCONNECT,
};

export interface LifelineServerOptions {
  /** Share this HTTP server (and its port) with the application; else the server makes its own. */
  readonly httpServer?: HttpServer;
  /** The Lifeline path (HS-1). Default '/lifeline'. */
  readonly path?: string;
  /**
   * Allowed Origin values, compared exactly (HS-2, SEC-1): each a serialized origin such as
   * 'https://app.example.com' (scheme, host, port; no path, no trailing slash, lower case); an upgrade
   * with any other Origin gets 403. Absent = any Origin. Required with `authentication: 'cookie'`.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * What `authenticate` reads (SEC-1): 'cookie' when it trusts credentials a browser attaches on its
   * own (cookies, HTTP auth), which any site's page can make it send; such a server refuses to start
   * without `allowedOrigins`. 'token' (the default) for tickets, headers or Hello tokens, which a
   * cross-site page cannot send.
   */
  readonly authentication?: 'cookie' | 'token';
  /** Refuse upgrades that carry no Origin header (only browsers send one). Default false. */
  readonly requireOrigin?: boolean;
  /** Authenticate the upgrade (cookie, ticket, header); undefined → 401 (HS-4). Default: everyone is 'anonymous'. */
  readonly authenticate?: (req: IncomingMessage) => MaybePromise<Principal | undefined>;
  /** Authenticate Hello.token instead; undefined → close UNAUTHORIZED 4101 (HS-12). */
  readonly authenticateHello?: (token: string, upgradePrincipal: Principal) => MaybePromise<Principal | undefined>;

  readonly heartbeatIntervalMs?: number;
  /**
   * Ceiling of the adaptive heartbeat (HB-11), in ms; the interval in force stays a multiple of
   * heartbeatIntervalMs at or below it. Default: heartbeatIntervalMs, which turns adaptation off
   * (HB-10): an adapted interval is only safe when every proxy on the path has a longer idle
   * timeout (nginx and AWS ALB: 60 s), which the server cannot know. Set it (e.g. 120 000, the
   * spec's ceiling) only for paths without such proxies, or below their smallest idle timeout.
   */
  readonly heartbeatIntervalMaxMs?: number;
  /** On-time Heartbeats with a stable RTT before the interval grows by one base interval (HB-11). Default 8. */
  readonly heartbeatStableBeats?: number;
  /** RTT variation below this many ms is noise, never instability or a spike (HB-11). Default 10. */
  readonly heartbeatRttToleranceMs?: number;
  readonly heartbeatMissedMax?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxPayloadBytes?: number;
  readonly resumeTtlMs?: number;
  readonly replayWindowMessages?: number;
  readonly replayWindowBytes?: number;
  /**
   * How long a detached session keeps its sent-unacked messages for replay, in ms (RS-3 by time);
   * a resume after that needs a SNAPSHOT. The session itself lives for resumeTtlMs. Default: the
   * resume TTL (kept as long as the session).
   */
  readonly replayWindowMs?: number;
  /** How many client messages may be in flight to the server (Welcome.receive_window, BP-1). */
  readonly receiveWindow?: number;
  /**
   * With a shared store (MN-17): how long a node resuming a session that another node still holds
   * attached waits for that node to release it (store it detached once its application finished the
   * client messages it was given) before claiming it anyway, in ms. Default 1000. The wait is what
   * keeps a message in the application's hands at the move from reaching it twice; a node that died
   * never releases, and its sessions resume after this wait. At most half the handshake timeout:
   * the Hello waits meanwhile (HS-10).
   */
  readonly handoffWaitMs?: number;
  /**
   * With a shared store that keeps node leases (MN-18): how long a node resuming a session that a
   * live node (its lease renewed) still holds attached waits for that node's release, which it asks
   * for (MN-17), before claiming it anyway, in ms. Default, and ceiling, half the handshake timeout:
   * the Hello waits meanwhile (HS-10). A node whose lease is gone is not waited for at all.
   */
  readonly releaseWaitMs?: number;
  /** MN-18: this node's liveness lease in a shared store lasts this long, ms. Default 3000. */
  readonly nodeLeaseTtlMs?: number;
  /** MN-18: and is renewed this often, ms. Default 1000; at most a third of the TTL (two renewals may fail). */
  readonly nodeLeaseRenewMs?: number;
  readonly policy?: BackpressurePolicy | PolicyName;
  /** Use Hello.preferred_policy when the client states one (BP-2: the server decides). Default true. */
  readonly acceptPreferredPolicy?: boolean;
  readonly queueLimitMessages?: number;
  readonly queueLimitBytes?: number;
  readonly bufferedAmountHighWaterBytes?: number;
  readonly ackDelayMs?: number;
  /**
   * The ack delay clients are asked to use for this server's bodies (Welcome.client_ack_delay_ms,
   * SEQ-12). Default 250 ms (§17.1): at a client's own 50 ms, a subscriber of a 20 messages/s
   * stream answers about every second delivery with an Ack of its own, a read and a parse here each
   * (bench/probes/saturation.md: 250 ms cut the server's CPU per delivery by about a sixth). Half the
   * window still forces an Ack (SEQ-5), so no window stalls; replay buffers hold unacked bodies up to
   * this long. 0 = each client uses its own.
   */
  readonly clientAckDelayMs?: number;
  /**
   * Per-IP upgrade rate, a token bucket (HS-5); beyond it 429 with Retry-After. Default 20 per
   * second with a burst of 50 (§17). Infinity turns it off (tests and benches that open many
   * sockets from one address; a server behind a proxy that limits per client instead).
   */
  readonly upgradeRatePerSecond?: number;
  /** Per-IP upgrade burst (HS-5). Default 50, or one second of `upgradeRatePerSecond` when only that is set. */
  readonly upgradeBurst?: number;
  /** Per-session client Message rate (BP-14), closed RATE_LIMITED 4203 beyond it. Default 200 per second; Infinity = off. */
  readonly messageRatePerSecond?: number;
  /** Per-session Message burst (BP-14). Default 1500, or one second of `messageRatePerSecond` when only that is set. */
  readonly messageBurst?: number;
  /**
   * Per-session rate of client control bodies (Heartbeat, HeartbeatAck, Ack, StateDrift, Subscribe,
   * Unsubscribe; BP-16), closed POLICY_VIOLATION 1008 beyond it: a Heartbeat flood. Default 200 per
   * second; Infinity = off.
   */
  readonly controlRatePerSecond?: number;
  /** Per-session control-body burst (BP-16). Default 1000, or one second of `controlRatePerSecond` when only that is set. */
  readonly controlBurst?: number;
  /**
   * Most sessions, attached and detached (CC-8). A new session beyond it evicts the oldest detached
   * session (RS-11), else is closed TRY_AGAIN_LATER 1013. Default 10 000; Infinity = off.
   */
  readonly maxSessions?: number;
  /** Most detached sessions kept for resume; beyond it the oldest is evicted (RS-11). Default 5 000. */
  readonly maxDetachedSessions?: number;
  /**
   * Bytes all detached sessions may hold together (queued items + replay buffers); beyond it the
   * oldest detached sessions are evicted (RS-11). Default 256 MiB.
   */
  readonly detachedBudgetBytes?: number;
  /** Most channels one session may hold; more closes POLICY_VIOLATION 1008 (SEC-7, §12). Default 1024. */
  readonly maxChannelsPerSession?: number;
  /** May this principal use this channel? false closes FORBIDDEN 4001 (SEC-6). Default: every channel. */
  readonly authorizeChannel?: (channel: string, principal: Principal) => boolean;
  readonly drainDeadlineMs?: number;
  readonly drainSpreadMs?: number;
  /** Retry-After of a 503 (HS-6), in seconds. */
  readonly retryAfterSeconds?: number;
  /**
   * The sweep visits 1/slices of the sockets every interval/slices ms (issue 7: at 50,000 sessions one
   * tick over all of them blocks the event loop ≈ 21 ms, ten slices ≈ 2 ms). Default: one slice per
   * second of the heartbeat interval, 1 to 10 (25 s → 10 slices; intervals under 2 s → 1).
   */
  readonly sweepSlices?: number;

  /** A channel's current state, for Snapshots (CH-1, RS-4, SD-5, BP-9); undefined = no state channel. */
  readonly snapshot?: (channel: string, session: SessionView) => ChannelState | undefined;
  /**
   * Deduplicate client Messages by message_id across sessions of a principal (SEQ-8): a message
   * resent in a NEW session reaches onMessage once. On by default, bounded to 10 000 ids kept for
   * resume TTL + reconnect cap (§17); false turns it off (an application that dedupes itself).
   * With a store shared by nodes the ids live in that store, so a message resent to another node
   * is recognised too (MN-5); its answer may come later, and the message (with those behind it,
   * SEQ-10) waits for it.
   */
  readonly dedupeMessageIds?: boolean | MessageIdDedupeOptions;
  /** Receives each client Message once, in order; acked only after it returns or resolves (SEQ-10). */
  readonly onMessage?: (message: ClientMessage, session: SessionView) => MaybePromise<void>;
  /** Requests the server does not answer itself, when it owns the HTTP server; default 404. */
  readonly onRequest?: (req: IncomingMessage, res: ServerResponse) => void;

  /**
   * Where session records live (default: MemorySessionStore, this process only). It also keeps the
   * ended sessions' reasons (RS-6, RS-11) and, unless `dedupeMessageIds` is false, the processed
   * message ids (SEQ-8; a given store uses its own bounds). A store shared by nodes (`isShared`)
   * holds each session's frames and inbound cursor before its client sees them: a frame goes to
   * the socket, and an Ack to the client, once committed (one commit per changed session per tick, MN-1).
   */
  readonly sessionStore?: SessionStore;
  /** Where publish() goes: every node's subscribers (default: MemoryBroker, this node's only). */
  readonly broker?: Broker;
  /** This node's name in a shared store: the owner of its sessions, whom claim notices reach (RS-7 across nodes). Default random. */
  readonly nodeId?: string;
  /**
   * Where the server reads time and sets every timer (the one Clock of \`lifeline/protocol\`): tests
   * pass a simulated clock. Default: performance.now() and the platform's timers, of which the
   * server's housekeeping ones (liveness sweep, upgrade deadlines) never keep the process alive.
   */
  readonly clock?: Clock;
  /** Uniform in [0, 1), for drain slots (DR-3). */
  readonly random?: () => number;
  /** Structured logs (pino); `createLifelineLogger` keeps credentials out (SEC-2). Default: silent. */
  readonly logger?: Logger;
  /** Prometheus metrics (`createLifelineMetrics()`); when set, `/metrics` serves them. Default: none. */
  readonly metrics?: LifelineMetrics;
  /** XState inspection of every session actor (`createServerInspector(...).inspect`). Strictly opt-in. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Tracer for session spans (SEC-3); default the global provider's `lifeline` tracer (a no-op without an SDK). */
  readonly tracer?: Tracer;

  // ---- HTTP phase (issue 13, spec §5.6) ----
  /**
   * A connection's request head must be complete within this many ms (HS-15; Node's `headersTimeout`,
   * checked every quarter of it, at most every second). Default: the handshake timeout (5 s).
   * Applied to the HTTP server the library creates; a shared `httpServer` keeps its own timeouts:
   * create it with `lifelineHttpServerOptions(...)` (the server logs a warning when they are looser).
   */
  readonly headersTimeoutMs?: number;
  /** The whole HTTP request must be complete within this many ms (HS-15). Default 2 × headersTimeoutMs. */
  readonly requestTimeoutMs?: number;
  /**
   * Connections that are not yet WebSockets, per client address (HS-16): one over it is closed at once.
   * Default 64. Behind a proxy every connection comes from the proxy's address: raise it there. `Infinity` turns it off.
   */
  readonly maxPendingUpgradesPerIp?: number;
  /** Connections that are not yet WebSockets, in total (HS-16). Default 1024. */
  readonly maxPendingUpgrades?: number;

  // ---- HTTP carrier (issue 15, spec §22) ----
  /**
   * Serve the HTTP carrier (spec §22) on the Lifeline path beside the WebSocket: POST requests with a
   * `Lifeline-Http` header, for clients whose WebSocket is blocked. Same admission as an upgrade
   * (HT-3). Default true; false answers them as before (426, HS-1).
   */
  readonly httpTransport?: boolean;
  /** A `stream` receive response ends after carrying this many bytes (HT-8). Default 256 KiB. */
  readonly httpStreamMaxBytes?: number;
  /** A `stream` receive response ends after this many ms (HT-8). Default 20 000. */
  readonly httpStreamMaxMs?: number;
  /** A `poll` receive response with nothing to carry ends after this many ms (HT-8). Default 20 000. */
  readonly httpPollHoldMs?: number;
  /** An HTTP connection with no receive open for this many ms is closed 1006 (HT-12). Default 10 000. */
  readonly httpReceiveGapMs?: number;
  /** Largest send body in bytes (HT-13); 413 beyond it. Default 4 MiB; at least maxPayloadBytes + 5. */
  readonly httpMaxSendBytes?: number;
}

export interface ResolvedOptions {
  readonly path: string;
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly requireOrigin: boolean;
  readonly heartbeatIntervalMs: number;
  /** The adaptive ceiling, a multiple of the base (HB-11); equal to the base when adaptation is off. */
  readonly heartbeatIntervalMaxMs: number;
  readonly heartbeatIntervalStepsMax: number;
  readonly heartbeatStableBeats: number;
  readonly heartbeatRttToleranceMs: number;
  readonly heartbeatMissedMax: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly resumeTtlMs: number;
  readonly replayWindowMessages: number;
  readonly replayWindowBytes: number;
  readonly replayWindowMs: number;
  readonly receiveWindow: number;
  readonly handoffWaitMs: number;
  readonly releaseWaitMs: number;
  readonly nodeLeaseTtlMs: number;
  readonly nodeLeaseRenewMs: number;
  readonly policy: BackpressurePolicy;
  readonly acceptPreferredPolicy: boolean;
  readonly queueLimitMessages: number;
  readonly queueLimitBytes: number;
  readonly bufferedAmountHighWaterBytes: number;
  readonly ackDelayMs: number;
  readonly clientAckDelayMs: number;
  /** undefined = no limit (the option was Infinity). */
  readonly upgradeRatePerSecond: number | undefined;
  readonly upgradeBurst: number;
  readonly messageRatePerSecond: number | undefined;
  readonly messageBurst: number;
  readonly controlRatePerSecond: number | undefined;
  readonly controlBurst: number;
  /** Infinity = no limit. */
  readonly maxSessions: number;
  readonly maxDetachedSessions: number;
  readonly detachedBudgetBytes: number;
  readonly maxChannelsPerSession: number;
  readonly drainDeadlineMs: number;
  readonly drainSpreadMs: number;
  readonly retryAfterSeconds: number;
  readonly sweepSlices: number;
  // HTTP phase (HS-15, HS-16)
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly httpCheckIntervalMs: number;
  readonly maxPendingUpgradesPerIp: number;
  readonly maxPendingUpgrades: number;
  // HTTP carrier (spec §22)
  readonly httpTransport: boolean;
  readonly httpStreamMaxBytes: number;
  readonly httpStreamMaxMs: number;
  readonly httpPollHoldMs: number;
  readonly httpReceiveGapMs: number;
  readonly httpMaxSendBytes: number;
}

/** A positive limit; Infinity turns it off. */
function limit(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (Number.isNaN(x) || x <= 0) throw new RangeError(`${name} must be a positive number or Infinity, got ${v}`);
  return x;
}

/**
 * A token bucket's rate and burst (HS-5, BP-14, BP-16): the defaults when neither is set; one
 * second of the rate as the burst when only the rate is; undefined rate = no bucket (Infinity).
 */
function bucket(name: string, rate: number | undefined, burst: number | undefined, defaultRate: number, defaultBurst: number): { rate: number | undefined; burst: number } {
  const r = limit(`${name}RatePerSecond`, rate, defaultRate);
  const b = limit(`${name}Burst`, burst, rate === undefined ? defaultBurst : Math.max(1, Math.ceil(r)));
  return { rate: Number.isFinite(r) && Number.isFinite(b) ? r : undefined, burst: Number.isFinite(b) ? Math.max(1, b) : 1 };
}

/** A cap that `Infinity` turns off, like every limit of issue 13; else a positive number. */
function positiveOrOff(name: string, v: number | undefined, fallback: number): number {
  return v === Number.POSITIVE_INFINITY ? v : positive(name, v, fallback);
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return x;
}

export function resolveOptions(o: LifelineServerOptions): ResolvedOptions {
  const policy = typeof o.policy === 'string' ? policyByName[o.policy] : o.policy;
  if (typeof o.policy === 'string' && policy === undefined) throw new RangeError(`unknown policy ${o.policy}`);
  const path = o.path ?? '/lifeline';
  if (!path.startsWith('/')) throw new RangeError(`path must start with '/': ${path}`);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', o.heartbeatIntervalMs, defaults.heartbeatIntervalMs);
  // HB-10: off by default (max = base); see LifelineServerOptions.heartbeatIntervalMaxMs.
  const maxMs = positive('heartbeatIntervalMaxMs', o.heartbeatIntervalMaxMs, heartbeatIntervalMs);
  if (maxMs < heartbeatIntervalMs) throw new RangeError(`heartbeatIntervalMaxMs (${maxMs}) must be at least heartbeatIntervalMs (${heartbeatIntervalMs})`);
  // Multiples of the base, so the one sweep serves every session (spec §8.8).
  const heartbeatIntervalStepsMax = Math.max(1, Math.floor(maxMs / heartbeatIntervalMs));
  // On by default (issue 13): HS-5, BP-14, BP-16 with the values of §17.
  const upgrade = bucket('upgrade', o.upgradeRatePerSecond, o.upgradeBurst, defaults.upgradeRatePerSecond, defaults.upgradeBurst);
  const message = bucket('message', o.messageRatePerSecond, o.messageBurst, defaults.messageRatePerSecond, defaults.messageBurst);
  const control = bucket('control', o.controlRatePerSecond, o.controlBurst, defaults.controlRatePerSecond, defaults.controlBurst);
  return {
    path,
    allowedOrigins: o.allowedOrigins ? originAllowlist(o.allowedOrigins) : cookieNeedsAllowlist(o),
    requireOrigin: o.requireOrigin ?? false,
    heartbeatIntervalMs,
    heartbeatIntervalMaxMs: heartbeatIntervalStepsMax * heartbeatIntervalMs,
    heartbeatIntervalStepsMax,
    heartbeatStableBeats: Math.max(1, Math.floor(o.heartbeatStableBeats ?? 8)),
    heartbeatRttToleranceMs: Math.max(0, o.heartbeatRttToleranceMs ?? 10),
    heartbeatMissedMax: Math.max(0, Math.floor(o.heartbeatMissedMax ?? defaults.heartbeatMissedMax)),
    handshakeTimeoutMs: positive('handshakeTimeoutMs', o.handshakeTimeoutMs, defaults.handshakeTimeoutMs),
    maxPayloadBytes: positive('maxPayloadBytes', o.maxPayloadBytes, defaults.maxPayloadBytes),
    resumeTtlMs: positive('resumeTtlMs', o.resumeTtlMs, defaults.resumeTtlMs),
    replayWindowMessages: positive('replayWindowMessages', o.replayWindowMessages, defaults.replayWindowMessages),
    replayWindowBytes: positive('replayWindowBytes', o.replayWindowBytes, defaults.replayWindowBytes),
    replayWindowMs: positive('replayWindowMs', o.replayWindowMs, o.resumeTtlMs ?? defaults.resumeTtlMs),
    receiveWindow: positive('receiveWindow', o.receiveWindow, defaults.receiveWindow),
    handoffWaitMs: Math.max(0, o.handoffWaitMs ?? 1000),
    ...leases(o),
    policy: policy === undefined || policy === BackpressurePolicy.UNSPECIFIED ? BackpressurePolicy.DROP_OLDEST : policy,
    acceptPreferredPolicy: o.acceptPreferredPolicy ?? true,
    queueLimitMessages: positive('queueLimitMessages', o.queueLimitMessages, defaults.queueLimitMessages),
    queueLimitBytes: positive('queueLimitBytes', o.queueLimitBytes, defaults.queueLimitBytes),
    bufferedAmountHighWaterBytes: positive('bufferedAmountHighWaterBytes', o.bufferedAmountHighWaterBytes, defaults.bufferedAmountHighWaterBytes),
    ackDelayMs: Math.max(0, o.ackDelayMs ?? defaults.ackDelayMs),
    clientAckDelayMs: Math.max(0, Math.floor(o.clientAckDelayMs ?? defaults.clientAckDelayMs)),
    upgradeRatePerSecond: upgrade.rate,
    upgradeBurst: upgrade.burst,
    messageRatePerSecond: message.rate,
    messageBurst: message.burst,
    controlRatePerSecond: control.rate,
    controlBurst: control.burst,
    maxSessions: limit('maxSessions', o.maxSessions, defaults.maxSessions),
    maxDetachedSessions: limit('maxDetachedSessions', o.maxDetachedSessions, defaults.maxDetachedSessions),
    detachedBudgetBytes: limit('detachedBudgetBytes', o.detachedBudgetBytes, defaults.detachedBudgetBytes),
    maxChannelsPerSession: positive('maxChannelsPerSession', o.maxChannelsPerSession, defaults.maxChannelsPerFrame),
    drainDeadlineMs: positive('drainDeadlineMs', o.drainDeadlineMs, defaults.drainDeadlineMs),
    drainSpreadMs: Math.max(0, o.drainSpreadMs ?? defaults.drainSpreadMs),
    retryAfterSeconds: positive('retryAfterSeconds', o.retryAfterSeconds, 1),
    sweepSlices: Math.max(1, Math.floor(o.sweepSlices ?? defaultSweepSlices(o.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs))),
    ...httpPhase(o),
    ...httpCarrier(o),
  };
}

/** HT-6, HT-8, HT-12: the carrier's bounds, on by default; a send body always fits one largest frame. */
function httpCarrier(o: LifelineServerOptions): Pick<ResolvedOptions, 'httpTransport' | 'httpStreamMaxBytes' | 'httpStreamMaxMs' | 'httpPollHoldMs' | 'httpReceiveGapMs' | 'httpMaxSendBytes'> {
  const maxPayloadBytes = o.maxPayloadBytes ?? defaults.maxPayloadBytes;
  const httpMaxSendBytes = positive('httpMaxSendBytes', o.httpMaxSendBytes, Math.max(defaults.httpMaxSendBytes, maxPayloadBytes + 5));
  if (httpMaxSendBytes < maxPayloadBytes + 5) throw new RangeError(`httpMaxSendBytes (${httpMaxSendBytes}) must hold one record of maxPayloadBytes (${maxPayloadBytes + 5})`);
  return {
    httpTransport: o.httpTransport ?? true,
    httpStreamMaxBytes: positive('httpStreamMaxBytes', o.httpStreamMaxBytes, defaults.httpStreamMaxBytes),
    httpStreamMaxMs: positive('httpStreamMaxMs', o.httpStreamMaxMs, defaults.httpStreamMaxMs),
    httpPollHoldMs: positive('httpPollHoldMs', o.httpPollHoldMs, defaults.httpPollHoldMs),
    httpReceiveGapMs: positive('httpReceiveGapMs', o.httpReceiveGapMs, defaults.httpReceiveGapMs),
    httpMaxSendBytes,
  };
}

/**
 * Options for `http.createServer` that enforce HS-15 with these Lifeline options. The server uses
 * them for the HTTP server it creates; an application that shares its own server creates it with
 * them (`createHttpServer(lifelineHttpServerOptions(opts))`): Node reads the check interval only
 * at creation.
 */
export function lifelineHttpServerOptions(o: LifelineServerOptions = {}): HttpServerOptions {
  return httpServerTimeouts(httpPhase(o));
}

/**
 * SEC-1: an allowlist of serialized origins, matched exactly. An entry a browser can never send
 * (a path, a trailing slash, upper case, 'null') would silently refuse everyone or, for 'null',
 * admit every sandboxed page: refused here with what to write instead.
 */
export function originAllowlist(origins: readonly string[]): ReadonlySet<string> {
  for (const o of origins) {
    if (o === 'null') throw new RangeError(`allowedOrigins: 'null' is the opaque origin every sandboxed page and file shares; it cannot be allowed (SEC-1)`);
    let serialized: string;
    try {
      serialized = new URL(o).origin;
    } catch {
      throw new RangeError(`allowedOrigins: '${o}' is not an origin; write scheme://host[:port], e.g. 'https://app.example.com'`);
    }
    if (serialized === 'null' || !/^https?:$/.test(new URL(o).protocol)) throw new RangeError(`allowedOrigins: '${o}' is not an http(s) origin`);
    if (serialized !== o) throw new RangeError(`allowedOrigins: '${o}' is not how a browser writes an origin; did you mean '${serialized}'? (matching is exact, SEC-9)`);
  }
  return new Set(origins); // SEC-9: Set.has is an exact, case-sensitive comparison
}

function cookieNeedsAllowlist(o: LifelineServerOptions): undefined {
  if (o.authentication === 'cookie') {
    // SEC-10: refuse to start rather than serve cookie-authenticated browsers to every site.
    throw new Error(
      "authentication: 'cookie' needs allowedOrigins: browsers send cookies with WebSocket upgrades from any site (there is no CORS for them), " +
        "so without an Origin allowlist any page can open a session as its visitor (SEC-1). Set allowedOrigins: ['https://your.app.example'].",
    );
  }
  return undefined;
}

/** MN-17, MN-18: the release wait within half the handshake timeout (HS-10); renewals at most a third of the lease. */
function leases(o: LifelineServerOptions): Pick<ResolvedOptions, 'releaseWaitMs' | 'nodeLeaseTtlMs' | 'nodeLeaseRenewMs'> {
  const half = positive('handshakeTimeoutMs', o.handshakeTimeoutMs, defaults.handshakeTimeoutMs) / 2;
  const nodeLeaseTtlMs = positive('nodeLeaseTtlMs', o.nodeLeaseTtlMs, 3000);
  return {
    releaseWaitMs: Math.min(half, Math.max(0, o.releaseWaitMs ?? half)),
    nodeLeaseTtlMs,
    nodeLeaseRenewMs: Math.min(nodeLeaseTtlMs / 3, positive('nodeLeaseRenewMs', o.nodeLeaseRenewMs, 1000)),
  };
}

/** HS-15, HS-16: the header timeout follows the handshake timeout unless set; Node wants headers ≤ request. */
function httpPhase(o: LifelineServerOptions): Pick<ResolvedOptions, 'headersTimeoutMs' | 'requestTimeoutMs' | 'httpCheckIntervalMs' | 'maxPendingUpgradesPerIp' | 'maxPendingUpgrades'> {
  const headersTimeoutMs = positive('headersTimeoutMs', o.headersTimeoutMs, o.handshakeTimeoutMs ?? defaults.headersTimeoutMs);
  const requestTimeoutMs = positive('requestTimeoutMs', o.requestTimeoutMs, o.headersTimeoutMs === undefined && o.handshakeTimeoutMs === undefined ? defaults.requestTimeoutMs : 2 * headersTimeoutMs);
  if (requestTimeoutMs < headersTimeoutMs) throw new RangeError(`requestTimeoutMs (${requestTimeoutMs}) must be at least headersTimeoutMs (${headersTimeoutMs})`);
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    httpCheckIntervalMs: checkIntervalFor(headersTimeoutMs),
    maxPendingUpgradesPerIp: Math.floor(positiveOrOff('maxPendingUpgradesPerIp', o.maxPendingUpgradesPerIp, defaults.maxPendingUpgradesPerIp)),
    maxPendingUpgrades: Math.floor(positiveOrOff('maxPendingUpgrades', o.maxPendingUpgrades, defaults.maxPendingUpgrades)),
  };
}

/** One slice per second of interval, 1 to 10: short blocks at scale, one timer per interval when it is short. */
function defaultSweepSlices(heartbeatIntervalMs: number): number {
  return Math.min(10, Math.max(1, Math.floor(heartbeatIntervalMs / 1000)));
}
