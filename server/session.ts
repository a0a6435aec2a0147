/**
 * The data of one Lifeline session on the server: subscriptions, the Welcome and resume, drain,
 * and the application's view. Its two halves are its base classes, split along those seams (issue
 * 12) so each file reads as one job while a session stays one object: the receiving half (client
 * messages, dedupe, acks, MN-17's hand-over: server/session-inbound.ts) over the sending half
 * (queue, replay log, the pump and its gates, spec §7, §11: server/session-outbound.ts).
 *
 * Lifecycle decisions are the machine's; this class carries them out.
 */
import { create } from '@bufbuild/protobuf';
import type { SessionActor } from './session-actor.js';
import { assertMessageFits } from './frame-limit.js';
import {
  DrainNoticeSchema,
  DrainReason,
  EnvelopeSchema,
  HeartbeatAckSchema,
  ResumeOutcome,
  ResumeReason,
  SubscribedSchema,
  type Hello,
  type StateDrift,
} from '../gen/lifeline/v1/envelope_pb.js';
import { SESSION_CHANNEL, SnapshotReason } from '../spec/protocol/backpressure-queue.js';
import { defaults, SUBSCRIBED_CAPABILITY } from '../spec/protocol/defaults.js';
import type { Connection } from './connection.js';
import { serverStateName } from '../spec/machines/server-session.machine.js';
import type { ResolvedOptions } from './options.js';
import type { ChannelState, ClientMessage, LifelineSession, MaybePromise, PublishMessage, SessionStats, SessionView } from './types.js';
import { planResume } from './resume.js';
import { sessionHandle } from './session-handle.js';
import { Flag, ownBytes } from './session-outbound.js';
import { SessionInbound, type InboundSessionEnv } from './session-inbound.js';
import { comparePositions } from './stores/broker.js';
import type { LocalChannels } from './stores/local-channels.js';
import type { MachineRecord, SessionRecord, SubscriptionRecord } from './stores/session-record.js';
import { recordOfSession, subscriptionsOf } from './stores/session-record-io.js';
import { TokenBucket } from './token-bucket.js';
import { messageItem, welcomeEnvelope, type WelcomeFacts } from './outbound.js';

/** What a session needs from its server. */
export interface SessionEnv extends InboundSessionEnv {
  /** This node's channel index (CH-1, CH-2); publications reach sessions through it. */
  readonly channels: LocalChannels<LiveSession>;
  readonly snapshot: ((channel: string, session: SessionView) => ChannelState | undefined) | undefined;
  readonly onMessage: ((message: ClientMessage, session: SessionView) => MaybePromise<void>) | undefined;
  /** The application saw a client message (typed event). */
  readonly emitMessage: (session: LiveSession, message: ClientMessage) => void;
  /** Serving this session failed: close 1011 for it alone (CC-5). */
  readonly fail: (session: LiveSession, err: unknown) => void;
  /** A DrainNotice went out (drain progress). */
  readonly onDrainNotice: () => void;
  /** MN-2: the broker's position of a channel this node joined (Broker.tail); undefined without positions. */
  readonly channelTail: ((channel: string) => string | undefined) | undefined;
}

/** A resume waiting for the machine to attach its socket (RS-2). */
export interface PendingAttach {
  readonly conn: Connection;
  readonly hello: Hello;
}

const EMPTY = new Uint8Array(0);

/** The channels of a session that has none: one shared empty set, never written (see `subscriptions`). */
const NO_CHANNELS: ReadonlySet<string> = new Set<string>();

/** BP-5: 0 means the default; RS-3: never more in flight than the replay window keeps. */
function windowFor(hello: Hello, opts: ResolvedOptions): number {
  const asked = hello.receiveWindow === 0 ? defaults.receiveWindow : hello.receiveWindow;
  return Math.max(1, Math.min(asked, opts.replayWindowMessages));
}

export class LiveSession extends SessionInbound implements SessionView, LifelineSession {
  /** The base keeps it; this half uses all of it (a type only, no field of its own). */
  protected declare readonly env: SessionEnv;
  pendingAttach: PendingAttach | undefined;
  /** The Welcome of a new session (RS-6): why it is new. */
  newReason: ResumeReason = ResumeReason.NOT_REQUESTED;
  /** Channel → broker position of the last publication taken (MN-2); made on the first one: a memory broker's sessions hold none. */
  private takenPositions: Map<string, string> | undefined;
  /** Subscribed channels; made on the first subscribe: an idle session without channels holds no empty Set. */
  private channelSet: Set<string> | undefined;
  /** DISCONNECT overflow: the next resume resyncs by snapshots (BP-11). A bit of `flags`, as the next two. */
  get isContinuityLost(): boolean {
    return (this.flags & Flag.continuityLost) !== 0;
  }
  set isContinuityLost(v: boolean) {
    this.setFlag(Flag.continuityLost, v);
  }
  get isDraining(): boolean {
    return (this.flags & Flag.draining) !== 0;
  }
  set isDraining(v: boolean) {
    this.setFlag(Flag.draining, v);
  }
  /** The attached socket's Hello announced `subscribed`: Subscribes are answered (CH-4, WIRE-10). */
  get isConfirmAsked(): boolean {
    return (this.flags & Flag.confirmAsked) !== 0;
  }
  set isConfirmAsked(v: boolean) {
    this.setFlag(Flag.confirmAsked, v);
  }
  clientRttMs: number | undefined;
  /** When the last client Heartbeat arrived on this socket (clock ms), for heartbeat jitter. */
  private lastHeartbeatAt: number | undefined;
  readonly messageBucket: TokenBucket | undefined;
  /** Channels a client reported drift on: their Snapshot goes out at version 0 when they have no state (SD-5). */
  private driftedStateless: Set<string> | undefined; // made on first drift: an idle session holds no empty Set
  /** Client control bodies (BP-16). */
  readonly controlBucket: TokenBucket | undefined;
  readonly createdAt: number;

  /** A new session for a Hello, or (`record`: its window and policy) one continuing a stored session (issue 12, session-record-io.ts). */
  constructor(
    id: string,
    principal: string,
    actor: SessionActor,
    env: SessionEnv,
    hello: Hello | undefined,
    record?: Pick<SessionRecord, 'receiveWindow' | 'policy'>,
  ) {
    const o = env.opts;
    super(
      id,
      principal,
      actor,
      env,
      record ? record.policy : o.acceptPreferredPolicy && hello && hello.preferredPolicy !== 0 ? hello.preferredPolicy : o.policy,
      record ? record.receiveWindow : hello ? windowFor(hello, o) : o.replayWindowMessages,
    );
    this.messageBucket =
      o.messageRatePerSecond === undefined ? undefined : new TokenBucket({ ratePerSecond: o.messageRatePerSecond, burst: o.messageBurst }, env.clock.now());
    this.controlBucket =
      o.controlRatePerSecond === undefined ? undefined : new TokenBucket({ ratePerSecond: o.controlRatePerSecond, burst: o.controlBurst }, env.clock.now());
    this.createdAt = Math.floor(env.clock.now()); // whole ms: no heap number per session (as Connection.openedAt)
  }

  /** Everything about this session that must survive the node (server/stores/session-record-io.ts); `times` are epoch ms. */
  toRecord(times: { readonly createdAtMs: number; readonly expiresAtMs: number | undefined }, machine?: MachineRecord): SessionRecord {
    return recordOfSession(this, times, machine);
  }

  /** The channels now subscribed (CH-1, CH-2); read-only: subscribe() and unsubscribe() change them. */
  get subscriptions(): ReadonlySet<string> {
    return this.channelSet ?? NO_CHANNELS;
  }

  /** A stored session's channel, continued on this node (session-record-io.ts joins it again): no new Snapshot. */
  restoreSubscription(channel: string): void {
    (this.channelSet ??= new Set()).add(channel);
  }

  /**
   * MN-2: take a publication of `channel` at broker `position` into this session, unless it is at or
   * below the last one taken (a redelivery after a broker outage, catch-up overlapping live
   * deliveries): false, and the caller drops it. Only channels with positions cost a Map entry.
   */
  takesPosition(channel: string, position: string): boolean {
    const last = this.takenPositions?.get(channel);
    if (last !== undefined && comparePositions(position, last) <= 0) return false; // MN-2
    (this.takenPositions ??= new Map()).set(channel, position);
    return true;
  }

  /** The channels now subscribed, with their positions (write-ahead.ts, MN-15). */
  subscriptionList(): readonly SubscriptionRecord[] {
    return subscriptionsOf(this);
  }

  /** The position of the last publication of `channel` sequenced into the stream (the record's, MN-2). */
  positionOf(channel: string): string | undefined {
    return this.gate?.sentPositions?.get(channel);
  }

  /** A stored session's channel position (session-record-io.ts): nothing at or below it is taken again. */
  restorePosition(channel: string, position: string): void {
    (this.takenPositions ??= new Map()).set(channel, position);
    this.gate?.restored(channel, position); // MN-2: no frame of its own: stored with the channel list or a whole record
  }

  protected failed(err: unknown): void {
    this.env.fail(this, err);
  }

  /** To the application (SEQ-10). */
  protected handOver(msg: ClientMessage): MaybePromise<void> {
    this.env.emitMessage(this, msg);
    return this.env.onMessage?.(msg, this.handle);
  }

  /** The application's view of this session: the LifelineSession API only, made once (session-handle.ts). */
  get handle(): LifelineSession {
    return (this.appHandle ??= sessionHandle(this));
  }
  private appHandle: LifelineSession | undefined;

  get state(): string {
    return serverStateName((this.actor.getSnapshot() as { value: unknown }).value);
  }

  send(message: PublishMessage): void {
    const channel = message.channel ?? '';
    assertMessageFits(channel, message); // WIRE-12: RangeError to the caller, the session untouched
    if (this.env.metrics === undefined && this.gate === undefined && this.queue.isEmpty && this.isEveryGateOpen()) {
      this.writeMessageNow(channel, message.key ?? '', message.messageId ?? '', message.payload); // enqueue's fast path, no item (issue 16)
      return;
    }
    // The enqueue time only feeds the delivery-latency metric: no clock read per send without it.
    const now = this.env.metrics ? this.env.clock.now() : 0;
    this.enqueue(messageItem(channel, message, now, false));
  }

  /** CC-6: the machine leaves channels, deletes, then closes 1000. */
  end(): void {
    this.actor.send({ type: 'app.end' });
  }

  stats(): SessionStats {
    return {
      rttMs: this.conn?.rttMs,
      clientRttMs: this.clientRttMs,
      queueLength: this.queue.length,
      queueBytes: this.queue.bytes,
      pendingSnapshots: this.queue.pendingSnapshots.length,
      inFlight: this.log.inFlight,
      lastSentSeq: this.log.lastSent,
      lastAckedSeq: this.log.acked,
      lastClientSeq: this.inbound.lastProcessed,
      drops: this.queue.counters,
    };
  }

  // ---- Welcome, resume (HS-9, RS-2 … RS-9) ----

  /** What every Welcome states about this session; `subscribed` only to a client that announced it (WIRE-10). */
  private welcomeFacts(): WelcomeFacts {
    return {
      sessionId: this.id,
      policy: this.policy,
      lastClientSeq: this.inbound.lastProcessed,
      capabilities: this.isConfirmAsked ? [SUBSCRIBED_CAPABILITY] : [],
    };
  }

  /** A new session's Welcome: subscribe Hello.channels, each with a Snapshot (RS-6, CH-1). */
  welcomeNew(hello: Hello): void {
    this.isWritable = true;
    this.isConfirmAsked = hello.capabilities.includes(SUBSCRIBED_CAPABILITY);
    this.writeControl(welcomeEnvelope(this.env.opts, this.welcomeFacts(), ResumeOutcome.NEW, this.newReason, this.log.next, 0));
    this.subscribe(hello.channels);
  }

  /** A resumed session's Welcome on its new socket, then the replay or the snapshots. */
  welcomeResume(): { outcome: ResumeOutcome; reason: ResumeReason } {
    const pending = this.pendingAttach;
    if (!pending) throw new Error('resume without a pending socket');
    this.pendingAttach = undefined;
    const hello = pending.hello;
    this.log.window = windowFor(hello, this.env.opts);
    const plan = planResume(this.log, hello.lastServerSeq, this.isContinuityLost);
    if (this.gate) this.env.writeAhead?.touch(this); // RS-2: Hello.last_server_seq acknowledged these: the store trims them
    this.isContinuityLost = false;
    const fromSeq = plan.replay[0]?.seq ?? this.log.next;
    this.isWritable = true;
    this.isFlowBlocked = false;
    // RS-5: the Welcome says exactly what follows.
    this.isConfirmAsked = hello.capabilities.includes(SUBSCRIBED_CAPABILITY); // per socket: the new Hello decides
    this.writeControl(welcomeEnvelope(this.env.opts, this.welcomeFacts(), plan.outcome, plan.reason, fromSeq, plan.replay.length));
    this.writeReplay(plan.replay); // RS-2: original seqs, before any other sequenced message
    // RS-9: Hello.channels is authoritative (Subscribe/Unsubscribe may have been lost with the old
    // socket); CH-3: what it restates stays subscribed without a new Snapshot.
    const wanted = new Set(hello.channels);
    this.unsubscribe([...this.subscriptions].filter((c) => !wanted.has(c)));
    this.subscribe(hello.channels, false);
    if (plan.outcome === ResumeOutcome.SNAPSHOT) {
      // RS-4: a Snapshot of every subscribed channel before any StatePatch or Message.
      for (const ch of this.subscriptions) this.queue.requestSnapshot(ch, SnapshotReason.RESUME);
    }
    this.inbound.welcomed(); // Welcome.last_client_seq acknowledged everything so far (SEQ-9)
    this.pump();
    return { outcome: plan.outcome, reason: plan.reason };
  }

  /**
   * RS-3 by time: a detached session's replay window ran out. Its sent-unacked messages are
   * released; a resume that needs one is answered SNAPSHOT (REPLAY_WINDOW_EXCEEDED, never a partial
   * replay), one that needs none is still RESUMED. The queue, subscriptions and seqs stay.
   */
  releaseReplay(): void {
    if (this.conn) return; // attached: SEQ-7 keeps every unacked message
    this.log.ack(this.log.lastSent);
    if (this.gate) this.env.writeAhead?.touch(this);
  }

  /** The socket is gone or closing: nothing more is written to it. */
  detach(): Connection | undefined {
    const conn = this.conn;
    this.conn = undefined;
    this.isWritable = false;
    this.isDraining = false;
    this.isConfirmAsked = false;
    this.lastHeartbeatAt = undefined;
    this.inbound.stopTimer();
    this.heldReplies = undefined; // a resume's Welcome restates the ack (SEQ-9); a HeartbeatAck is for the old socket
    if (this.gate) {
      this.gate.heldAck = undefined; // MN-1: likewise an Ack waiting for its commit
      this.gate.heldControl = undefined; // and a Subscribed (MN-15): the next Hello restates the channels (RS-9)
    }
    this.log.compact(ownBytes); // held until a resume or the TTL: release the slabs they were cut from
    return conn;
  }

  /**
   * HB-6: answer a Heartbeat at once. `intervalMs` > 0 announces a new interval in force (HB-11);
   * `clientIntervalMs` is the one the client followed up to this Heartbeat (for jitter).
   */
  heartbeatAck(id: number, sentAtMs: bigint, clientRttMs: number, intervalMs = 0, clientIntervalMs = this.env.opts.heartbeatIntervalMs): void {
    if (clientRttMs > 0) this.clientRttMs = clientRttMs; // HB-9: the client's own smoothed RTT
    const m = this.env.metrics;
    if (m) {
      const now = this.env.clock.now();
      if (clientRttMs > 0) m.heartbeatRtt(clientRttMs / 1000, 'client');
      // Jitter: how far this Heartbeat's gap is from the interval the client follows (HB-5).
      if (this.lastHeartbeatAt !== undefined) m.heartbeatJitter((now - this.lastHeartbeatAt - clientIntervalMs) / 1000);
      this.lastHeartbeatAt = now;
    }
    const ack = create(HeartbeatAckSchema, { id, echoSentAtMs: sentAtMs, intervalMs });
    this.writeReply('heartbeatAck', create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: ack } })); // HB-6: at once, BP-16: coalesced past the high-water mark
  }

  // ---- channels (CH-1, CH-2, SD-5) ----

  subscribe(channels: readonly string[], shouldPump = true): void {
    let isChanged = false;
    for (const ch of channels) {
      const subs = (this.channelSet ??= new Set());
      if (subs.has(ch)) continue;
      subs.add(ch);
      isChanged = true;
      this.env.channels.join(ch, this);
      // MN-2: a new subscription starts at the channel's tail, so a move before its first publication catches up from there.
      const tail = this.takenPositions?.has(ch) ? undefined : this.env.channelTail?.(ch);
      if (tail !== undefined) this.restorePosition(ch, tail);
      this.queue.requestSnapshot(ch, SnapshotReason.SUBSCRIBED); // CH-1
    }
    if (isChanged) this.channelsChanged(); // MN-15: before the Snapshot is sequenced, so in its commit or an earlier one
    if (shouldPump) this.pump();
  }

  /**
   * CH-4: answer a Subscribe once its channels are in effect (subscribe() joined them to the fan-out,
   * synchronously, just before), so a publish after this frame reaches the session. A control body
   * (BP-12): not held behind the window, the queue or the channel's Snapshot.
   */
  confirmSubscribe(channels: readonly string[]): void {
    const granted = channels.filter((ch) => this.subscriptions.has(ch));
    this.writeAfterChannels(create(EnvelopeSchema, { body: { case: 'subscribed', value: create(SubscribedSchema, { channels: granted }) } })); // CH-4, MN-15
  }

  unsubscribe(channels: readonly string[]): void {
    for (const ch of channels) {
      if (!this.channelSet?.delete(ch)) continue;
      this.env.channels.leave(ch, this);
      this.queue.removeChannel(ch); // CH-2: nothing more of it, queued items included
      this.takenPositions?.delete(ch);
      this.gate?.left(ch);
      this.driftedStateless?.delete(ch);
      this.channelsChanged(); // MN-15
    }
  }

  /** SD-5: a Snapshot of the channel, or of every channel after a session re-baseline; SD-8 coalesces. */
  answerDrift(d: StateDrift): void {
    if (d.channel === SESSION_CHANNEL) {
      this.queue.requestSnapshot(SESSION_CHANNEL, SnapshotReason.DRIFT);
      for (const ch of this.subscriptions) this.queue.requestSnapshot(ch, SnapshotReason.DRIFT);
    } else if (this.subscriptions.has(d.channel)) {
      (this.driftedStateless ??= new Set()).add(d.channel); // SD-5: answered even if the channel has no state (at version 0)
      this.queue.requestSnapshot(d.channel, SnapshotReason.DRIFT);
    }
    this.pump();
  }

  /** The state a Snapshot of `channel` carries as it is written (session-outbound.ts). */
  protected stateOf(channel: string): ChannelState | undefined {
    if (channel === SESSION_CHANNEL) return { version: 0n, state: EMPTY }; // SD-4: the session re-baseline
    if (!this.subscriptions.has(channel)) return undefined;
    // SD-5: a drift on a channel without state is answered at version 0, empty (SD-1), so the client stops waiting.
    const state = this.env.snapshot?.(channel, this.handle) ?? (this.driftedStateless?.has(channel) ? { version: 0n, state: EMPTY } : undefined);
    this.driftedStateless?.delete(channel);
    return state;
  }

  // ---- drain (DR-2, DR-4) ----

  drainNotice(reconnectAfterMs: number, deadlineMs: number, reason: DrainReason = DrainReason.DEPLOY, target = ''): void {
    const n = create(DrainNoticeSchema, { reason, reconnectAfterMs, deadlineMs, target });
    this.writeControl(create(EnvelopeSchema, { body: { case: 'drainNotice', value: n } }));
    this.isDraining = true;
    this.env.onDrainNotice();
    this.conn?.span?.event('lifeline.drain_notice', { 'lifeline.drain.reconnect_after_ms': reconnectAfterMs, 'lifeline.drain.deadline_ms': deadlineMs });
  }
}
