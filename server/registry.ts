/**
 * This node's sessions and connections (issue 12): which actor owns which connection, each actor's
 * Host, the live sessions by id (RS-1), the detached ones within their limits (RS-11), and the
 * session machines themselves (started, fed events, failed one at a time: CC-5, SEC-4).
 *
 * It is what the machine's actions (machine-host.ts: HostRegistry), the lifecycle
 * (session-lifecycle.ts: LifecycleDeps) and the frame ingress (ingress.ts: IngressDeps) need from
 * the server, and nothing about HTTP, transports or publishing: those stay in server.ts and
 * upgrade.ts, which hold one registry each.
 */
import { randomFillSync } from 'node:crypto';
import type { Logger } from 'pino';
import { ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { serverSessionMachine, serverStateName, type ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { serverTimers, type Clock } from './clock.js';
import type { Connection } from './connection.js';
import { CatchUps } from './catch-up.js';
import { DetachedSessions } from './detached-sessions.js';
import { newHost, type Host } from './host.js';
import { sessionActions, type HostRegistry } from './machine-host.js';
import type { LifelineServerOptions, ResolvedOptions } from './options.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { inspectedSession, SessionRunner, SessionRuntime, type ActionTable, type SessionActor, type SessionInput } from './session-actor.js';
import { resumeReasonOf, SessionLifecycle } from './session-lifecycle.js';
import type { LiveSession, SessionEnv } from './session.js';
import type { Broker } from './stores/broker.js';
import { LocalChannels } from './stores/local-channels.js';
import { WriteAhead } from './stores/write-ahead.js';
import type { SessionStore } from './stores/session-store.js';
import { isStoreReady, StoreResumes, type StoreResume } from './store-resume.js';
import type { LivenessSweep } from './sweep.js';
import type { ServerEvents } from './types.js';

/** What the registry is built from: the server's settings, its store and sweep, and how to reach the application. */
export interface RegistryDeps {
  readonly opts: ResolvedOptions;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: LifelineMetrics | undefined;
  readonly store: SessionStore;
  /** The local channel index joins and leaves the broker's channels (first member in, last one out); `since` catches a moved session up (MN-2). */
  readonly broker: Pick<Broker, 'join' | 'leave' | 'since' | 'tail'>;
  readonly sweep: LivenessSweep<Connection>;
  /** Every open connection of every transport; the sweep's members are marked among them (liveness.ts SweptConnections). */
  readonly conns: Set<Connection>;
  /** This node's name in store claims (session-store.ts). */
  readonly nodeId: string;
  /** Epoch ms, for the record's times (another node reads them). */
  readonly wallNow: () => number;
  /** SEQ-8: client message ids are remembered in the store. */
  readonly isDedupe: boolean;
  readonly app: Pick<LifelineServerOptions, 'snapshot' | 'onMessage' | 'inspect' | 'authenticateHello' | 'authorizeChannel'>;
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void;
  /** The application listens to `event` (a session's handle is made only for one that is heard). */
  hasListeners(event: keyof ServerEvents): boolean;
  /** A DrainNotice went out (the drain's progress gauge). */
  onDrainNotice(): void;
  /** The server is closed: no new actors, no deferred work. */
  isClosed(): boolean;
}

/** CSPRNG bytes for session ids (spec §16.3), 16 per id, refilled when used up. */
const ID_POOL = Buffer.alloc(16 * 256);
let idPoolAt = ID_POOL.length;

export class SessionRegistry implements HostRegistry {
  /** An inspector watches the session machines (ingress.ts then steps them for every Heartbeat). */
  get isInspecting(): boolean {
    return this.d.app.inspect !== undefined;
  }

  readonly opts: ResolvedOptions;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: LifelineMetrics | undefined;
  readonly sweep: LivenessSweep<Connection>;
  readonly env: SessionEnv;
  readonly lifecycle: SessionLifecycle;
  /** This node's channel → local sessions index. */
  readonly channels: LocalChannels<LiveSession>;
  /** This node's live sessions by id, attached or detached (RS-1): node-local, never in the store. */
  readonly live = new Map<string, LiveSession>();
  /** Every open connection of every transport (upgrade.ts adds and removes them). */
  readonly conns: Set<Connection>;
  /** Detached sessions within their global limits (RS-11). */
  readonly detachedSessions: DetachedSessions<LiveSession>;
  readonly authenticateHello: LifelineServerOptions['authenticateHello'];
  readonly authorizeChannel: LifelineServerOptions['authorizeChannel'];
  /** Sessions continued here from the shared store, catching up on their channels (MN-2). */
  readonly catchUps: CatchUps<LiveSession>;
  /** Resume on another node: load, claim, revive (MN-3). */
  private readonly storeResumes: StoreResumes;
  /**
   * The Host of an inspected actor (a real XState actor); a SessionRunner keeps its own (`host`), and a
   * connection its owning actor (`Connection.owner`): no WeakMap entry per session (issue 16, memory
   * per idle session).
   */
  private readonly inspectedHosts = new WeakMap<SessionActor, Host>();
  /** The machine's actions, for the runner and for inspected actors alike. */
  private readonly actions: ActionTable<Host>;
  /** Steps the session machines when no inspector is attached (no XState actor per session). */
  private readonly runtime: SessionRuntime<Host>;
  private readonly input: SessionInput;
  private isDetachedCheckScheduled = false;

  constructor(private readonly d: RegistryDeps) {
    this.opts = d.opts;
    this.log = d.log;
    this.clock = d.clock;
    this.metrics = d.metrics;
    this.sweep = d.sweep;
    this.conns = d.conns;
    this.authenticateHello = d.app.authenticateHello;
    this.authorizeChannel = d.app.authorizeChannel;
    this.channels = new LocalChannels<LiveSession>(
      (ch) => d.broker.join(ch),
      (ch) => d.broker.leave(ch),
    );
    // MN-1: a shared store holds a session's frames and cursor before the client sees them (one
    // commit per changed session per tick); the memory store needs none (today's direct path).
    const writeAhead = d.store.isShared
      ? new WriteAhead(d.store, {
          onStale: (id, fence, current) => this.lifecycle.lostClaim(id, fence, current), // RS-7, or the store lost it (§21.8)
          onError: (err) => this.log.error({ err }, 'session store commit failed; retrying (frames and acks wait)'), // MN-6
          onRecovered: () => this.log.info('session store commits flow again'),
          flushTimeoutMs: d.opts.drainDeadlineMs,
          onFlushTimeout: (pending) => this.log.warn({ pending }, 'session store flush gave up: sessions not committed'),
        })
      : undefined;
    this.detachedSessions = new DetachedSessions<LiveSession>({ maxCount: d.opts.maxDetachedSessions, budgetBytes: d.opts.detachedBudgetBytes }, (s) => {
      try {
        s.actor.send({ type: 'app.evict' }); // RS-11
      } catch (err) {
        this.failSession(s.actor, err);
      }
    });
    this.env = {
      opts: d.opts,
      clock: d.clock,
      channels: this.channels,
      snapshot: d.app.snapshot,
      onMessage: d.app.onMessage,
      emitMessage: (s, m) => d.emitEvent('message', s.handle, m),
      fail: (s, err) => this.failSession(s.actor, err),
      metrics: d.metrics,
      onDrainNotice: () => d.onDrainNotice(),
      dedupe: d.isDedupe ? d.store : undefined,
      writeAhead,
      channelTail: d.broker.tail ? (ch) => d.broker.tail?.(ch) : undefined,
    };
    this.catchUps = new CatchUps<LiveSession>(d.broker, d.log, () => d.clock.now(), (s, ch) => d.app.snapshot?.(ch, s.handle) !== undefined);
    this.actions = sessionActions(this);
    this.runtime = new SessionRuntime(serverSessionMachine, this.actions, (actor, err) => this.onActorCrash(actor, err), serverTimers(d.clock));
    this.input = {
      handshakeTimeoutMs: d.opts.handshakeTimeoutMs,
      resumeTtlMs: d.opts.resumeTtlMs,
      replayWindowMs: d.opts.replayWindowMs,
      heartbeatMissedMax: d.opts.heartbeatMissedMax,
      heartbeatIntervalStepsMax: d.opts.heartbeatIntervalStepsMax,
      heartbeatStableBeats: d.opts.heartbeatStableBeats,
    };
    this.lifecycle = new SessionLifecycle({
      env: this.env,
      live: this.live,
      channels: this.channels,
      store: d.store,
      nodeId: d.nodeId,
      writeAhead,
      sweep: d.sweep,
      detachedSessions: this.detachedSessions,
      log: d.log,
      wallNow: d.wallNow,
      scheduleDetachedCheck: () => this.scheduleDetachedCheck(),
      newSessionId: () => this.newSessionId(),
      setOwner: (conn, actor) => this.setOwner(conn, actor),
      emitEvent: (event, ...args) => d.emitEvent(event, ...args),
      failSession: (actor, err) => this.failSession(actor, err),
      onMoved: (s) => this.catchUps.cancel(s),
      restoreActor: (persisted, host, elapsedMs) => {
        // A record written before its first snapshot (its session never detached, taken over from
        // another node: MN-4) continues detached with the initial context, waiting for the socket.
        const p = persisted ?? { ...this.runtime.initialSnapshot(this.input), value: 'detached' as const };
        const runner = this.runtime.restore(p, host, elapsedMs); // lean even when inspecting
        host.actor = runner;
        return runner;
      },
    });
    this.storeResumes = new StoreResumes({
      store: d.store,
      nodeId: d.nodeId,
      lifecycle: this.lifecycle,
      catchUps: this.catchUps,
      log: d.log,
      liveSession: (id) => this.live.get(id),
      makeRoomForSession: () => this.makeRoomForSession(),
      endedReason: (id) => this.endedReason(id),
      handoffWaitMs: Math.min(d.opts.handoffWaitMs, d.opts.handshakeTimeoutMs / 2), // MN-17: the Hello waiting must not time out (HS-10)
      releaseWaitMs: d.opts.releaseWaitMs, // MN-18: at most half the handshake timeout (options.ts)
      clock: serverTimers(d.clock),
      metrics: d.metrics,
    });
  }

  // ---- who owns what ----

  hostOf(actor: SessionActor): Host | undefined {
    return actor instanceof SessionRunner ? (actor.host as Host) : this.inspectedHosts.get(actor);
  }
  ownerOf(conn: Connection): SessionActor | undefined {
    return conn.owner;
  }
  setOwner(conn: Connection, actor: SessionActor): void {
    conn.owner = actor;
  }
  /** The Host of the actor that owns this connection. */
  hostOfConn(conn: Connection): Host | undefined {
    const actor = conn.owner;
    return actor && this.hostOf(actor);
  }
  /** This node's live session with this id (RS-2). */
  liveSession(id: string): LiveSession | undefined {
    return this.live.get(id);
  }
  /** Why this session id is gone, if the store remembers (RS-6 EXPIRED, RS-11 EVICTED; else UNKNOWN_SESSION); synchronous when the store is. */
  endedReason(id: string): ResumeReason | Promise<ResumeReason> {
    const r = this.d.store.endedReason(id);
    return r instanceof Promise ? r.then(resumeReasonOf) : resumeReasonOf(r);
  }
  /** Sessions may live on other nodes: a Hello for one not held here looks in the store (MN-3). */
  get isStoreShared(): boolean {
    return this.d.store.isShared;
  }
  /** The shared store answers (MN-12): a Hello that needs it is refused 1013 while it does not. */
  isStoreReady(): boolean {
    return isStoreReady(this.d.store);
  }
  /** MN-3: the session `id` from the shared store, revived and caught up here. */
  resumeFromStore(id: string, principal: string, conn: Connection): Promise<StoreResume> {
    return this.storeResumes.resume(id, principal, conn);
  }
  /** The spec's state name of an actor. */
  stateOf(actor: SessionActor): string {
    return serverStateName(actor.getSnapshot().value);
  }
  hasListeners(event: keyof ServerEvents): boolean {
    return this.d.hasListeners(event);
  }
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void {
    this.d.emitEvent(event, ...args);
  }

  // ---- actors ----

  /** HS-7: a new connection gets one actor in `handshaking` and no session state yet. */
  admit(conn: Connection): void {
    this.conns.add(conn);
    const host = newHost(conn, conn.principal, ResumeReason.NOT_REQUESTED);
    conn.owner = this.startActor(host);
  }

  /**
   * The session machine for a new connection. An inspector observes actors, so with `inspect`
   * every session is a real XState actor; otherwise a lean one (issue 7: memory per session).
   */
  private startActor(host: Host): SessionActor {
    const inspect = this.d.app.inspect;
    if (!inspect) {
      const runner = this.runtime.create(this.input, host); // its initial step only schedules the handshake timeout
      host.actor = runner;
      return runner;
    }
    const actor = inspectedSession(serverSessionMachine, this.actions, host, this.input, inspect, (a, err) => this.onActorCrash(a, err));
    host.actor = actor;
    this.inspectedHosts.set(actor, host);
    actor.start();
    return actor;
  }

  /** Send a socket's event to the actor that owns it, unless the session stopped using it. */
  forward(conn: Connection, ev: ServerSessionEvent): void {
    if (conn.isEnded) return;
    const actor = conn.owner;
    if (!actor) return;
    try {
      actor.send(ev);
    } catch (err) {
      this.failSession(actor, err);
    }
  }

  /** CC-5: serving one session failed; close it 1011, touch nothing else. */
  failSession(actor: SessionActor, err: unknown): void {
    const host = this.hostOf(actor);
    ((host?.session?.conn ?? host?.conn)?.log ?? this.log).error({ err }, 'session failed');
    try {
      actor.send({ type: 'app.fail', reason: err instanceof Error ? err.message : String(err) });
    } catch {
      // the actor itself is broken: onActorCrash cleans up
    }
  }

  private onActorCrash(actor: SessionActor, err: unknown): void {
    this.log.error({ err }, 'session machine crashed');
    const host = this.hostOf(actor);
    const conn = host?.session?.conn ?? host?.conn;
    if (conn && !conn.isEnded) conn.terminate('INTERNAL_ERROR');
    if (host?.session) this.lifecycle.crashed(host.session);
  }

  // ---- limits (CC-8, RS-11) ----

  scheduleDetachedCheck(): void {
    if (this.isDetachedCheckScheduled || this.d.isClosed()) return;
    this.isDetachedCheckScheduled = true;
    setImmediate(() => {
      this.isDetachedCheckScheduled = false;
      if (!this.d.isClosed()) this.enforceDetachedLimits();
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
    if (idPoolAt === ID_POOL.length) {
      randomFillSync(ID_POOL); // one CSPRNG call per 256 ids: randomBytes(16) each was ~1.5 % of a connect (issue 16)
      idPoolAt = 0;
    }
    const id = ID_POOL.toString('base64url', idPoolAt, idPoolAt + 16);
    ID_POOL.fill(0, idPoolAt, idPoolAt + 16); // an id handed out leaves no copy behind in the pool
    idPoolAt += 16;
    return id;
  }

  // ---- the application's commands over many sessions ----

  /** DR-2: the sessions attached now, and the actors still handshaking (no session to notify). */
  drainTargets(): { attached: LiveSession[]; handshaking: SessionActor[] } {
    const attached: LiveSession[] = [];
    const handshaking: SessionActor[] = [];
    for (const conn of this.conns) {
      const actor = conn.owner;
      if (!actor || conn.isEnded) continue;
      const host = this.hostOf(actor);
      if (host?.session && host.session.conn === conn) attached.push(host.session);
      else if (!host?.session) handshaking.push(actor);
    }
    return { attached, handshaking };
  }

  /** SEC-6: every session of `principal`, and its connections still handshaking, closed REVOKED. */
  revoke(principal: string): number {
    let n = 0;
    for (const s of [...this.live.values()]) {
      if (s.principal !== principal) continue;
      s.actor.send({ type: 'app.revoke' });
      n++;
    }
    for (const conn of [...this.conns]) {
      const actor = conn.owner;
      if (actor && conn.principal === principal && !this.hostOf(actor)?.session) actor.send({ type: 'app.revoke' });
    }
    return n;
  }

  /** SEC-5: the sessions of `principal` closed TOKEN_EXPIRED. */
  expireCredential(principal: string): number {
    let n = 0;
    for (const s of this.live.values()) {
      if (s.principal !== principal) continue;
      s.actor.send({ type: 'app.credentialExpired' });
      n++;
    }
    return n;
  }

  /** Stop every connection and session now: sockets closed GOING_AWAY (CC-7), actors stopped. */
  closeAll(): void {
    // SEQ-5: acks still waiting for their delay go out before the sockets close; a restart would
    // otherwise see the client re-send, in a NEW session, messages this process already processed.
    for (const s of this.live.values()) s.inbound.flushAck();
    for (const c of [...this.conns]) {
      c.terminate('GOING_AWAY');
      c.owner?.stop(); // a handshake's timer must not keep the process alive
    }
    for (const s of [...this.live.values()]) {
      s.dispose();
      s.actor.stop();
    }
  }
}
