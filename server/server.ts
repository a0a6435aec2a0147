/**
 * The Lifeline reference server on `ws` (issue 3): admission at the HTTP upgrade,
 * one session machine per connection/session (server/session-actor.ts), the shared liveness sweep,
 * channels and publishing, drain, revoke and health.
 *
 * Thin by design (CONVENTIONS §1): socket events become machine events carrying
 * observed facts (server/frames.ts); machine actions become calls on the session
 * data (server/session.ts) through server/machine-host.ts.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { isSpanContextValid } from '@opentelemetry/api';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { resumeReasonOf } from './session-lifecycle.js';
import { serverSessionMachine, serverStateName, type ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { fixedIntervalTick } from '../spec/protocol/session-rules.js';
import { clientAddress } from './admission.js';
import { serverTimers, systemClock, type Clock } from './clock.js';
import { Connection, type PeerEvents } from './connection.js';
import { TypedEmitter } from './emitter.js';
import { onFrame } from './frames.js';
import { handleHealth } from './http.js';
import { listenOn, type ListenOptions } from './listen.js';
import { httpServerTimeouts, PendingUpgrades } from './http-phase.js';
import { sessionActions, type HostRegistry } from './machine-host.js';
import type { Host } from './host.js';
import { assertMessageFits, assertPatchFits } from './frame-limit.js';
import { inspectedSession, SessionRuntime, type ActionTable, type SessionActor, type SessionInput } from './session-actor.js';
import {
  originAllowlist,
  resolveOptions,
  type LifelineServerOptions,
  type ResolvedOptions,
} from './options.js';
import type { LifelineSession, PublishMessage, PublishPatch } from './types.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { sanitizeUrl, serializeRequest } from './observability/logger.js';
import { startSessionSpan } from './observability/tracing.js';
import { LiveSession, type SessionEnv } from './session.js';
import { MemoryBroker, type Broker, type Publication } from './stores/broker.js';
import { LocalChannels } from './stores/local-channels.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import { ReplayWriter } from './stores/replay-writer.js';
import type { SessionStore } from './stores/session-store.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { LivenessSweep } from './sweep.js';
import type { DrainOptions, ServerEvents, ServerStats } from './types.js';
import { KeyedBuckets } from './token-bucket.js';
import { gaugeReading } from './telemetry.js';
import { planDrain, sendDrainNotices } from './drain.js';
import { messageItem, patchItem, type OutItem } from './outbound.js';
import { dedupeBounds } from './message-ids.js';
import type { WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { PeerInfo, PeerSink, PeerTransport } from './transport.js';
import { WsTransport } from './transports/ws.js';
import { DetachedSessions } from './detached-sessions.js';


export class LifelineServer extends TypedEmitter<ServerEvents> implements HostRegistry {
  readonly httpServer: HttpServer;
  readonly opts: ResolvedOptions;
  readonly log: Logger;
  readonly clock: Clock;
  /** Prometheus metrics when the application asked for them (issue 8). */
  readonly metrics: LifelineMetrics | undefined;
  private readonly isOwnServer: boolean;
  /** The WebSocket transport (server/transports/ws.ts); the core sees its peers as PeerTransports. */
  private readonly wsTransport: WsTransport;
  /** What peers tell the core, for every connection of every transport (server/transport.ts). */
  private readonly peerEvents: PeerEvents = {
    frame: (conn, bytes, isBinary) => onFrame(this, conn, bytes, isBinary),
    pong: (conn) => this.onPong(conn),
    closed: (conn, code) => this.onSocketClose(conn, code),
    // Through the method at call time: a conformance mutant replaces onSocketError (CC-11).
    protocolError: (conn, closeName, reason) => this.onSocketError(conn, closeName, reason),
  };
  readonly sweep: LivenessSweep<Connection>;
  /** Where session records live (default in memory); this node's live sessions are in `live`. */
  readonly store: SessionStore;
  /** Publications go through it to every node's subscribers (default: this node only). */
  readonly broker: Broker;
  /** This node's channel → local sessions index. */
  readonly channels: LocalChannels<LiveSession>;
  /** This node's live sessions by id, attached or detached (RS-1): node-local, never in the store. */
  readonly live = new Map<string, LiveSession>();
  /** This node's name in store claims (session-store.ts). */
  readonly nodeId: string = randomBytes(8).toString('base64url');
  readonly lifecycle: SessionLifecycle;
  private readonly replayWriter: ReplayWriter | undefined;
  private readonly hosts = new WeakMap<SessionActor, Host>();
  private readonly owners = new WeakMap<Connection, SessionActor>();
  private readonly conns = new Set<Connection>();
  /** Detached sessions within their global limits (RS-11). */
  readonly detachedSessions: DetachedSessions<LiveSession>;
  private isDetachedCheckScheduled = false;
  private readonly upgradeBuckets: KeyedBuckets | undefined;
  /** Connections that are not yet WebSockets (HS-16). */
  private readonly pending: PendingUpgrades;
  /** The Origin allowlist in force (HS-2); allowOrigins() replaces it once a listen port is known. */
  private allowedOrigins: ReadonlySet<string> | undefined;
  /** The machine's actions, for the runner and for inspected actors alike. */
  private readonly actions: ActionTable<Host>;
  /** Steps the session machines when no inspector is attached (no XState actor per session). */
  private readonly runtime: SessionRuntime<Host>;
  readonly env: SessionEnv;
  private isReady = true;
  private isDraining = false;
  private isClosed = false;
  private drainPromise: Promise<void> | undefined;
  private drainNotices = 0;
  private onConnsEmpty: (() => void) | undefined;
  private readonly random: () => number;
  readonly authenticateHello: LifelineServerOptions['authenticateHello'];
  readonly authorizeChannel: LifelineServerOptions['authorizeChannel'];
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head);
  private readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(private readonly options: LifelineServerOptions = {}) {
    super();
    this.opts = resolveOptions(options);
    this.allowedOrigins = this.opts.allowedOrigins;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.random = options.random ?? Math.random;
    this.authenticateHello = options.authenticateHello;
    this.authorizeChannel = options.authorizeChannel;
    // Record times are epoch ms (another node reads them); a test's clock stands for the wall too.
    const wallNow = options.clock ? () => this.clock.now() : () => Date.now();
    const dedupe = dedupeBounds(options.dedupeMessageIds, this.opts.resumeTtlMs); // SEQ-8
    this.store = options.sessionStore ?? new MemorySessionStore({ clock: { now: wallNow }, ...(dedupe && { dedupeMaxIds: dedupe.maxIds, dedupeTtlMs: dedupe.windowMs }) });
    this.broker = options.broker ?? new MemoryBroker();
    this.broker.bind((p) => this.deliverLocally(p));
    this.channels = new LocalChannels<LiveSession>(
      (ch) => this.broker.join(ch),
      (ch) => this.broker.leave(ch),
    );
    // A shared store gets replay appends and trims behind, once per tick; the memory store needs none.
    this.replayWriter = this.store.isShared
      ? new ReplayWriter(this.store, {
          onStale: (id, fence) => this.lifecycle.lostClaim(id, fence), // another node may own it now
          onError: (id, err) => this.log.error({ err, sessionId: id.slice(0, 8) }, 'replay write-behind failed'),
        })
      : undefined;
    this.detachedSessions = new DetachedSessions<LiveSession>(
      { maxCount: this.opts.maxDetachedSessions, budgetBytes: this.opts.detachedBudgetBytes },
      (s) => {
        try {
          s.actor.send({ type: 'app.evict' }); // RS-11
        } catch (err) {
          this.failSession(s.actor, err);
        }
      },
    );
    this.upgradeBuckets =
      this.opts.upgradeRatePerSecond === undefined
        ? undefined
        : new KeyedBuckets({ ratePerSecond: this.opts.upgradeRatePerSecond, burst: this.opts.upgradeBurst });
    this.wsTransport = new WsTransport(
      {
        maxPayloadBytes: this.opts.maxPayloadBytes, // WIRE-4
        closeTimeoutMs: this.opts.handshakeTimeoutMs, // CC-10: the recommended close timeout
        timers: serverTimers(this.clock),
      },
      (peer, info) => this.accept(peer, info),
    );
    this.env = {
      opts: this.opts,
      clock: this.clock,
      channels: this.channels,
      snapshot: options.snapshot,
      onMessage: options.onMessage,
      emitMessage: (s, m) => this.emit('message', this.listenerError, s.handle, m),
      fail: (s, err) => this.failSession(s.actor, err),
      metrics: this.metrics,
      onDrainNotice: () => this.drainNotices++,
      dedupe: dedupe ? this.store : undefined,
      replayWriter: this.replayWriter,
    };
    this.actions = sessionActions(this);
    this.runtime = new SessionRuntime(serverSessionMachine, this.actions, (actor, err) => this.onActorCrash(actor, err), serverTimers(this.clock));
    this.sweep = new LivenessSweep<Connection>({
      intervalMs: this.opts.heartbeatIntervalMs,
      slices: this.opts.sweepSlices,
      clock: this.clock,
      visit: (conn) => this.onSweepVisit(conn),
      onCycle: () => {
        this.upgradeBuckets?.prune(this.clock.now());
        this.enforceDetachedLimits(); // RS-11: detached queues keep filling from their channels
      },
      onLagAlarm: (lagMs) => this.log.warn({ lagMs }, 'liveness sweep late by more than an interval: event loop lag'),
      onTick: (lagMs, sliceMs) => {
        this.metrics?.sweepTick(lagMs / 1000, this.opts.heartbeatIntervalMs / 1000);
        this.metrics?.sweepDuration(sliceMs / 1000);
      },
    });
    this.lifecycle = new SessionLifecycle({
      env: this.env,
      live: this.live,
      channels: this.channels,
      store: this.store,
      nodeId: this.nodeId,
      replayWriter: this.replayWriter,
      sweep: this.sweep,
      detachedSessions: this.detachedSessions,
      log: this.log,
      wallNow,
      scheduleDetachedCheck: () => this.scheduleDetachedCheck(),
      newSessionId: () => this.newSessionId(),
      setOwner: (conn, actor) => this.setOwner(conn, actor),
      emitEvent: (event, ...args) => this.emitEvent(event, ...args),
      failSession: (actor, err) => this.failSession(actor, err),
    });
    this.metrics?.setGaugeSource(() => gaugeReading(this.live.values(), this.conns, this.isDraining ? { noticesSent: this.drainNotices } : undefined));
    this.sweep.start();
    this.isOwnServer = options.httpServer === undefined;
    this.pending = new PendingUpgrades(this.opts);
    this.httpServer = options.httpServer ?? createHttpServer(httpServerTimeouts(this.opts)); // HS-15
    if (this.isOwnServer) this.httpServer.on('connection', this.onConnection); // HS-16
    else this.warnLooseSharedServer(this.httpServer);
    this.httpServer.on('upgrade', this.onUpgrade);
    this.onRequest = (req, res) => {
      if (this.handleRequest(req, res)) return;
      if (options.onRequest) options.onRequest(req, res);
      else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('Not Found\n');
      }
    };
    // On a shared server the application routes requests and may call handleRequest().
    if (this.isOwnServer) this.httpServer.on('request', this.onRequest);
  }

  // ---- HostRegistry (for machine-host.ts and frames.ts) ----

  hostOf(actor: SessionActor): Host | undefined {
    return this.hosts.get(actor);
  }
  ownerOf(conn: Connection): SessionActor | undefined {
    return this.owners.get(conn);
  }
  setOwner(conn: Connection, actor: SessionActor): void {
    this.owners.set(conn, actor);
  }
  /** Why this session id is gone, if the store remembers (RS-6 EXPIRED, RS-11 EVICTED; else UNKNOWN_SESSION); synchronous when the store is. */
  endedReason(id: string): ResumeReason | Promise<ResumeReason> {
    const r = this.store.endedReason(id);
    return r instanceof Promise ? r.then(resumeReasonOf) : resumeReasonOf(r);
  }
  /** This node's live session with this id (RS-2). */
  liveSession(id: string): LiveSession | undefined {
    return this.live.get(id);
  }
  scheduleDetachedCheck(): void {
    if (this.isDetachedCheckScheduled || this.isClosed) return;
    this.isDetachedCheckScheduled = true;
    setImmediate(() => {
      this.isDetachedCheckScheduled = false;
      if (!this.isClosed) this.enforceDetachedLimits();
    });
  }
  /** RS-11: evict the oldest detached sessions until the count and byte limits hold. */
  enforceDetachedLimits(): void {
    const n = this.detachedSessions.enforce();
    if (n > 0) this.log.info({ evicted: n, detached: this.detachedSessions.size }, 'detached sessions evicted (RS-11)');
  }
  /**
   * CC-8, RS-11: a new session at maxSessions takes the place of the oldest detached session;
   * true when there is room (or was made).
   */
  makeRoomForSession(): boolean {
    while (this.live.size >= this.opts.maxSessions) {
      if (!this.detachedSessions.evictOldest()) return false;
    }
    return true;
  }
  /** Spec §16.3: a session id is a capability; 128 bits from the CSPRNG. */
  newSessionId(): string {
    return randomBytes(16).toString('base64url');
  }
  readonly listenerError = (err: unknown): void => {
    this.log.error({ err }, 'application event listener threw');
  };
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void {
    this.emit(event, this.listenerError, ...args);
  }

  // ---- HTTP ----

  /** Answer /healthz, /readyz and plain requests on the Lifeline path (HS-1); false for others. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.metrics && new URL(req.url ?? '/', 'http://localhost').pathname === '/metrics') {
      void this.metrics.metricsHandler(req, res);
      return true;
    }
    return handleHealth(req, res, { path: this.opts.path, isLive: !this.isClosed, isReady: this.isReady && !this.isDraining });
  }

  /**
   * Listen on the server's own HTTP server (not one given as `options.server`); resolves with the
   * bound address, rejects on a failure such as EADDRINUSE. `listen({ port: 8080, host: '0.0.0.0',
   * backlog: 2048 })`, or the short form `listen(port, host)`. Default: a free port on 127.0.0.1.
   */
  listen(options?: ListenOptions): Promise<AddressInfo>;
  listen(port?: number, host?: string): Promise<AddressInfo>;
  listen(portOrOptions?: number | ListenOptions, host?: string): Promise<AddressInfo> {
    if (!this.isOwnServer) return Promise.reject(new Error('listen() is for a server that owns its HTTP server'));
    const o: ListenOptions = typeof portOrOptions === 'object' ? portOrOptions : { ...(portOrOptions !== undefined && { port: portOrOptions }), ...(host !== undefined && { host }) };
    return listenOn(this.httpServer, o);
  }

  /** ws:// URL of the Lifeline endpoint (loopback-friendly). */
  url(): string {
    const a = this.httpServer.address() as AddressInfo | null;
    if (!a) throw new Error('not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `ws://${host}:${a.port}${this.opts.path}`;
  }

  /**
   * Replace the Origin allowlist (HS-2, SEC-1), e.g. with the server's own origin once its port is
   * known (the demo). Exact, serialized origins only (see LifelineServerOptions.allowedOrigins).
   */
  allowOrigins(origins: readonly string[]): void {
    this.allowedOrigins = originAllowlist(origins);
  }

  /** The Origin allowlist in force; undefined = any Origin. */
  originAllowlist(): readonly string[] | undefined {
    return this.allowedOrigins && [...this.allowedOrigins];
  }

  /** Readiness for /readyz and HS-6 (a server may start not ready). */
  setReady(isReady: boolean): void {
    this.isReady = isReady;
  }

  // ---- admission (HS-1 … HS-7) ----

  /** An upgrade request: the ws transport runs the shared admission (HS-1 … HS-7) with this state, then upgrades. */
  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    return this.wsTransport.upgrade(req, socket, head, {
      path: this.opts.path,
      isOwnServer: this.isOwnServer,
      isAccepting: () => this.isReady && !this.isDraining && !this.isClosed,
      retryAfterSeconds: this.opts.retryAfterSeconds,
      allowedOrigins: this.allowedOrigins,
      requireOrigin: this.opts.requireOrigin,
      upgradeBuckets: this.upgradeBuckets,
      clock: this.clock,
      authenticate: this.options.authenticate,
      log: this.log,
      onRefused: (status) => this.metrics?.upgradeRejected(status),
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      // HS-16: the own server counts every connection at accept; a shared one counts upgrades to this path.
      ...(this.isOwnServer ? {} : { admitPending: (s: Duplex, ip: string) => this.pending.admit(s, ip) }),
    });
  }

  /** HS-16 on the own server: a connection over a pending cap is closed at once, before any byte is read. */
  private readonly onConnection = (socket: Socket): void => {
    const ip = socket.remoteAddress ?? 'unknown';
    if (this.pending.admit(socket, ip)) return;
    this.metrics?.upgradeRejected(503);
    this.log.debug({ ip, pending: this.pending.size }, 'connection over the pending-upgrade cap closed');
    socket.destroy(); // HS-16: no request read yet, so no response to give
  };

  /** HS-15 on a shared server: its timeouts are the application's; say so when they are looser than ours. */
  private warnLooseSharedServer(server: HttpServer): void {
    const o = this.opts;
    const loose = server.headersTimeout === 0 || server.headersTimeout > o.headersTimeoutMs || server.requestTimeout === 0 || server.requestTimeout > o.requestTimeoutMs;
    if (!loose) return;
    this.log.warn(
      { headersTimeout: server.headersTimeout, requestTimeout: server.requestTimeout, wantHeadersTimeoutMs: o.headersTimeoutMs, wantRequestTimeoutMs: o.requestTimeoutMs },
      'shared HTTP server: half-finished requests are bounded only by its own timeouts (HS-15); create it with lifelineHttpServerOptions()',
    );
  }

  /**
   * A peer passed admission on some transport (server/transport.ts): one actor in `handshaking`, no
   * session state yet (HS-7). Returns the sink for the peer's events; undefined when closing.
   *
   * @internal The core's entry for transports (and the seam's tests); not for applications.
   */
  accept(peer: PeerTransport, info: PeerInfo): PeerSink | undefined {
    const { req, principal } = info;
    this.pending.release(req.socket); // a peer now, no longer an HTTP request: the handshake timeout bounds it (HS-10, HS-16)
    if (this.isClosed) {
      peer.terminate();
      return undefined;
    }
    // SEC-3: only a well-formed traceparent becomes the span's parent (tracing.ts).
    const span = startSessionSpan(req.headers, { upgradeStartedAtMs: info.upgradeStartedAtMs, ...(this.options.tracer ? { tracer: this.options.tracer } : {}) });
    span.upgraded();
    const traceId = isSpanContextValid(span.spanContext) ? span.spanContext.traceId : undefined;
    const conn = new Connection(peer, this.peerEvents, principal, clientAddress(req), this.clock, this.log, traceId);
    conn.span = span;
    // SEC-2: the request through the sanitizer (no cookie, no ticket, no Authorization value).
    conn.log.debug({ upgrade: serializeRequest(req), principal, transport: peer.kind }, 'upgrade accepted');
    this.conns.add(conn);
    const input: SessionInput = {
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      resumeTtlMs: this.opts.resumeTtlMs,
      replayWindowMs: this.opts.replayWindowMs,
      heartbeatMissedMax: this.opts.heartbeatMissedMax,
      heartbeatIntervalStepsMax: this.opts.heartbeatIntervalStepsMax,
      heartbeatStableBeats: this.opts.heartbeatStableBeats,
    };
    const host: Host = { conn, principal, session: undefined, existing: undefined, newReason: ResumeReason.NOT_REQUESTED, peerCloseCode: undefined, isTeardownFailed: false };
    this.owners.set(conn, this.startActor(input, host));
    return conn;
  }

  /** A pong from the peer (HB-2): proof of the path, and an RTT sample when it answers our ping. */
  private onPong(conn: Connection): void {
    conn.missedPings = 0; // HB-2
    const rtt = conn.measurePong(this.opts.heartbeatRttToleranceMs);
    if (rtt) this.metrics?.heartbeatRtt(rtt.sampleMs / 1000, 'ping');
    this.forward(conn, { type: 'socket.pong', isRttSpike: rtt?.isSpike ?? false });
  }

  /**
   * The session machine for a new connection. An inspector observes actors, so with `inspect`
   * every session is a real XState actor; otherwise a lean one (issue 7: memory per session).
   */
  private startActor(input: SessionInput, host: Host): SessionActor {
    const inspect = this.options.inspect;
    if (!inspect) {
      const runner = this.runtime.create(input, host); // its initial step only schedules the handshake timeout
      host.actor = runner;
      this.hosts.set(runner, host);
      return runner;
    }
    const actor = inspectedSession(serverSessionMachine, this.actions, host, input, inspect, (a, err) => this.onActorCrash(a, err));
    host.actor = actor;
    this.hosts.set(actor, host);
    actor.start();
    return actor;
  }

  /** Send a socket's event to the actor that owns it, unless the session stopped using it. */
  forward(conn: Connection, ev: ServerSessionEvent): void {
    if (conn.isEnded) return;
    const actor = this.owners.get(conn);
    if (!actor) return;
    try {
      actor.send(ev);
    } catch (err) {
      this.failSession(actor, err);
    }
  }

  /** One visit of the shared sweep: the liveness tick, and a sample of the session's queue (BP-3). */
  private onSweepVisit(conn: Connection): void {
    if (this.metrics) {
      const actor = this.owners.get(conn);
      const s = actor && this.hosts.get(actor)?.session;
      if (s) this.metrics.queueDepth(s.queue.length);
    }
    if (this.opts.heartbeatIntervalStepsMax > 1) {
      this.forward(conn, { type: 'sweep.tick' }); // HB-11: the machine counts ticks of an adapting interval
      return;
    }
    // Fixed interval: count here and tell the machine only when a threshold is crossed (issue 7), by
    // the rules its sweep.tick guards call, in their order (server/hot-path.test.ts holds them together).
    const rule = fixedIntervalTick(conn.missedPings, conn.silentTicks, this.opts.heartbeatMissedMax);
    if (rule !== 'ping') {
      this.forward(conn, { type: 'liveness.expired', rule }); // HB-3: pings unanswered past missed_max; HB-7: no frame for I × (M + 1)
      return;
    }
    conn.missedPings++;
    conn.silentTicks++;
    conn.ping(); // HB-1
  }

  /**
   * CC-11: the transport closed this peer for a protocol error it caught itself (for ws:
   * server/transports/ws-errors.ts); the machine hears it as the same invalid frame the codec
   * reports, so the session ends as the registry says (1002, 1007, 1009 reset it) instead of
   * detaching. Public so a conformance mutant can undo it.
   */
  onSocketError(conn: Connection, closeName: WsCloseCodeName, reason: string): void {
    conn.log.debug({ closeName, reason }, 'socket error');
    this.forward(conn, { type: 'frame.invalid', closeName, reason }); // CC-11
  }

  private onSocketClose(conn: Connection, code: number): void {
    conn.isClosed = true;
    this.conns.delete(conn);
    this.sweep.delete(conn);
    // The code we sent, else what the peer's close frame said (1005/1006 when there was none).
    const effective = conn.closeCode ?? code;
    this.metrics?.connectionClosed(effective, (this.clock.now() - conn.openedAt) / 1000);
    conn.span?.end(effective);
    conn.log.debug({ code: effective, byPeer: conn.closeCode === undefined }, 'socket closed');
    if (!conn.isEnded) {
      const actor = this.owners.get(conn);
      const host = actor && this.hosts.get(actor);
      if (host) host.peerCloseCode = code;
      this.forward(conn, { type: 'socket.closed', code });
    }
    if (this.conns.size === 0) this.onConnsEmpty?.();
  }

  /** CC-5: serving one session failed; close it 1011, touch nothing else. */
  failSession(actor: SessionActor, err: unknown): void {
    const host = this.hosts.get(actor);
    ((host?.session?.conn ?? host?.conn)?.log ?? this.log).error({ err }, 'session failed');
    try {
      actor.send({ type: 'app.fail', reason: err instanceof Error ? err.message : String(err) });
    } catch {
      // the actor itself is broken: onActorCrash cleans up
    }
  }

  private onActorCrash(actor: SessionActor, err: unknown): void {
    this.log.error({ err }, 'session machine crashed');
    const host = this.hosts.get(actor);
    const conn = host?.session?.conn ?? host?.conn;
    if (conn && !conn.isEnded) conn.terminate('INTERNAL_ERROR');
    if (host?.session) this.lifecycle.crashed(host.session);
  }

  // ---- publishing (CH-1, CH-2, BP-2) ----

  /**
   * Publish a Message to every session subscribed to `channel`, on every node, through the broker.
   * Resolves with how many sessions on this node queued it (with the default broker: all of them,
   * queued before the promise resolves, so publishes keep their order). Rejects with a RangeError
   * when it cannot fit a client's frame (WIRE-12), and when the broker cannot take it (a shared
   * broker that is away): a publish is never dropped silently.
   */
  publish(channel: string, message: Omit<PublishMessage, 'channel'>): Promise<number> {
    try {
      assertMessageFits(channel, message);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.broker.publish({ kind: 'message', channel, message });
  }

  /** Publish a StatePatch as publish() does a Message; the same promise. */
  publishPatch(channel: string, patch: PublishPatch): Promise<number> {
    try {
      assertPatchFits(channel, patch);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.broker.publish({ kind: 'patch', channel, patch });
  }

  /** A publication reached this node (from its broker): queue it for the local subscribers (CH-1, BP-2). */
  private deliverLocally(p: Publication): number {
    const now = this.clock.now();
    return this.fan(p.channel, p.kind === 'message' ? messageItem(p.channel, p.message, now, true) : patchItem(p.channel, p.patch, now));
  }

  private fan(channel: string, item: OutItem): number {
    let n = 0;
    for (const s of this.channels.members(channel)) {
      try {
        s.enqueue(item);
      } catch (err) {
        this.failSession(s.actor, err); // SEC-4: one session's failure stays its own
      }
      n++;
    }
    return n;
  }

  sessions(): LifelineSession[] {
    return [...this.live.values()].map((s) => s.handle);
  }

  session(id: string): LifelineSession | undefined {
    return this.live.get(id)?.handle;
  }

  stats(): ServerStats {
    return { sessions: this.live.size, connections: this.conns.size, sweep: this.sweep.stats(), isReady: this.isReady, isDraining: this.isDraining };
  }

  // ---- drain, revoke (DR-1 … DR-5, SEC-5, SEC-6) ----

  /**
   * Drain (spec §13): readiness off first, then upgrades refused (DR-1); every
   * attached session gets a DrainNotice with its own reconnect slot (DR-2, DR-3)
   * and is served as usual until its deadline, then closed 1012 (DR-4); at the
   * drain deadline every connection still open is destroyed (DR-5). Resolves
   * when no socket is left.
   */
  drain(opts: DrainOptions = {}): Promise<void> {
    if (this.drainPromise) return this.drainPromise;
    const plan = planDrain(opts, this.opts);
    if (plan instanceof RangeError) return Promise.reject(plan); // before anything changes
    const startedAt = this.clock.now();
    this.drainNotices = 0;
    this.isReady = false; // DR-1: readiness off first …
    this.isDraining = true; // … then upgrades get 503 (HS-6)
    const attached: LiveSession[] = [];
    const handshaking: SessionActor[] = [];
    for (const conn of this.conns) {
      const actor = this.owners.get(conn);
      if (!actor || conn.isEnded) continue;
      const host = this.hosts.get(actor);
      if (host?.session && host.session.conn === conn) attached.push(host.session);
      else if (!host?.session) handshaking.push(actor);
    }
    this.log.info({ sessions: attached.length, deadlineMs: plan.deadlineMs, spreadMs: plan.spreadMs, ...(plan.isRebalance ? { target: sanitizeUrl(plan.target) } : {}) }, 'draining');
    sendDrainNotices(attached, handshaking, plan, { startedAt, clock: this.clock, random: this.random, hostOf: (a) => this.hosts.get(a) });
    for (const s of attached) this.lifecycle.save(s, undefined); // issue 12: the record is current before the node goes
    this.drainPromise = new Promise<void>((resolve) => {
      const done = () => {
        this.clock.clearTimeout(deadline);
        this.onConnsEmpty = undefined;
        resolve();
      };
      // On the server's clock, and not a background timer: a drain awaited by a script keeps it alive until the deadline.
      const deadline = this.clock.setTimeout(() => {
        for (const c of [...this.conns]) c.terminate(plan.isRebalance ? 'RECONNECT_ELSEWHERE' : 'SERVICE_RESTART'); // DR-5
        if (this.conns.size === 0) done();
      }, Math.max(0, plan.deadlineMs - (this.clock.now() - startedAt)));
      this.onConnsEmpty = done;
      if (this.conns.size === 0) done();
    });
    return this.drainPromise;
  }

  /**
   * Leave the draining state once drain() has resolved: upgrades are accepted again (HS-6) and
   * readiness is on (DR-1). For a node that stays in service after a drain (a rebalance that
   * moved its clients, a demo, a test); a node being replaced simply exits instead.
   */
  async endDrain(): Promise<void> {
    const drained = this.drainPromise;
    if (!drained) return;
    await drained; // never reopen while sessions are still leaving
    if (this.drainPromise !== drained) return; // a later drain() owns the state now
    this.isDraining = false;
    this.drainPromise = undefined;
    this.setReady(true);
  }

  /** Close every session of `principal` with REVOKED (4102) at once, and forget them (SEC-6). */
  revoke(principal: string): number {
    let n = 0;
    for (const s of [...this.live.values()]) {
      if (s.principal !== principal) continue;
      s.actor.send({ type: 'app.revoke' });
      n++;
    }
    for (const conn of [...this.conns]) {
      const actor = this.owners.get(conn);
      if (actor && conn.principal === principal && !this.hosts.get(actor)?.session) actor.send({ type: 'app.revoke' });
    }
    return n;
  }

  /** Close the sessions of `principal` with TOKEN_EXPIRED (4100); they may resume with a fresh token (SEC-5). */
  expireCredential(principal: string): number {
    let n = 0;
    for (const s of this.live.values()) {
      if (s.principal !== principal) continue;
      s.actor.send({ type: 'app.credentialExpired' });
      n++;
    }
    return n;
  }

  /** Stop everything now (no drain): sockets closed GOING_AWAY (CC-7), timers cleared, actors stopped. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.sweep.stop();
    // SEQ-5: acks still waiting for their delay go out before the sockets close; a restart would
    // otherwise see the client re-send, in a NEW session, messages this process already processed.
    for (const s of this.live.values()) s.inbound.flushAck();
    for (const c of [...this.conns]) {
      c.terminate('GOING_AWAY');
      this.owners.get(c)?.stop(); // a handshake's timer must not keep the process alive
    }
    for (const s of [...this.live.values()]) {
      s.dispose();
      s.actor.stop();
    }
    this.wsTransport.close();
    this.httpServer.off('upgrade', this.onUpgrade);
    this.pending.destroyAll(); // HS-16: upgrades still waiting for authentication
    if (this.isOwnServer) {
      this.httpServer.off('request', this.onRequest);
      this.httpServer.off('connection', this.onConnection);
      await new Promise<void>((resolve) => {
        this.httpServer.close(() => resolve());
        this.httpServer.closeAllConnections();
      });
    }
  }

  /** The spec's state name of an actor (for handles). */
  stateOf(actor: SessionActor): string {
    return serverStateName(actor.getSnapshot().value);
  }
}

/** Create a Lifeline server; call listen() unless it shares an existing HTTP server. */
export function createServer(options: LifelineServerOptions = {}): LifelineServer {
  return new LifelineServer(options);
}

export { ResumeOutcome };
