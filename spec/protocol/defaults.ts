/**
 * Defaults and limits of the protocol (spec §17). Every timing a machine uses is
 * named here and can be shrunk to milliseconds by tests (options carry units).
 */
export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol token (HS-3). */
export const SUBPROTOCOL = 'lifeline.v1';

/**
 * The capability (Hello.capabilities, Welcome.capabilities) for the Subscribed body: a client that
 * announces it accepts Subscribed (WIRE-10); a server that states it answers each Subscribe (CH-4).
 */
export const SUBSCRIBED_CAPABILITY = 'subscribed';

export const defaults = {
  /** Heartbeat interval: below the 60 s idle timeout of nginx and AWS ALB (HB-10). */
  heartbeatIntervalMs: 25_000,
  /** Unanswered heartbeats tolerated; the peer is dead after interval × (missed + 1) (HB-3). */
  heartbeatMissedMax: 2,
  /** Adaptive heartbeat ceiling (HB-11). */
  heartbeatIntervalMaxMs: 120_000,
  /** No Hello (server) or Welcome (client) within this: HANDSHAKE_TIMEOUT (HS-10). */
  handshakeTimeoutMs: 5_000,
  /** Largest Envelope accepted, enforced before buffering; ws's own 100 MiB is unsafe (WIRE-4). */
  maxPayloadBytes: 1024 * 1024,
  /** Detached sessions are kept this long for resume (RS-1). */
  resumeTtlMs: 120_000,
  /** Sent-unacked messages kept for replay (RS-3). */
  replayWindowMessages: 1024,
  /** Bytes of payload kept for replay (RS-3). */
  replayWindowBytes: 4 * 1024 * 1024,
  /** In-flight sequenced messages a receiver accepts when it states no window (BP-5). */
  receiveWindow: 256,
  /** Items queued per session before the policy acts (BP-3). */
  queueLimitMessages: 1024,
  /** Bytes queued per session before the policy acts (BP-3). */
  queueLimitBytes: 1024 * 1024,
  /** No writes while the socket buffers more than this (BP-4, SD-7). */
  bufferedAmountHighWaterBytes: 1024 * 1024,
  /** A receiver acks at the latest this long after processing a message (SEQ-5). */
  ackDelayMs: 50,
  /**
   * Server: the ack delay it states in Welcome.client_ack_delay_ms (SEQ-12). A fan-out's subscribers
   * otherwise answer about every delivery with an Ack of its own; the half-window rule (SEQ-5) keeps
   * the window from stalling, and replay buffers hold up to this long.
   */
  clientAckDelayMs: 250,
  /** Drain: deadline for the whole drain (DR-4); Kubernetes' default grace is 30 s. */
  drainDeadlineMs: 25_000,
  /** Drain: reconnect_after_ms values are spread over [0, this) (DR-3). */
  drainSpreadMs: 20_000,
  /** Server: per-IP upgrades per second and burst (HS-5); the burst lets an office behind one NAT reconnect at once. */
  upgradeRatePerSecond: 20,
  upgradeBurst: 50,
  /** Server: client Messages per second and burst per session (BP-14); the burst covers a client's whole backlog (window + queue). */
  messageRatePerSecond: 200,
  messageBurst: 1500,
  /** Server: client control bodies per second and burst per session (BP-16); a heartbeat flood is closed 1008. */
  controlRatePerSecond: 200,
  controlBurst: 1000,
  /** Server: sessions per process, attached and detached (CC-8); detached ones are evicted first (RS-11). */
  maxSessions: 10_000,
  /** Server: detached sessions kept, and the bytes they may hold together (queues + replay buffers), before the oldest is evicted (RS-11). */
  maxDetachedSessions: 5_000,
  detachedBudgetBytes: 256 * 1024 * 1024,
  /** Server: client message ids remembered for dedupe across sessions (SEQ-8), for resume TTL + reconnect cap. */
  dedupeMaxIds: 10_000,
  /** Client backoff: base, cap and attempts before `suspended` (RC-2, RC-3). */
  reconnectBaseMs: 1_000,
  reconnectCapMs: 30_000,
  reconnectMaxAttempts: 8,
  /** Client: retry interval while suspended (RC-3). */
  suspendedRetryMs: 60_000,
  /** Client: consecutive attempts whose WebSocket never opened before the next one goes over HTTP (HT-21). */
  httpFallbackAfter: 2,
  /** Client over HTTP: first wait before probing a WebSocket again, doubled per failed probe up to the cap (HT-23). */
  wsRetryMs: 60_000,
  wsRetryCapMs: 600_000,
  /** Client over HTTP: a `stream` receive with no KEEPALIVE within this is behind a buffering proxy: poll (HT-27). */
  httpBufferingDetectMs: 1_500,
  /** Client outbound queue bound while disconnected or window-limited (BP-13). */
  clientQueueLimitMessages: 1024,
  /** Limits checked by the codec (WIRE-5). */
  maxSessionIdBytes: 128,
  maxChannelBytes: 256,
  maxKeyBytes: 256,
  maxMessageIdBytes: 128,
  maxTokenBytes: 8192,
  maxChannelsPerFrame: 1024,
  maxCapabilities: 64,
  // HTTP phase (issue 13, spec §5.6): what a connection may hold before it is a WebSocket.
  /** Request head complete within this, from the connection's start (HS-15); the handshake timeout's value. */
  headersTimeoutMs: 5_000,
  /** Whole HTTP request complete within this (HS-15). */
  requestTimeoutMs: 10_000,
  /** Connections not yet WebSockets per client address (HS-16). */
  maxPendingUpgradesPerIp: 64,
  /** Connections not yet WebSockets in total (HS-16). */
  maxPendingUpgrades: 1024,
  // HTTP carrier, server side (spec §22, issue 15).
  /** A `stream` receive response ends after carrying this many bytes; the client re-requests with its Ack (HT-8). */
  httpStreamMaxBytes: 256 * 1024,
  /** A `stream` receive response ends after this long (HT-8): below common proxy read timeouts (nginx: 60 s). */
  httpStreamMaxMs: 20_000,
  /** A `poll` receive response with nothing to carry ends empty after this long (HT-8). */
  httpPollHoldMs: 20_000,
  /** An HTTP connection with no receive open this long is a dead transport: closed 1006 on the server (HT-12). */
  httpReceiveGapMs: 10_000,
  /** Largest send body (HT-13); 413 beyond it. */
  httpMaxSendBytes: 4 * 1024 * 1024,
} as const;

export type Defaults = typeof defaults;
