/**
 * The Lifeline reference server (issue 3), its public facade (issue 12): the constructor wires the
 * named parts, and the methods applications call are here. The parts (server/README.md draws them):
 *
 * - registry.ts: this node's connections, session actors and live sessions (RS-1, RS-11, CC-5);
 * - upgrade.ts: a peer accepted from a transport becomes a Connection and an actor (HS-7);
 * - ingress.ts: inbound frames → machine events; liveness.ts: the sweep's visit and pongs (spec §5);
 * - fan-out.ts: publications from the broker → local sessions' queues (CH-1, BP-2);
 * - drain.ts: the drain's notices, state and deadline (spec §13);
 * - transports/ws.ts: the `ws` transport and HTTP admission (HS-1 … HS-7).
 *
 * Thin by design (CONVENTIONS §1): it decides nothing a part or the session machine decides.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { ResumeOutcome } from '../gen/lifeline/v1/envelope_pb.js';
import type { WsCloseCodeName } from '../spec/protocol/close-codes.js';
import { serverTimers, systemClock, type Clock } from './clock.js';
import type { Connection } from './connection.js';
import { NodeDrain } from './drain.js';
import { TypedEmitter } from './emitter.js';
import { deliverLocally } from './fan-out.js';
import { assertMessageFits, assertPatchFits } from './frame-limit.js';
import { requestPath, type UpgradeContext } from './admission.js';
import { handleHealth } from './http.js';
import { httpServerTimeouts, PendingUpgrades, warnLooseSharedServer } from './http-phase.js';
import { listenOn, type ListenOptions } from './listen.js';
import { onSweepVisit, SweptConnections } from './liveness.js';
import { dedupeBounds } from './message-ids.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { originAllowlist, resolveOptions, type LifelineServerOptions, type ResolvedOptions } from './options.js';
import { NodeLease } from './node-lease.js';
import { SessionRegistry } from './registry.js';
import { MemoryBroker, type Broker } from './stores/broker.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import type { SessionStore } from './stores/session-store.js';
import { LivenessSweep } from './sweep.js';
import { gaugeReading } from './telemetry.js';
import { KeyedBuckets } from './token-bucket.js';
import type { PeerInfo, PeerSink, PeerTransport } from './transport.js';
import { HttpTransport } from './transports/http.js';
import { WsTransport } from './transports/ws.js';
import type { DrainOptions, LifelineSession, PublishMessage, PublishPatch, ServerEvents, ServerStats } from './types.js';
import { PeerAcceptor } from './upgrade.js';

export class LifelineServer extends TypedEmitter<ServerEvents> {
  readonly httpServer: HttpServer;
  readonly opts: ResolvedOptions;
  readonly log: Logger;
  readonly clock: Clock;
  /** Prometheus metrics when the application asked for them (issue 8). */
  readonly metrics: LifelineMetrics | undefined;
  readonly sweep: LivenessSweep<Connection>;
  /** Where session records live (default in memory); this node's live sessions are in its registry. */
  readonly store: SessionStore;
  /** Publications go through it to every node's subscribers (default: this node only). */
  readonly broker: Broker;
  /** This node's name in store claims (session-store.ts). */
  readonly nodeId: string;
  /**
   * This node's connections, actors and live sessions (server/registry.ts).
   *
   * @internal For the server's parts and tests; not for applications (they get handles, sessions()).
   */
  readonly registry: SessionRegistry;
  private readonly isOwnServer: boolean;
  /** The WebSocket transport (server/transports/ws.ts); the core sees its peers as PeerTransports. */
  private readonly wsTransport: WsTransport;
  /** The HTTP carrier (spec §22, server/transports/http.ts); undefined with `httpTransport: false`. */
  private readonly httpTransport: HttpTransport | undefined;
  /** Turns an admitted peer of any transport into a Connection and an actor (server/upgrade.ts). */
  private readonly peers: PeerAcceptor;
  private readonly drainer: NodeDrain;
  private readonly upgradeBuckets: KeyedBuckets | undefined;
  /** Connections that are not yet WebSockets (HS-16). */
  private readonly pending: PendingUpgrades;
  /** The Origin allowlist in force (HS-2); allowOrigins() replaces it once a listen port is known. */
  private allowedOrigins: ReadonlySet<string> | undefined;
  private isReady = true;
  private isClosed = false;
  /** Stops the store's claim notices (MN-4); undefined for a store no other node shares. */
  private readonly unwatchClaims: (() => void) | undefined;
  /** Stops the store's release requests (MN-17); undefined as above. */
  private readonly unwatchReleases: (() => void) | undefined;
  /** MN-18: this node's liveness lease; undefined for a store no other node shares. */
  private readonly lease: NodeLease | undefined;
  private readonly listenerError = (err: unknown): void => {
    this.log.error({ err }, 'application event listener threw');
  };
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head);
  private readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(private readonly options: LifelineServerOptions = {}) {
    super();
    this.nodeId = options.nodeId ?? randomBytes(8).toString('base64url');
    this.opts = resolveOptions(options);
    this.allowedOrigins = this.opts.allowedOrigins;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    // Record times are epoch ms (another node reads them); a test's clock stands for the wall too.
    const wallNow = options.clock ? () => this.clock.now() : () => Date.now();
    const dedupe = dedupeBounds(options.dedupeMessageIds, this.opts.resumeTtlMs); // SEQ-8
    this.store = options.sessionStore ?? new MemorySessionStore({ clock: { now: wallNow }, ...(dedupe && { dedupeMaxIds: dedupe.maxIds, dedupeTtlMs: dedupe.windowMs }) });
    this.broker = options.broker ?? new MemoryBroker();
    this.upgradeBuckets =
      this.opts.upgradeRatePerSecond === undefined
        ? undefined
        : new KeyedBuckets({ ratePerSecond: this.opts.upgradeRatePerSecond, burst: this.opts.upgradeBurst });
    // The sweep's callbacks reach the registry built just below; the sweep starts once all is wired.
    const conns = new Set<Connection>();
    this.sweep = new LivenessSweep<Connection>({
      members: new SweptConnections(conns), // marked among the open connections: no second Set (issue 16)
      intervalMs: this.opts.heartbeatIntervalMs,
      slices: this.opts.sweepSlices,
      clock: this.clock,
      visit: (conn) => onSweepVisit(this.registry, conn),
      onCycle: () => {
        this.upgradeBuckets?.prune(this.clock.now());
        this.registry.enforceDetachedLimits(); // RS-11: detached queues keep filling from their channels
      },
      onLagAlarm: (lagMs) => this.log.warn({ lagMs }, 'liveness sweep late by more than an interval: event loop lag'),
      onTick: (lagMs, sliceMs) => {
        this.metrics?.sweepTick(lagMs / 1000, this.opts.heartbeatIntervalMs / 1000);
        this.metrics?.sweepDuration(sliceMs / 1000);
      },
    });
    const registry = new SessionRegistry({
      opts: this.opts,
      log: this.log,
      clock: this.clock,
      metrics: this.metrics,
      store: this.store,
      broker: this.broker,
      sweep: this.sweep,
      conns,
      nodeId: this.nodeId,
      wallNow,
      isDedupe: dedupe !== undefined,
      app: options,
      emitEvent: (event, ...args) => this.emit(event, this.listenerError, ...args),
      hasListeners: (event) => this.hasListeners(event),
      onDrainNotice: () => this.drainer.noticesSent++,
      isClosed: () => this.isClosed,
    });
    this.registry = registry;
    this.broker.bind(
      (p) => deliverLocally(p, registry.channels, this.clock.now(), (s, err) => registry.failSession(s.actor, err), registry.catchUps),
      (channel, lost) => registry.catchUps.gap(channel, lost, registry.channels.members(channel)), // MN-10: history lost while away from the broker
    );
    // MN-4: another node's claim of a session this node holds: it moved (its socket here closes 4002).
    this.unwatchClaims = this.store.watchClaims?.(this.nodeId, (id, fence, byNode) => registry.lifecycle.claimLost(id, fence, byNode));
    // MN-17: another node resumes a session this node holds attached: release it as if its socket closed.
    this.unwatchReleases = this.store.watchReleaseRequests?.(this.nodeId, (id, byNode) => registry.lifecycle.releaseRequested(id, byNode));
    if (this.store.isShared && this.store.renewLease) {
      const o = this.opts;
      this.lease = new NodeLease({ store: this.store, nodeId: this.nodeId, clock: serverTimers(this.clock), ttlMs: o.nodeLeaseTtlMs, renewMs: o.nodeLeaseRenewMs, log: this.log });
      this.lease.start(); // MN-18
    }
    this.drainer = new NodeDrain({
      opts: this.opts,
      clock: this.clock,
      random: options.random ?? Math.random,
      log: this.log,
      conns: registry.conns,
      targets: () => registry.drainTargets(),
      hostOf: (actor) => registry.hostOf(actor),
      save: (s) => registry.lifecycle.save(s, undefined),
      flush: () => (this.store.isShared ? registry.lifecycle.flush() : undefined), // issue 12: the shared store is current when drain() resolves
      readinessOff: () => this.setReady(false),
    });
    this.pending = new PendingUpgrades(this.opts);
    this.peers = new PeerAcceptor({
      registry,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      tracer: options.tracer,
      pending: this.pending,
      isClosed: () => this.isClosed,
      // Through the method at call time: a conformance mutant replaces onSocketError (CC-11).
      protocolError: (conn, closeName, reason) => this.onSocketError(conn, closeName, reason),
      onConnsEmpty: () => this.drainer.connsEmpty(),
    });
    this.wsTransport = new WsTransport(
      {
        maxPayloadBytes: this.opts.maxPayloadBytes, // WIRE-4
        closeTimeoutMs: this.opts.handshakeTimeoutMs, // CC-10: the recommended close timeout
        timers: serverTimers(this.clock),
      },
      (peer, info) => this.accept(peer, info),
    );
    this.httpTransport = this.opts.httpTransport
      ? new HttpTransport(
          {
            maxPayloadBytes: this.opts.maxPayloadBytes, // WIRE-4
            closeTimeoutMs: this.opts.handshakeTimeoutMs, // CC-10
            streamMaxBytes: this.opts.httpStreamMaxBytes,
            streamMaxMs: this.opts.httpStreamMaxMs,
            pollHoldMs: this.opts.httpPollHoldMs,
            receiveGapMs: this.opts.httpReceiveGapMs,
            maxSendBytes: this.opts.httpMaxSendBytes,
            bodyTimeoutMs: this.opts.handshakeTimeoutMs, // HT-14
            // HT-16: past a replay, the high-water mark twice and a frame, the client is not acknowledging.
            maxRetainedBytes: this.opts.replayWindowBytes + 2 * this.opts.bufferedAmountHighWaterBytes + this.opts.maxPayloadBytes,
            timers: serverTimers(this.clock),
            carrierSocket: (socket) => this.pending.release(socket), // HS-16: keep-alive carrier sockets are not upgrades
          },
          (peer, info) => this.accept(peer, info),
        )
      : undefined;
    this.metrics?.setGaugeSource(() => gaugeReading(registry.live.values(), registry.conns, this.drainer.isDraining ? { noticesSent: this.drainer.noticesSent } : undefined));
    this.sweep.start();
    this.isOwnServer = options.httpServer === undefined;
    this.httpServer = options.httpServer ?? createHttpServer(httpServerTimeouts(this.opts)); // HS-15
    if (this.isOwnServer) this.httpServer.on('connection', this.onConnection); // HS-16
    else warnLooseSharedServer(this.httpServer, this.opts, this.log);
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

  // ---- HTTP ----

  /** Answer /healthz, /readyz and plain requests on the Lifeline path (HS-1); false for others. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = requestPath(req.url, this.opts.path);
    if (this.metrics && path === '/metrics') {
      void this.metrics.metricsHandler(req, res);
      return true;
    }
    // HT-1: the HTTP carrier on the Lifeline path (requests with Lifeline-Http, and preflights).
    if (path === this.opts.path && this.httpTransport?.handle(req, res, this.admissionContext())) return true;
    return handleHealth(req, res, { path: this.opts.path, isLive: !this.isClosed, isReady: this.isReady && !this.drainer.isDraining && this.isBackendReady() });
  }

  /** MN-14: the shared store and broker answer (absent health: always); /readyz says 503 while one does not. */
  private isBackendReady(): boolean {
    return (this.store.health?.isReady() ?? true) && (this.broker.health?.isReady() ?? true);
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
    return this.wsTransport.upgrade(req, socket, head, this.admissionContext());
  }

  /** The admission state both transports run (HS-1 … HS-7, HT-3), read at each request. */
  private admissionContext(): UpgradeContext {
    return {
      path: this.opts.path,
      isOwnServer: this.isOwnServer,
      isAccepting: () => this.isReady && !this.drainer.isDraining && !this.isClosed,
      retryAfterSeconds: this.opts.retryAfterSeconds,
      allowedOrigins: this.allowedOrigins,
      requireOrigin: this.opts.requireOrigin,
      upgradeBuckets: this.upgradeBuckets,
      clock: this.clock,
      authenticate: this.options.authenticate,
      log: this.log,
      onRefused: (status, transport) => this.metrics?.upgradeRejected(status, transport),
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      // HS-16: the own server counts every connection at accept; a shared one counts upgrades to this path.
      ...(this.isOwnServer ? {} : { admitPending: (s: Duplex, ip: string) => this.pending.admit(s, ip) }),
    };
  }

  /** HS-16 on the own server: a connection over a pending cap is closed at once, before any byte is read. */
  private readonly onConnection = (socket: Socket): void => {
    const ip = socket.remoteAddress ?? 'unknown';
    if (this.pending.admit(socket, ip)) return;
    this.metrics?.upgradeRejected(503);
    this.log.debug({ ip, pending: this.pending.size }, 'connection over the pending-upgrade cap closed');
    socket.destroy(); // HS-16: no request read yet, so no response to give
  };

  /**
   * A peer passed admission on some transport (server/transport.ts): one actor in `handshaking`, no
   * session state yet (HS-7). Returns the sink for the peer's events; undefined when closing.
   *
   * @internal The core's entry for transports (and the seam's tests); not for applications.
   */
  accept(peer: PeerTransport, info: PeerInfo): PeerSink | undefined {
    return this.peers.accept(peer, info);
  }

  /**
   * CC-11: the transport closed this peer for a protocol error it caught itself (for ws:
   * server/transports/ws-errors.ts); the machine hears it as the same invalid frame the codec
   * reports, so the session ends as the registry says (1002, 1007, 1009 reset it) instead of
   * detaching. Public so a conformance mutant can undo it.
   */
  onSocketError(conn: Connection, closeName: WsCloseCodeName, reason: string): void {
    conn.log.debug({ closeName, reason }, 'socket error');
    this.registry.forward(conn, { type: 'frame.invalid', closeName, reason }); // CC-11
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

  sessions(): LifelineSession[] {
    return [...this.registry.live.values()].map((s) => s.handle);
  }

  session(id: string): LifelineSession | undefined {
    return this.registry.live.get(id)?.handle;
  }

  stats(): ServerStats {
    const r = this.registry;
    return { sessions: r.live.size, connections: r.conns.size, sweep: this.sweep.stats(), isReady: this.isReady, isDraining: this.drainer.isDraining };
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
    return this.drainer.start(opts); // server/drain.ts
  }

  /**
   * Leave the draining state once drain() has resolved: upgrades are accepted again (HS-6) and
   * readiness is on (DR-1). For a node that stays in service after a drain (a rebalance that
   * moved its clients, a demo, a test); a node being replaced simply exits instead.
   */
  async endDrain(): Promise<void> {
    if (await this.drainer.end()) this.setReady(true);
  }

  /** Close every session of `principal` with REVOKED (4102) at once, and forget them (SEC-6). */
  revoke(principal: string): number {
    return this.registry.revoke(principal);
  }

  /** Close the sessions of `principal` with TOKEN_EXPIRED (4100); they may resume with a fresh token (SEC-5). */
  expireCredential(principal: string): number {
    return this.registry.expireCredential(principal);
  }

  /** Stop everything now (no drain): sockets closed GOING_AWAY (CC-7), timers cleared, actors stopped. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.unwatchClaims?.();
    this.unwatchReleases?.();
    this.sweep.stop();
    this.registry.closeAll(); // SEQ-5 acks flushed, then every socket and actor
    const written = this.registry.lifecycle.flush(); // issue 12: a shared store is left current (replay write-behind, lifecycle writes)
    this.wsTransport.close();
    this.httpTransport?.close();
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
    await written;
    await this.lease?.end(); // MN-18: after the writes, never before (a lease gone lets another node claim at once)
  }
}

/** Create a Lifeline server; call listen() unless it shares an existing HTTP server. */
export function createServer(options: LifelineServerOptions = {}): LifelineServer {
  return new LifelineServer(options);
}

export { ResumeOutcome };
