/**
 * The reference client: a thin adapter around the client connection machine (spec/machines). Socket
 * events become machine events; machine actions become socket calls; sequencing lives in Inbound and
 * Outbound, built on the shared spec/protocol modules. Browser-safe: no Node API here.
 */
import { create } from '@bufbuild/protobuf';
import { createActor, fromPromise, type Actor, type InspectionEvent, type Observer } from 'xstate';
import {
  BackpressurePolicy,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  HelloSchema,
  ResumeOutcome,
  ResumeReason,
  SubscribeSchema,
  UnsubscribeSchema,
  type Envelope,
  type Message,
  type Welcome,
} from '../gen/lifeline/v1/envelope_pb.js';
import {
  clientConnectionMachine,
  clientStateName,
  type ClientConnectionOptions,
  type ClientStateName,
} from '../spec/machines/client-connection.machine.js';
import { clampCloseReason, codeOf } from '../spec/protocol/close-codes.js';
import { decode, encode, type DecodeOptions } from '../spec/protocol/codec.js';
import { defaults, PROTOCOL_VERSION } from '../spec/protocol/defaults.js';
import { isProtocolError, ProtocolError } from '../spec/protocol/errors.js';
import { systemClock, type ClientClock } from './clock.js';
import { ClientClosedError, ClientFailedError } from './errors.js';
import { Inbound, type ChannelView, type DriftReasonName } from './inbound.js';
import { Outbound, type SendOptions } from './outbound.js';
import { bytesReducer, type ChannelReducer } from './reducer.js';
import { webSocketTransport, type Transport, type TransportSocket, type WebSocketConstructorLike } from './transport.js';

export type MaybePromise<T> = T | Promise<T>;

export interface TokenContext {
  /** True after a refresh-token advice (RC-5): do not return a cached token. */
  readonly forceRefresh: boolean;
  /** The session the attempt will try to resume, if any. */
  readonly sessionId: string | undefined;
}

export interface ClientOptions<S = Uint8Array> extends Partial<Omit<ClientConnectionOptions, 'heartbeatIntervalMs' | 'heartbeatMissedMax'>> {
  /** The server's Lifeline URL (ws:// or wss://). */
  readonly url: string;
  /** A browser-style WebSocket constructor; default the global one. Ignored when `transport` is given. */
  readonly WebSocket?: WebSocketConstructorLike;
  readonly transport?: Transport;
  /** Credentials for each attempt (RC-5), sent in Hello.token. */
  readonly getToken?: (ctx: TokenContext) => MaybePromise<string | undefined>;
  /** Channels to be subscribed to (Hello.channels, RS-9). */
  readonly channels?: readonly string[];
  /** How Snapshot/StatePatch bytes become local state; default: the byte reducer. */
  readonly reducer?: ChannelReducer<S>;
  /** Hello.receive_window: server messages in flight (BP-1); default 256. */
  readonly receiveWindow?: number;
  /** Ack at the latest this long after processing (SEQ-5). */
  readonly ackDelayMs?: number;
  /** Most sends not yet acknowledged, queued and in flight (BP-13). */
  readonly queueLimitMessages?: number;
  /** Largest frame accepted from the server (WIRE-4). */
  readonly maxPayloadBytes?: number;
  readonly preferredPolicy?: BackpressurePolicy;
  readonly capabilities?: readonly string[];
  readonly agent?: string;
  /** Recent server message ids remembered for dedupe (SEQ-8); 0 turns it off. */
  readonly dedupeWindow?: number;
  /** Jitter source in [0, 1) (RC-2). */
  readonly random?: () => number;
  readonly clock?: ClientClock;
  /** Connect at once (default true); else call connect(). */
  readonly autoConnect?: boolean;
  /**
   * XState inspection of the connection actor, e.g. `createClientInspector(o).inspect` from
   * client/observability/inspect.ts (kept out of this module so the bundle does not carry it).
   */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export type ResumeOutcomeName = 'new' | 'resumed' | 'snapshot';

export interface WelcomeInfo {
  readonly sessionId: string;
  readonly outcome: ResumeOutcomeName;
  /** ResumeReason name, e.g. UNKNOWN_SESSION, REPLAYED (RS-5). */
  readonly reason: string;
  readonly fromSeq: bigint;
  readonly replayed: number;
  readonly heartbeatIntervalMs: number;
  readonly receiveWindow: number;
}

export interface InboundMessage {
  readonly seq: bigint;
  readonly channel: string;
  readonly key: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
  readonly droppedBefore: number;
}

export type ClientEvent<S> =
  | { readonly type: 'state'; readonly state: ClientStateName; readonly previous: ClientStateName }
  | ({ readonly type: 'welcome' } & WelcomeInfo)
  | ({ readonly type: 'message' } & InboundMessage)
  | { readonly type: 'channel'; readonly channel: string; readonly version: bigint; readonly state: S; readonly cause: 'snapshot' | 'patch' }
  | { readonly type: 'drift'; readonly channel: string; readonly reason: DriftReasonName | 'server'; readonly from: 'client' | 'server' }
  | { readonly type: 'rtt'; readonly rttMs: number; readonly smoothedRttMs: number }
  | { readonly type: 'drain'; readonly reconnectAfterMs: number; readonly deadlineMs: number; readonly target: string }
  /** A connection ended: the code the client sent (byClient) or observed. */
  | { readonly type: 'closed'; readonly code: number; readonly reason: string; readonly byClient: boolean }
  | { readonly type: 'refused'; readonly status: number; readonly retryAfterMs: number | undefined }
  | { readonly type: 'error'; readonly error: Error };

export interface ClientStats {
  readonly queued: number;
  readonly inFlight: number;
  readonly lastSentSeq: bigint;
  readonly ackedSeq: bigint;
  readonly lastReceivedSeq: bigint;
  readonly duplicatesDropped: number;
}

const RESUME_OUTCOME: Record<number, ResumeOutcomeName> = {
  [ResumeOutcome.NEW]: 'new',
  [ResumeOutcome.RESUMED]: 'resumed',
  [ResumeOutcome.SNAPSHOT]: 'snapshot',
};

const textEncoder = new TextEncoder();

export class LifelineClient<S = Uint8Array> {
  private readonly actor: Actor<typeof clientConnectionMachine>;
  private readonly transport: Transport;
  private readonly clock: ClientClock;
  /** When the last frame arrived, on `clock` (HB-8). */
  private lastFrameAtMs = 0;
  private readonly inbound: Inbound<S>;
  private readonly outbound: Outbound;
  private readonly listeners = new Set<(e: ClientEvent<S>) => void>();
  /** The listeners as an array, rebuilt after a change (emit runs per inbound message). */
  private listenerList: ((e: ClientEvent<S>) => void)[] | undefined;
  private readonly channelSet: Set<string>;
  private readonly receiveWindow: number;
  private readonly maxPayloadBytes: number;
  /** Built once: decode() runs per frame. */
  private readonly decodeOptions: DecodeOptions;
  private readonly dedupeWindow: number;
  private readonly recentIds = new Set<string>();
  private socket: TransportSocket | undefined;
  private isSocketOpen = false;
  /** The Welcome of the current socket, once it arrived (HS-9). */
  private welcome: Welcome | undefined;
  private currentState: ClientStateName = 'idle';
  private heartbeatId = 0;
  private smoothedRtt: number | undefined;
  private duplicates = 0;
  private lastWelcomeInfo: WelcomeInfo | undefined;

  constructor(private readonly options: ClientOptions<S>) {
    this.clock = options.clock ?? systemClock;
    this.receiveWindow = options.receiveWindow ?? defaults.receiveWindow;
    this.maxPayloadBytes = options.maxPayloadBytes ?? defaults.maxPayloadBytes;
    this.decodeOptions = { from: 'server', maxPayloadBytes: this.maxPayloadBytes };
    this.dedupeWindow = options.dedupeWindow ?? 1024;
    this.channelSet = new Set(options.channels ?? []);
    this.transport = options.transport ?? webSocketTransport(options.WebSocket ?? globalWebSocket());
    const reducer = options.reducer ?? (bytesReducer as unknown as ChannelReducer<S>);
    const random = options.random ?? Math.random;
    this.outbound = new Outbound({
      queueLimitMessages: options.queueLimitMessages ?? defaults.clientQueueLimitMessages,
      idPrefix: `${Math.floor(random() * 2 ** 32).toString(36)}-`,
    });
    this.inbound = new Inbound<S>({
      reducer,
      receiveWindow: this.receiveWindow,
      ackDelayMs: options.ackDelayMs ?? defaults.ackDelayMs,
      clock: this.clock,
      sendControl: (env) => this.sendControl(env),
      events: {
        message: (m) => this.deliver(m),
        channel: (channel, view, cause) => this.emit({ type: 'channel', channel, version: view.version, state: view.state, cause }),
        drift: (channel, reason) => this.emit({ type: 'drift', channel, reason, from: 'client' }),
      },
    });

    const getToken = options.getToken;
    const machine = clientConnectionMachine.provide({
      actors: {
        getToken: fromPromise<string | undefined, { forceRefresh: boolean; sessionId: string }>(async ({ input }) =>
          getToken ? await getToken({ forceRefresh: input.forceRefresh, sessionId: input.sessionId || undefined }) : undefined,
        ),
      },
      actions: {
        openSocket: (_, p) => this.guarded(() => this.openSocket(p.target, p.token)),
        sendHello: (_, p) => this.guarded(() => this.sendHello(p.sessionId, p.token)),
        acceptWelcome: () => this.guarded(() => this.acceptWelcome()),
        sendHeartbeat: () => this.guarded(() => this.sendHeartbeat()),
        closeSocket: (_, p) => this.guarded(() => this.closeSocket(p.code, p.reason)),
      },
    });
    this.actor = createActor(machine, {
      clock: this.clock,
      ...(options.inspect !== undefined && { inspect: options.inspect }),
      input: {
        random,
        silenceMs: () => this.clock.now() - this.lastFrameAtMs,
        ...(options.reconnectBaseMs !== undefined && { reconnectBaseMs: options.reconnectBaseMs }),
        ...(options.reconnectCapMs !== undefined && { reconnectCapMs: options.reconnectCapMs }),
        ...(options.reconnectMaxAttempts !== undefined && { reconnectMaxAttempts: options.reconnectMaxAttempts }),
        ...(options.suspendedRetryMs !== undefined && { suspendedRetryMs: options.suspendedRetryMs }),
        ...(options.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: options.handshakeTimeoutMs }),
      },
    });
    this.actor.subscribe({
      next: (snap) => this.onSnapshot(clientStateName(snap.value)),
      error: (err) => this.emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) }),
    });
    this.actor.start();
    if (options.autoConnect ?? true) this.connect();
  }

  // ---- public API ----

  /** The RC-1 state. */
  get state(): ClientStateName {
    return this.currentState;
  }
  /** Session id of the last Welcome, kept while it may be resumed (RC-10). */
  get sessionId(): string | undefined {
    return this.actor.getSnapshot().context.sessionId || undefined;
  }
  /** Smoothed RTT in ms (HB-9), once a HeartbeatAck arrived. */
  get rttMs(): number | undefined {
    return this.smoothedRtt;
  }
  /** Highest server seq processed contiguously. */
  get lastSeq(): bigint {
    return this.inbound.lastSeq;
  }
  get lastWelcome(): WelcomeInfo | undefined {
    return this.lastWelcomeInfo;
  }
  get channels(): readonly string[] {
    return [...this.channelSet];
  }
  /** The current reconnect wait and the consecutive failed attempts (for UIs and tests). */
  get reconnectInfo(): { delayMs: number; failures: number } {
    const c = this.actor.getSnapshot().context;
    return { delayMs: c.reconnectDelayMs, failures: c.failures };
  }

  channel(name: string): ChannelView<S> | undefined {
    return this.inbound.channel(name);
  }

  stats(): ClientStats {
    return {
      queued: this.outbound.queuedCount,
      inFlight: this.outbound.inFlightCount,
      lastSentSeq: this.outbound.lastSentSeq,
      ackedSeq: this.outbound.ackedSeq,
      lastReceivedSeq: this.inbound.lastSeq,
      duplicatesDropped: this.duplicates,
    };
  }

  connect(): void {
    this.actor.send({ type: 'app.connect' });
  }

  /**
   * Send one application message. Resolves when the server's cumulative Ack covers it (SEQ-5,
   * SEQ-10); rejects with a SendError: QueueFullError (BP-13), PayloadTooLargeError (WIRE-4),
   * ClientClosedError (RC-9) or ClientFailedError (RC-6).
   */
  send(payload: Uint8Array | string, opts?: SendOptions): Promise<void> {
    if (this.currentState === 'closed') return Promise.reject(new ClientClosedError());
    const bytes = typeof payload === 'string' ? textEncoder.encode(payload) : payload;
    return this.outbound.send(bytes, opts);
  }

  /** End for good: close NORMAL (RC-9); unacknowledged sends reject with ClientClosedError. */
  close(): void {
    if (this.currentState === 'closed') return;
    this.actor.send({ type: 'app.close' });
    this.shutdown();
  }

  /** Leave `suspended` or `failed` and try again now (RC-3). */
  reconnect(): void {
    this.actor.send({ type: 'app.reconnect' });
  }

  /** The platform says the network is back (RC-3), e.g. the browser's `online` event. */
  networkOnline(): void {
    this.actor.send({ type: 'network.online' });
  }

  /** Add channels (Subscribe, CH-1); remembered for every later Hello (RS-9). */
  addChannels(channels: readonly string[]): void {
    const added = channels.filter((c) => !this.channelSet.has(c));
    for (const c of added) this.channelSet.add(c);
    if (added.length > 0) this.sendControl(create(EnvelopeSchema, { body: { case: 'subscribe', value: create(SubscribeSchema, { channels: added }) } }));
  }

  /** Remove channels (Unsubscribe, CH-2) and forget their local state. */
  removeChannels(channels: readonly string[]): void {
    const removed = channels.filter((c) => this.channelSet.has(c));
    for (const c of removed) {
      this.channelSet.delete(c);
      this.inbound.forget(c);
    }
    if (removed.length > 0) this.sendControl(create(EnvelopeSchema, { body: { case: 'unsubscribe', value: create(UnsubscribeSchema, { channels: removed }) } }));
  }

  /** Every client event; returns the unsubscribe function. */
  subscribe(fn: (e: ClientEvent<S>) => void): () => void {
    this.listeners.add(fn);
    this.listenerList = undefined;
    return () => {
      this.listenerList = undefined;
      return this.listeners.delete(fn);
    };
  }

  // ---- machine actions ----

  private openSocket(target: string, token: string | undefined): void {
    if (this.socket) this.closeSocket(codeOf('GOING_AWAY'), 'DR-6: reconnecting after a drain notice');
    const url = target || this.options.url;
    let sock: TransportSocket | undefined;
    const isMine = () => sock !== undefined && sock === this.socket;
    try {
      sock = this.transport(url, {
        onOpen: () => {
          if (!isMine()) return;
          this.isSocketOpen = true;
          this.actor.send({ type: 'socket.opened' });
        },
        onBinary: (bytes) => {
          if (isMine()) this.onFrame(bytes);
        },
        onText: () => {
          if (isMine()) this.violation(new ProtocolError('UNSUPPORTED_DATA', 'WIRE-1', 'text frame'));
        },
        onClose: (code, reason) => {
          if (!isMine()) return;
          this.dropSocket();
          this.emit({ type: 'closed', code, reason, byClient: false });
          this.actor.send({ type: 'socket.closed', code, reason });
        },
        onRefused: (status, retryAfterMs) => {
          if (!isMine()) return;
          this.dropSocket();
          this.emit({ type: 'refused', status, retryAfterMs });
          this.actor.send(retryAfterMs === undefined ? { type: 'socket.refused', status } : { type: 'socket.refused', status, retryAfterMs });
        },
      }, { token });
      this.socket = sock;
    } catch (err) {
      // A URL the platform refuses: observed like a connection that never opened (CC-4: backoff).
      this.emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      queueMicrotask(() => this.actor.send({ type: 'socket.closed', code: codeOf('ABNORMAL'), reason: 'cannot open' }));
    }
  }

  private sendHello(sessionId: string, token: string | undefined): void {
    const hello = create(HelloSchema, {
      protocolVersion: PROTOCOL_VERSION,
      sessionId,
      // RS-10: resume from the highest seq processed contiguously.
      lastServerSeq: sessionId ? this.inbound.lastSeq : 0n,
      receiveWindow: this.receiveWindow,
      token: token ?? '',
      capabilities: [...(this.options.capabilities ?? ['state', 'drain'])],
      channels: [...this.channelSet], // RS-9
      preferredPolicy: this.options.preferredPolicy ?? BackpressurePolicy.UNSPECIFIED,
      agent: this.options.agent ?? 'lifeline-js/0.1',
    });
    this.sendControl(create(EnvelopeSchema, { body: { case: 'hello', value: hello } })); // HS-8
  }

  private acceptWelcome(): void {
    const w = this.welcome;
    const sock = this.socket;
    if (!w || !sock) return;
    this.inbound.onWelcome(w); // RS-10
    this.outbound.attach(w, (bytes) => sock.send(bytes)); // SEQ-9, BP-1
    const info: WelcomeInfo = {
      sessionId: w.sessionId,
      outcome: RESUME_OUTCOME[w.resume?.outcome ?? ResumeOutcome.NEW] ?? 'new',
      reason: ResumeReason[w.resume?.reason ?? ResumeReason.UNSPECIFIED] ?? 'UNSPECIFIED',
      fromSeq: w.resume?.fromSeq ?? 0n,
      replayed: w.resume?.replayed ?? 0,
      heartbeatIntervalMs: w.heartbeatIntervalMs,
      receiveWindow: w.receiveWindow,
    };
    this.lastWelcomeInfo = info;
    this.emit({ type: 'welcome', ...info });
  }

  private sendHeartbeat(): void {
    const hb = create(HeartbeatSchema, {
      id: (this.heartbeatId = (this.heartbeatId + 1) >>> 0),
      sentAtMs: BigInt(Math.floor(this.clock.now())),
      rttMs: Math.round(this.smoothedRtt ?? 0), // HB-9
    });
    this.sendControl(create(EnvelopeSchema, { body: { case: 'heartbeat', value: hb } })); // HB-5
  }

  private closeSocket(code: number, reason: string): void {
    const sock = this.socket;
    if (!sock) return;
    this.dropSocket();
    const r = clampCloseReason(reason); // CC-1
    sock.close(code, r);
    this.emit({ type: 'closed', code, reason: r, byClient: true });
  }

  // ---- frames ----

  private onFrame(bytes: Uint8Array): void {
    // HB-8: every frame is proof of life; the machine reads this when its dead-peer delay fires
    // (no XState event per frame).
    this.lastFrameAtMs = this.clock.now();
    const r = decode(bytes, this.decodeOptions);
    if (!r.ok) {
      this.violation(r.error); // WIRE-2 … WIRE-7
      return;
    }
    const body = r.envelope.body;
    if (!this.welcome) {
      if (body.case !== 'welcome') {
        this.violation(new ProtocolError('PROTOCOL_ERROR', 'HS-9', `${body.case ?? 'no body'} before Welcome`));
        return;
      }
      this.welcome = body.value;
      const w = body.value;
      this.actor.send({ type: 'frame.welcome', sessionId: w.sessionId, heartbeatIntervalMs: w.heartbeatIntervalMs, heartbeatMissedMax: w.heartbeatMissedMax });
      return;
    }
    switch (body.case) {
      case 'welcome':
        this.violation(new ProtocolError('PROTOCOL_ERROR', 'WIRE-7', 'second Welcome'));
        return;
      case 'heartbeat': {
        // HB-6: answered at once, ahead of anything queued.
        const ack = create(HeartbeatAckSchema, { id: body.value.id, echoSentAtMs: body.value.sentAtMs });
        this.sendControl(create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: ack } }));
        return;
      }
      case 'heartbeatAck': {
        const rtt = Math.max(0, this.clock.now() - Number(body.value.echoSentAtMs)); // HB-9
        // Smoothed like TCP's SRTT (RFC 6298, α = 1/8).
        this.smoothedRtt = this.smoothedRtt === undefined ? rtt : this.smoothedRtt + (rtt - this.smoothedRtt) / 8;
        this.emit({ type: 'rtt', rttMs: rtt, smoothedRttMs: this.smoothedRtt });
        this.actor.send({ type: 'frame.heartbeatAck', intervalMs: body.value.intervalMs }); // HB-8, HB-11
        return;
      }
      case 'ack':
        try {
          this.outbound.onAck(body.value.seq);
        } catch (err) {
          if (isProtocolError(err)) {
            this.violation(err); // SEQ-6
            return;
          }
          throw err;
        }
        return;
      case 'message':
      case 'statePatch':
      case 'snapshot':
        this.inbound.receive(r.envelope);
        return;
      case 'stateDrift':
        this.emit({ type: 'drift', channel: body.value.channel, reason: 'server', from: 'server' }); // SD-6
        return;
      case 'drainNotice': {
        const n = body.value;
        this.emit({ type: 'drain', reconnectAfterMs: n.reconnectAfterMs, deadlineMs: n.deadlineMs, target: n.target });
        this.actor.send({ type: 'frame.drainNotice', reconnectAfterMs: n.reconnectAfterMs, target: n.target }); // DR-6
        return;
      }
      case 'hello':
      case 'subscribe':
      case 'unsubscribe':
      case undefined:
        this.violation(new ProtocolError('PROTOCOL_ERROR', 'WIRE-7', `${body.case ?? 'no body'} from a server`));
        return;
      default: {
        const exhaustive: never = body;
        return exhaustive;
      }
    }
  }

  /** The server broke a rule: close with its code and follow that code's advice (CC-2). */
  private violation(err: ProtocolError): void {
    this.emit({ type: 'error', error: err });
    if (this.currentState === 'handshaking' || this.currentState === 'connected') {
      this.actor.send({ type: 'frame.invalid', code: err.code, reason: err.reason });
    } else {
      this.closeSocket(err.code, err.reason); // e.g. a draining socket while waiting to reconnect
    }
  }

  private deliver(m: Message): void {
    if (this.dedupeWindow > 0 && m.messageId !== '') {
      // SEQ-8: the same application message through another path (a broker redelivery).
      if (this.recentIds.has(m.messageId)) {
        this.duplicates++;
        return;
      }
      this.recentIds.add(m.messageId);
      if (this.recentIds.size > this.dedupeWindow) this.recentIds.delete(this.recentIds.values().next().value as string);
    }
    // One object per message (a spread of a copy cost two on the hot path, issue 7).
    this.emit({ type: 'message', seq: m.seq, channel: m.channel, key: m.key, messageId: m.messageId, payload: m.payload, droppedBefore: m.droppedBefore });
  }

  // ---- plumbing ----

  private sendControl(env: Envelope): boolean {
    const sock = this.socket;
    // Only an open socket carries frames (send() throws while CONNECTING), and before its Welcome
    // only the Hello (HS-8): an ack timer left from the previous socket waits for the next Welcome.
    if (!sock || !this.isSocketOpen || (!this.welcome && env.body.case !== 'hello')) return false;
    sock.send(encode(env));
    return true;
  }

  private dropSocket(): void {
    this.socket = undefined;
    this.isSocketOpen = false;
    this.welcome = undefined;
    this.outbound.detach();
  }

  private onSnapshot(next: ClientStateName): void {
    const previous = this.currentState;
    if (next === previous) return;
    this.currentState = next;
    if (previous === 'connected') this.outbound.detach(); // new sends wait for the next Welcome
    if (next === 'failed') {
      const end = this.actor.getSnapshot().context.lastEnd;
      this.outbound.failAll(new ClientFailedError(end?.code ?? end?.status, end?.reason ?? '')); // RC-6
    }
    this.emit({ type: 'state', state: next, previous });
  }

  private shutdown(): void {
    this.inbound.stop();
    this.outbound.failAll(new ClientClosedError());
    this.actor.stop();
  }

  /** Run an action; a ProtocolError becomes a close with its code instead of stopping the actor. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (isProtocolError(err)) {
        const e = err;
        queueMicrotask(() => this.violation(e)); // after the current transition has settled
      } else {
        this.emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  }

  private emit(e: ClientEvent<S>): void {
    // A snapshot, as before: a listener added or removed while emitting takes effect from the next event.
    const list = (this.listenerList ??= [...this.listeners]);
    for (const fn of list) {
      try {
        fn(e);
      } catch {
        // A listener's failure is the application's; it must not break the connection.
      }
    }
  }
}

function globalWebSocket(): WebSocketConstructorLike {
  const ws = (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
  if (!ws) throw new TypeError('no global WebSocket: pass options.WebSocket or use client/node.ts');
  return ws;
}

/** Create (and by default connect) a Lifeline client. */
export function createClient<S = Uint8Array>(options: ClientOptions<S>): LifelineClient<S> {
  return new LifelineClient<S>(options);
}
