/**
 * The engine of the reference client: a thin adapter around the client connection machine
 * (spec/machines). Socket events become machine events; machine actions become socket calls;
 * sequencing lives in Inbound and Outbound, built on the shared spec/protocol modules. The public
 * API is LifelineClient (create-client.ts), which wraps one of these. Browser-safe: no Node API here.
 */
import { create } from '@bufbuild/protobuf';
import { WelcomeSchema, type Envelope, type Message, type Welcome } from '../gen/lifeline/v1/envelope_pb.js';
import {
  clientConnectionMachine,
  clientStateName,
  type ClientStateName,
  type GetTokenInput,
  type TransportKind,
} from '../spec/machines/client-connection.machine.js';
import { clampCloseReason, codeOf } from '../spec/protocol/close-codes.js';
import { decode, encode, messageProblem, type DecodeOptions } from '../spec/protocol/codec.js';
import { defaults, SUBSCRIBED_CAPABILITY } from '../spec/protocol/defaults.js';
import { isProtocolError, ProtocolError } from '../spec/protocol/errors.js';
import { messageFields, readMessageFrame } from '../spec/protocol/fast-codec.js';
import { systemClock, type ClientClock } from './clock.js';
import { DEFAULT_CAPABILITIES, heartbeatAckEnvelope, heartbeatEnvelope, helloEnvelope, smoothedRttAfter } from './control-frames.js';
import { ClientClosedError, ClientFailedError } from './errors.js';
import { ClientEmitter, welcomeInfo, type ClientEvent, type ClientEventOf, type WelcomeInfo } from './events.js';
import { handled } from './handled.js';
import { Inbound } from './inbound.js';
import { InboundSink } from './inbound-sink.js';
import { inspectedActor } from './live-machine.js';
import { runEffect, tokenFor, type EffectTarget } from './machine-effects.js';
import { machineInputOf } from './machine-input.js';
import { ClientMachineRunner, type ClientMachineActor, type RunnerEffects } from './machine-runner.js';
import type { ClientOptions } from './options.js';
import { Outbound, type SendOptions, type SendSettled } from './outbound.js';
import { dropProbe, openProbe, type ProbeOwner } from './probe.js';
import { ReadyWaiter, settleReadyWaiters } from './ready-waiter.js';
import { RecentIds } from './recent-ids.js';
import { bytesReducer, type ChannelReducer } from './reducer.js';
import { ClientSubscriptions } from './subscriptions.js';
import { globalWebSocket, webSocketTransport, type Transport, type TransportSocket } from './transport.js';

/** Passed where an error is required and nothing waits to receive it (shutdown). */
let unseen: ClientClosedError | undefined;
function unseenClosedError(): ClientClosedError {
  return (unseen ??= new ClientClosedError());
}

const textEncoder = new TextEncoder();
/** Stands for the Welcome of the current socket once accepted. */
const WELCOME_ACCEPTED: Welcome = create(WelcomeSchema);

/** Off only in the test that proves the inbound fast path equal to the slow one (inbound-fast.test.ts). */
let isInboundFastPath = true;

/** @internal Tests only: turn the inbound fast path off (the slow path is then the only one) or on. */
export function setInboundFastPath(isOn: boolean): void {
  isInboundFastPath = isOn;
}

/** The application's message event; one literal for both paths, so both build the same object shape. */
function messageEvent<S>(seq: bigint, channel: string, key: string, messageId: string, payload: Uint8Array, droppedBefore: number): ClientEventOf<S, 'message'> {
  return { type: 'message', seq, channel, key, messageId, payload, droppedBefore };
}

/** Internal: one client's connection, sockets, sequencing and events. Not part of the package API. */
export class ClientConnection<S> implements RunnerEffects, EffectTarget, ProbeOwner {
  readonly actor: ClientMachineActor;
  /** @internal options.getToken, for the shared machine's getToken actor (RC-5). */
  readonly getTokenOption: ClientOptions<S>['getToken'];
  private readonly transport: Transport;
  /** The HTTP carrier's transport, if the client may fall back (HT-20). */
  private readonly httpTransport: Transport | undefined;
  /** @internal A WebSocket probe while connected over HTTP (HT-23, probe.ts). */
  probe: TransportSocket | undefined;
  private readonly clock: ClientClock;
  /** When the last frame arrived, on `clock` (HB-8). */
  private lastFrameAtMs = 0;
  readonly inbound: Inbound<S>;
  readonly outbound: Outbound;
  readonly events = new ClientEmitter<S>();
  readonly subs: ClientSubscriptions;
  /** Pending ready() calls; undefined while none waits. */
  private readyWaiters: ReadyWaiter[] | undefined;
  private readonly receiveWindow: number;
  private readonly maxPayloadBytes: number;
  /** Built once: decode() runs per frame. */
  private readonly decodeOptions: DecodeOptions;
  private readonly dedupeWindow: number;
  /** Hello.capabilities (§6.1). */
  private readonly capabilities: readonly string[];
  /** Built on the first message with an id (an idle client holds none). */
  private recentIds: RecentIds | undefined;
  private socket: TransportSocket | undefined;
  private isSocketOpen = false;
  /** The Welcome of the current socket, once it arrived (HS-9). */
  private welcome: Welcome | undefined;
  /** The RC-1 state, as last observed. */
  state: ClientStateName = 'idle';
  private heartbeatId = 0;
  /** Smoothed RTT in ms (HB-9). */
  smoothedRtt: number | undefined;
  /** Server messages dropped as duplicates by id (SEQ-8). */
  duplicates = 0;
  lastWelcomeInfo: WelcomeInfo | undefined;

  constructor(private readonly options: ClientOptions<S>) {
    this.clock = options.clock ?? systemClock;
    this.getTokenOption = options.getToken;
    this.receiveWindow = options.receiveWindow ?? defaults.receiveWindow;
    this.maxPayloadBytes = options.maxPayloadBytes ?? defaults.maxPayloadBytes;
    this.decodeOptions = { from: 'server', maxPayloadBytes: this.maxPayloadBytes };
    this.dedupeWindow = options.dedupeWindow ?? 1024;
    this.capabilities = options.capabilities ?? DEFAULT_CAPABILITIES;
    // One closure for both users of the socket's control path (issue 16: per-client closures).
    const sendControl = (env: Envelope): boolean => this.sendControl(env);
    this.subs = new ClientSubscriptions(options.channels ?? [], sendControl);
    this.transport = options.transport ?? webSocketTransport(options.WebSocket ?? globalWebSocket());
    this.httpTransport = options.httpTransport;
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
      sendControl,
      events: new InboundSink<S>(this),
    });

    const input = machineInputOf(options, random, () => this.clock.now() - this.lastFrameAtMs, this.httpTransport !== undefined);
    if (options.inspect === undefined) {
      this.actor = new ClientMachineRunner(clientConnectionMachine, input, this.clock, this);
      return;
    }
    // Inspection is opt-in and observes actors: a real XState actor on the same effects.
    const actor = inspectedActor(this, input, this.clock, options.inspect);
    this.actor = actor;
    actor.start();
  }

  // ---- the machine's effects (RunnerEffects; the inspected actor's through live-machine.ts) ----

  /**
   * @internal The machine's effects. A ProtocolError thrown by one becomes a close with its code
   * instead of stopping the machine; the try is here, not in a closure per action (issue 16).
   */
  onMachineAction(type: string, params: unknown): void {
    if (type === 'closeProbe') {
      dropProbe(this);
      return;
    }
    try {
      runEffect(this, type, params);
    } catch (err) {
      if (isProtocolError(err)) {
        const e = err;
        queueMicrotask(() => this.violation(e)); // after the current transition has settled
      } else {
        this.emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  }

  /** @internal RC-5: the application's getToken for one attempt. */
  fetchToken(input: GetTokenInput): Promise<string | undefined> {
    return tokenFor(this.getTokenOption, input);
  }

  /** @internal */
  onMachineStep(value: unknown): void {
    this.onSnapshot(clientStateName(value));
  }

  /** @internal */
  onMachineError(err: unknown): void {
    this.emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
  }

  /** See LifelineClient.ready(). */
  ready(): Promise<WelcomeInfo> {
    const info = this.lastWelcomeInfo;
    if (this.state === 'connected' && info) return Promise.resolve(info);
    if (this.state === 'closed') return handled(Promise.reject(new ClientClosedError('it was ready')));
    if (this.state === 'failed') return handled(Promise.reject(this.failedError('not connected')));
    const w = new ReadyWaiter();
    (this.readyWaiters ??= []).push(w);
    return w.promise;
  }


  // ---- machine actions ----

  /** The carrier the machine's context names (HT-20). */
  get transportKind(): TransportKind {
    // The runner's context as it is, not getSnapshot()'s copy of the whole snapshot (read on every
    // state change and Welcome: issue 16).
    const a = this.actor;
    return (a instanceof ClientMachineRunner ? a.currentContext : a.getSnapshot().context).transport;
  }

  /** @internal */
  openSocket(target: string, token: string | undefined, kind: TransportKind): void {
    if (this.socket) this.closeSocket(codeOf('GOING_AWAY'), 'DR-6: reconnecting after a drain notice');
    const url = target || this.options.url;
    const transport = kind === 'http' && this.httpTransport ? this.httpTransport : this.transport;
    let sock: TransportSocket | undefined;
    const isMine = () => sock !== undefined && sock === this.socket;
    // Closures, not a handler class with prototype methods: transports and wrappers of them
    // (conformance mutants, demo/) copy the handlers with a spread, which only sees own properties.
    try {
      sock = transport(url, {
        onOpen: () => {
          if (!isMine()) return;
          this.isSocketOpen = true;
          this.actor.send({ type: 'socket.opened' });
        },
        onBinary: (bytes) => {
          if (isMine()) this.onFrame(bytes);
        },
        onSendBatch: () => {
          // HT-28: the Ack rides with the messages; before the Welcome only the Hello goes (HS-8).
          if (isMine() && this.welcome) this.inbound.ackEarly();
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

  /** @internal HT-23 (probe.ts). */
  openProbe(target: string, token: string | undefined): void {
    openProbe(this, this.transport, target || this.options.url, token);
  }

  /** @internal */
  sendHello(sessionId: string, token: string | undefined): void {
    const env = helloEnvelope(this.options, sessionId, token, this.inbound.lastSeq, this.receiveWindow, this.capabilities, this.subs.forHello());
    this.sendControl(env); // HS-8
  }

  /** @internal */
  acceptWelcome(): void {
    const w = this.welcome;
    const sock = this.socket;
    if (!w || !sock) return;
    this.inbound.onWelcome(w); // RS-10
    this.outbound.attach(w, (bytes) => sock.send(bytes)); // SEQ-9, BP-1
    const info = welcomeInfo(w, this.transportKind);
    this.lastWelcomeInfo = info;
    // CH-4: the Hello's channels are in effect; later Subscribes are confirmed when both ends said so.
    this.subs.onWelcome(w.capabilities.includes(SUBSCRIBED_CAPABILITY) && this.capabilities.includes(SUBSCRIBED_CAPABILITY));
    if (this.events.hasListeners) this.emit({ type: 'welcome', ...info });
    // Only "a Welcome came on this socket" is read from now on: do not hold the message (its
    // capabilities, resume facts) for the life of the connection (issue 16, client-heap.md).
    if (this.welcome === w) this.welcome = WELCOME_ACCEPTED;
  }

  /** @internal */
  sendHeartbeat(): void {
    this.heartbeatId = (this.heartbeatId + 1) >>> 0;
    this.sendControl(heartbeatEnvelope(this.heartbeatId, this.clock.now(), this.smoothedRtt)); // HB-5
  }

  /** @internal */
  closeSocket(code: number, reason: string): void {
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
    if (this.welcome !== undefined && isInboundFastPath && this.receiveMessageFast(bytes)) return;
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
        this.sendControl(heartbeatAckEnvelope(body.value));
        return;
      }
      case 'heartbeatAck': {
        const rtt = Math.max(0, this.clock.now() - Number(body.value.echoSentAtMs)); // HB-9
        this.smoothedRtt = smoothedRttAfter(this.smoothedRtt, rtt);
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
      case 'subscribed':
        this.subs.onSubscribed(body.value.channels); // CH-4
        return;
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

  /**
   * The frame nearly every inbound frame is, a Message next in order after the Welcome, read straight
   * into the application's event: no Envelope, Message or decode-result objects, no body switch
   * (issue 16, bench/probes/client-inbound.md). The same reader as decode() (fast-codec.ts), the same
   * checks (WIRE-4; messageProblem() is validate()'s for a Message) and the same steps as
   * Inbound.receive(). False for anything else, with nothing done: the slow path below decides,
   * errors included. inbound-fast.test.ts proves the two paths give the same events and frames.
   */
  private receiveMessageFast(bytes: Uint8Array): boolean {
    if (bytes.byteLength > this.maxPayloadBytes || !readMessageFrame(bytes)) return false;
    const f = messageFields;
    if (messageProblem(f) !== undefined || !this.inbound.acceptNext(f.seq)) return false;
    this.deliverEvent(messageEvent<S>(f.seq, f.channel, f.key, f.messageId, f.payload, f.droppedBefore));
    this.inbound.delivered();
    return true;
  }

  /** The server broke a rule: close with its code and follow that code's advice (CC-2). */
  private violation(err: ProtocolError): void {
    this.emit({ type: 'error', error: err });
    if (this.state === 'handshaking' || this.state === 'connected') {
      this.actor.send({ type: 'frame.invalid', code: err.code, reason: err.reason });
    } else {
      this.closeSocket(err.code, err.reason); // e.g. a draining socket while waiting to reconnect
    }
  }

  /** @internal A server Message in order (Inbound's slow path). */
  deliver(m: Message): void {
    // One object per message (a spread of a copy cost two on the hot path, issue 7).
    this.deliverEvent(messageEvent<S>(m.seq, m.channel, m.key, m.messageId, m.payload, m.droppedBefore));
  }

  private deliverEvent(e: ClientEventOf<S, 'message'>): void {
    if (this.dedupeWindow > 0 && e.messageId !== '') {
      // SEQ-8: the same application message through another path (a broker redelivery).
      const recent = (this.recentIds ??= new RecentIds(this.dedupeWindow));
      if (recent.has(e.messageId)) {
        this.duplicates++;
        return;
      }
      recent.add(e.messageId);
    }
    this.emit(e);
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
    this.subs.onDisconnect();
  }

  private onSnapshot(next: ClientStateName): void {
    const previous = this.state;
    if (next === previous) return;
    this.state = next;
    if (previous === 'connected') this.outbound.detach(); // new sends wait for the next Welcome
    if (next === 'failed') {
      this.outbound.failAll(this.failedError()); // RC-6
      this.subs.failAll(this.failedError('subscription unconfirmed'));
      this.settleReady(this.failedError('not connected'));
    }
    if (this.events.hasListeners) this.emit({ type: 'state', state: next, previous, transport: this.transportKind });
    if (next === 'connected') this.settleReady(undefined);
  }

  shutdown(): void {
    this.inbound.stop();
    // An error (with its stack trace) only for what waits: a close of an idle client made three
    // that nobody received (issue 16). failAll still runs: it also resets the outbound log.
    this.outbound.failAll(this.outbound.pendingCount > 0 ? new ClientClosedError() : unseenClosedError());
    if (this.subs.hasWaiters) this.subs.failAll(new ClientClosedError('the subscription was confirmed'));
    if (this.readyWaiters !== undefined) this.settleReady(new ClientClosedError('it was ready'));
    this.actor.stop();
  }

  /** Settle every ready() waiting: with the Welcome's info, or with `err`. */
  private settleReady(err: Error | undefined): void {
    const info = this.lastWelcomeInfo;
    if (err === undefined && info === undefined) return;
    const all = this.readyWaiters;
    if (all === undefined) return;
    this.readyWaiters = undefined;
    settleReadyWaiters(all, err, info);
  }

  /** RC-6: why the client is `failed`, from the end of its last attempt. */
  failedError(what?: string): ClientFailedError {
    const end = this.actor.getSnapshot().context.lastEnd;
    return new ClientFailedError(end?.code ?? end?.status, end?.reason ?? '', what);
  }

  /** Queue a message for send()/post(); `settled` learns how it ended. Returns its message id. */
  enqueue(payload: Uint8Array | string, opts: SendOptions | undefined, settled: SendSettled): string {
    if (this.state === 'closed') {
      const messageId = this.outbound.messageIdFor(opts);
      settled(new ClientClosedError(), messageId); // RC-9
      return messageId;
    }
    const bytes = typeof payload === 'string' ? textEncoder.encode(payload) : payload;
    return this.outbound.send(bytes, opts, settled);
  }

  emit(e: ClientEvent<S>): void {
    this.events.emit(e);
  }
}
