/**
 * The data of one Lifeline session on the server: its two seq spaces, the replay
 * buffer, the outbound queue and its policy, subscriptions, and the pump that
 * moves queued items onto the socket through the gates of spec §11.
 *
 * Pipeline (spec §7, §11): publish → BackpressureQueue (pre-seq, policy) → gate
 * (socket attached, receive window BP-1, replay bytes RS-3, bufferedAmount BP-4)
 * → OutboundLog.send (seq) → encode → socket. Acks trim the log (SEQ-7) and
 * reopen the gate. Control bodies bypass queue and gate (BP-12).
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
  SnapshotSchema,
  SubscribedSchema,
  type BackpressurePolicy,
  type Envelope,
  type Hello,
  type Message,
  type StateDrift,
} from '../gen/lifeline/v1/envelope_pb.js';
import { BackpressureQueue, SESSION_CHANNEL, SnapshotReason } from '../spec/protocol/backpressure-queue.js';
import { encode } from '../spec/protocol/codec.js';
import { defaults, SUBSCRIBED_CAPABILITY } from '../spec/protocol/defaults.js';
import { ackEnvelope } from '../spec/protocol/fast-codec.js';
import { OutboundLog } from '../spec/protocol/outbound-log.js';
import type { Connection } from './connection.js';
import { ClientInbound } from './inbound.js';
import { serverStateName } from '../spec/machines/server-session.machine.js';
import type { ResolvedOptions } from './options.js';
import type { ChannelState, ClientMessage, LifelineSession, MaybePromise, PublishMessage, SessionStats, SessionView } from './types.js';
import { planResume } from './resume.js';
import { sessionHandle } from './session-handle.js';
import type { LocalChannels } from './stores/local-channels.js';
import type { ReplayWriter } from './stores/replay-writer.js';
import type { SessionStore } from './stores/session-store.js';
import type { MachineRecord, SessionRecord } from './stores/session-record.js';
import { recordOfSession } from './stores/session-record-io.js';
import { TokenBucket } from './token-bucket.js';
import type { Clock } from './clock.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { bodyOfFrame } from './telemetry.js';
import { sharedFrame } from './shared-frame.js';
import { envelopeOf, messageItem, welcomeEnvelope, type OutItem, type WelcomeFacts } from './outbound.js';


/** What a session needs from its server. */
export interface SessionEnv {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  /** This node's channel index (CH-1, CH-2); publications reach sessions through it. */
  readonly channels: LocalChannels<LiveSession>;
  readonly snapshot: ((channel: string, session: SessionView) => ChannelState | undefined) | undefined;
  readonly onMessage: ((message: ClientMessage, session: SessionView) => MaybePromise<void>) | undefined;
  /** The application saw a client message (typed event). */
  readonly emitMessage: (session: LiveSession, message: ClientMessage) => void;
  /** Serving this session failed: close 1011 for it alone (CC-5). */
  readonly fail: (session: LiveSession, err: unknown) => void;
  /** Prometheus metrics, when the application asked for them. */
  readonly metrics: LifelineMetrics | undefined;
  /** A DrainNotice went out (drain progress). */
  readonly onDrainNotice: () => void;
  /** Where client message ids processed are remembered, by principal (SEQ-8); undefined = no dedupe. */
  readonly dedupe: Pick<SessionStore, 'hasMessageId' | 'addMessageId'> | undefined;
  /** Write-behind of replay appends and trims, only for a store shared by nodes (isShared). */
  readonly replayWriter: ReplayWriter | undefined;
}

/** A resume waiting for the machine to attach its socket (RS-2). */
export interface PendingAttach {
  readonly conn: Connection;
  readonly hello: Hello;
}

const EMPTY = new Uint8Array(0);

/** The control replies a peer can ask for, one held per kind (BP-16). */
type ControlReply = 'ack' | 'heartbeatAck';

/**
 * A frame with a buffer of its own. fast-codec carves small frames from shared 32 KiB slabs; one
 * kept for long would pin its whole slab (a detached session's 1,024 frames: 32 MiB instead of
 * 100 KB). Copies only views into a larger buffer.
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteLength === b.buffer.byteLength ? b : b.slice();
}



export class LiveSession implements SessionView, LifelineSession {
  conn: Connection | undefined;
  pendingAttach: PendingAttach | undefined;
  /** The Welcome of a new session (RS-6): why it is new. */
  newReason: ResumeReason = ResumeReason.NOT_REQUESTED;
  readonly subscriptions = new Set<string>();
  readonly log: OutboundLog<Uint8Array>;
  readonly queue: BackpressureQueue<OutItem>;
  readonly policy: BackpressurePolicy;
  /** Client messages: dedupe, delivery to the application, acks (SEQ-3, SEQ-5, SEQ-10). */
  readonly inbound: ClientInbound;
  /** DISCONNECT overflow: the next resume resyncs by snapshots (BP-11). */
  isContinuityLost = false;
  /** Welcome sent on the attached socket: sequenced writes may flow (HS-9). */
  private isWritable = false;
  isDraining = false;
  /** The attached socket's Hello announced `subscribed`: Subscribes are answered (CH-4, WIRE-10). */
  isConfirmAsked = false;
  private isFlowBlocked = false;
  clientRttMs: number | undefined;
  /** When the last client Heartbeat arrived on this socket (clock ms), for heartbeat jitter. */
  private lastHeartbeatAt: number | undefined;
  readonly messageBucket: TokenBucket | undefined;
  /** Channels a client reported drift on: their Snapshot goes out at version 0 when they have no state (SD-5). */
  private driftedStateless: Set<string> | undefined; // made on first drift: an idle session holds no empty Set
  /** Client control bodies (BP-16). */
  readonly controlBucket: TokenBucket | undefined;
  /**
   * Control replies waiting while the socket is over its high-water mark (BP-16): only the latest
   * of each kind, since an Ack is cumulative and a HeartbeatAck answers the newest Heartbeat. A
   * peer that asks without reading holds at most these two, never a growing buffer.
   */
  private heldReplies: Map<ControlReply, Envelope> | undefined; // made when first needed (memory per idle session)
  /** When the session last lost its socket (clock ms), for the oldest-first eviction (RS-11). */
  detachedAt = 0;
  readonly createdAt: number;
  /** The fence of this node's claim on the session in the store (session-store.ts); 0 until it is stored. */
  fence = 0;

  /** A new session for a Hello, or (`record`: its window and policy) one continuing a stored session (issue 12, session-record-io.ts). */
  constructor(
    readonly id: string,
    readonly principal: string,
    readonly actor: SessionActor,
    private readonly env: SessionEnv,
    hello: Hello | undefined,
    record?: Pick<SessionRecord, 'receiveWindow' | 'policy'>,
  ) {
    const o = env.opts;
    this.log = new OutboundLog<Uint8Array>({ window: record ? record.receiveWindow : hello ? this.windowFor(hello) : o.replayWindowMessages });
    this.policy = record ? record.policy : o.acceptPreferredPolicy && hello && hello.preferredPolicy !== 0 ? hello.preferredPolicy : o.policy;
    this.queue = new BackpressureQueue<OutItem>({ policy: this.policy, limitMessages: o.queueLimitMessages, limitBytes: o.queueLimitBytes });
    this.messageBucket =
      o.messageRatePerSecond === undefined ? undefined : new TokenBucket({ ratePerSecond: o.messageRatePerSecond, burst: o.messageBurst }, env.clock.now());
    this.controlBucket =
      o.controlRatePerSecond === undefined ? undefined : new TokenBucket({ ratePerSecond: o.controlRatePerSecond, burst: o.controlBurst }, env.clock.now());
    this.createdAt = env.clock.now();
    this.inbound = new ClientInbound({
      ackDelayMs: o.ackDelayMs,
      clock: env.clock,
      receiveWindow: o.receiveWindow,
      handle: (msg) => {
        const ids = env.dedupe;
        if (!ids || msg.messageId === '') return this.handOver(msg);
        const seen = ids.hasMessageId(principal, msg.messageId); // SEQ-8: synchronous for the memory store
        // A shared store answers later; ClientInbound holds this message's ack and those behind it meanwhile (SEQ-10).
        if (seen instanceof Promise) return seen.then((isSeen) => (isSeen ? undefined : this.handOverRemembered(msg, ids)));
        if (seen) return; // SEQ-8: seen through another path; processed (and acked) once
        return this.handOverRemembered(msg, ids);
      },
      writeAck: (seq) => {
        if (!this.conn || !this.isWritable) return false;
        this.writeReply('ack', ackEnvelope(seq)); // SEQ-5: as create() builds it, without the schema walk
        return true;
      },
      fail: (err) => {
        env.metrics?.messageFailed();
        env.fail(this, err);
      },
    });
  }

  /** Everything about this session that must survive the node (server/stores/session-record-io.ts); `times` are epoch ms. */
  toRecord(times: { readonly createdAtMs: number; readonly expiresAtMs: number | undefined }, machine?: MachineRecord): SessionRecord {
    return recordOfSession(this, times, machine);
  }

  /** To the application (SEQ-10). */
  private handOver(msg: ClientMessage): MaybePromise<void> {
    this.env.emitMessage(this, msg);
    return this.env.onMessage?.(msg, this.handle);
  }

  /** To the application, then its id remembered: a handler that fails has not processed it (SEQ-8, SEQ-10). */
  private handOverRemembered(msg: ClientMessage, ids: NonNullable<SessionEnv['dedupe']>): MaybePromise<void> {
    const r = this.handOver(msg);
    if (r instanceof Promise) return r.then(() => ids.addMessageId(this.principal, msg.messageId));
    return ids.addMessageId(this.principal, msg.messageId);
  }

  /** BP-5: 0 means the default; RS-3: never more in flight than the replay window keeps. */
  private windowFor(hello: Hello): number {
    const asked = hello.receiveWindow === 0 ? defaults.receiveWindow : hello.receiveWindow;
    return Math.max(1, Math.min(asked, this.env.opts.replayWindowMessages));
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
    assertMessageFits(message.channel ?? '', message); // WIRE-12: RangeError to the caller, the session untouched
    // The enqueue time only feeds the delivery-latency metric: no clock read per send without it.
    const now = this.env.metrics ? this.env.clock.now() : 0;
    this.enqueue(messageItem(message.channel ?? '', message, now, false));
  }

  /** Control replies held past the high-water mark (BP-16): at most one per kind. */
  get heldReplyCount(): number {
    return this.heldReplies?.size ?? 0;
  }

  /** Bytes held for the client: queued items plus sent-unacked messages (the detached budget, RS-11). */
  heldBytes(): number {
    return this.queue.bytes + this.log.inFlightBytes;
  }

  /** CC-6: the machine leaves channels, deletes, then closes 1000. */
  end(): void {
    this.actor.send({ type: 'app.end' });
  }

  get lastClientSeq(): bigint {
    return this.inbound.lastProcessed;
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
      drops: { ...this.queue.counters },
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
    this.log.window = this.windowFor(hello);
    const plan = planResume(this.log, hello.lastServerSeq, this.isContinuityLost);
    this.env.replayWriter?.acked(this.id, this.fence, this.log.acked); // RS-2: Hello.last_server_seq acknowledged these
    this.isContinuityLost = false;
    const fromSeq = plan.replay[0]?.seq ?? this.log.next;
    this.isWritable = true;
    this.isFlowBlocked = false;
    // RS-5: the Welcome says exactly what follows.
    this.isConfirmAsked = hello.capabilities.includes(SUBSCRIBED_CAPABILITY); // per socket: the new Hello decides
    this.writeControl(welcomeEnvelope(this.env.opts, this.welcomeFacts(), plan.outcome, plan.reason, fromSeq, plan.replay.length));
    // RS-2: the replay, original seqs, before any other sequenced message.
    const m = this.env.metrics;
    for (const s of plan.replay) {
      this.conn?.write(s.item, this.env.opts.bufferedAmountHighWaterBytes);
      m?.frame('sent', bodyOfFrame(s.item), s.item.byteLength);
    }
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
    this.env.replayWriter?.acked(this.id, this.fence, this.log.acked);
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
    this.detachedAt = this.env.clock.now();
    this.log.compact(ownBytes); // held until a resume or the TTL: release the slabs they were cut from
    return conn;
  }

  // ---- outbound: queue, gate, write ----

  /** Queue a Message or StatePatch under the policy (BP-2), then move what the gates allow. */
  enqueue(item: OutItem): void {
    const m = this.env.metrics;
    const before = m ? this.dropTotal() : 0;
    const result = this.queue.push(item);
    if (m) {
      const dropped = this.dropTotal() - before; // BP-6 … BP-11: whatever the policy removed for this item
      if (dropped > 0) m.dropped(this.policy, dropped);
    }
    if (result === 'overflow') {
      this.actor.send({ type: 'queue.overflow' }); // BP-11: the machine decides (close 4202 or, detached, lose continuity)
      return;
    }
    this.pump();
  }

  private dropTotal(): number {
    const c = this.queue.counters;
    return c.dropOldest + c.dropNewest + c.coalesced + c.disconnect;
  }

  /** Write queued items while every gate is open (BP-1, BP-4, RS-3, SD-7). */
  pump(): void {
    const conn = this.conn;
    if (!conn || !this.isWritable) return;
    const o = this.env.opts;
    let isBlocked = false;
    for (;;) {
      if (this.queue.isEmpty) break;
      if (!this.log.hasRoom) {
        if (!this.isFlowBlocked) this.log.compact(ownBytes); // a slow reader holds a window of frames
        isBlocked = true; // BP-1: the receive window is full
        break;
      }
      if (this.log.inFlight > 0 && this.log.inFlightBytes >= o.replayWindowBytes) {
        isBlocked = true; // RS-3: the replay buffer's byte bound
        break;
      }
      if (conn.bufferedAmount > o.bufferedAmountHighWaterBytes) {
        isBlocked = true; // BP-4, SD-7: wait for the socket to flush
        conn.whenDrained(this.onDrained);
        break;
      }
      const d = this.queue.next();
      if (!d) break;
      if (d.kind === 'snapshot') this.writeSnapshot(d.channel, d.reason);
      else this.writeItem(d.item, d.droppedBefore);
    }
    if (isBlocked !== this.isFlowBlocked) {
      this.isFlowBlocked = isBlocked;
      this.actor.send({ type: isBlocked ? 'queue.blocked' : 'queue.flowing' });
    }
  }

  private writeSequenced(env: Envelope, body: { seq: bigint }): void {
    body.seq = this.log.next; // SEQ-2: the seq is given as the item goes onto the socket
    this.writeNumbered(encode(env), env.body.case);
  }

  /** Bytes already carrying seq = log.next: keep them for replay, then write them. */
  private writeNumbered(bytes: Uint8Array, body: Envelope['body']['case']): void {
    const sent = this.log.send(bytes, bytes.byteLength); // SEQ-7: kept until acked
    this.env.replayWriter?.sent(this.id, this.fence, sent.seq, bytes); // a shared store gets it behind, once per tick
    this.conn?.write(bytes, this.env.opts.bufferedAmountHighWaterBytes);
    this.env.metrics?.frame('sent', body, bytes.byteLength);
  }

  private writeItem(it: OutItem, droppedBefore: number): void {
    const m = this.env.metrics;
    if (m) m.deliveryLatency((this.env.clock.now() - it.enqueuedAt) / 1000);
    const share = it.share;
    if (share !== undefined && share.writes++ > 0) {
      // A published item's second delivery on: encoded once, seq and dropped_before spliced in.
      share.frame ??= sharedFrame(envelopeOf(it, 0));
      this.writeNumbered(share.frame.encode(this.log.next, droppedBefore), it.kind === 'message' ? 'message' : 'statePatch');
      return;
    }
    const env = envelopeOf(it, droppedBefore);
    this.writeSequenced(env, env.body.value);
  }

  private writeSnapshot(channel: string, reason: SnapshotReason): void {
    let state: ChannelState | undefined;
    if (channel === SESSION_CHANNEL) state = { version: 0n, state: EMPTY }; // SD-4: the session re-baseline
    else if (this.subscriptions.has(channel)) {
      // SD-5: a drift on a channel without state is answered at version 0, empty (SD-1), so the client stops waiting.
      state = this.env.snapshot?.(channel, this.handle) ?? (this.driftedStateless?.has(channel) ? { version: 0n, state: EMPTY } : undefined);
      this.driftedStateless?.delete(channel);
    }
    if (!state) return; // not a state channel: nothing to send
    const s = create(SnapshotSchema, { channel, version: state.version, state: state.state, digest: state.digest ?? 0, reason });
    this.writeSequenced(create(EnvelopeSchema, { body: { case: 'snapshot', value: s } }), s);
  }

  /**
   * A control body: not sequenced, not held by the window or the policy (BP-12). Written at once,
   * past the high-water mark; a write that crosses it carries the drain callback, so replies held
   * meanwhile (writeReply) go out when the socket has flushed.
   */
  writeControl(env: Envelope): void {
    const conn = this.conn;
    if (!conn) return;
    const bytes = encode(env);
    conn.write(bytes, this.env.opts.bufferedAmountHighWaterBytes);
    this.env.metrics?.frame('sent', env.body.case, bytes.byteLength);
  }

  /**
   * A reply the peer asked for (an Ack, a HeartbeatAck). BP-16: while the socket is over its
   * high-water mark and a write is waiting to flush, only the latest of each kind is kept (at most
   * two envelopes per session), written when the socket drains. Issue 13: written unconditionally,
   * one peer that sent Heartbeats without reading grew the heap from 11 MB to 144–228 MB in 30 s.
   */
  private writeReply(kind: ControlReply, env: Envelope): void {
    const conn = this.conn;
    if (!conn) return;
    if (conn.bufferedAmount > this.env.opts.bufferedAmountHighWaterBytes && conn.isAwaitingDrain) {
      (this.heldReplies ??= new Map()).set(kind, env); // BP-16: the newest replaces the held one
      conn.whenDrained(this.onDrained);
      return;
    }
    this.writeControl(env);
  }

  /** The socket flushed what was above its high-water mark: held replies first (BP-12), then the queue. */
  private readonly onDrained = (): void => {
    // From the socket's write callback: a throw here would escape into the event loop (SEC-4).
    try {
      const held = this.heldReplies ? [...this.heldReplies.values()] : [];
      this.heldReplies = undefined;
      for (const env of held) this.writeControl(env);
      this.pump();
    } catch (err) {
      this.env.fail(this, err); // CC-5
    }
  };

  /** A cumulative ack from the client (SEQ-6 checked by the caller): release, then refill the window. */
  applyAck(seq: bigint): void {
    this.log.ack(seq); // SEQ-7
    this.env.replayWriter?.acked(this.id, this.fence, this.log.acked);
    this.pump();
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
    for (const ch of channels) {
      if (this.subscriptions.has(ch)) continue;
      this.subscriptions.add(ch);
      this.env.channels.join(ch, this);
      this.queue.requestSnapshot(ch, SnapshotReason.SUBSCRIBED); // CH-1
    }
    if (shouldPump) this.pump();
  }

  /**
   * CH-4: answer a Subscribe once its channels are in effect (subscribe() joined them to the fan-out,
   * synchronously, just before), so a publish after this frame reaches the session. A control body
   * (BP-12): not held behind the window, the queue or the channel's Snapshot.
   */
  confirmSubscribe(channels: readonly string[]): void {
    const granted = channels.filter((ch) => this.subscriptions.has(ch));
    this.writeControl(create(EnvelopeSchema, { body: { case: 'subscribed', value: create(SubscribedSchema, { channels: granted }) } })); // CH-4
  }

  unsubscribe(channels: readonly string[]): void {
    for (const ch of channels) {
      if (!this.subscriptions.delete(ch)) continue;
      this.env.channels.leave(ch, this);
      this.queue.removeChannel(ch); // CH-2: nothing more of it, queued items included
      this.driftedStateless?.delete(ch);
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

  // ---- drain (DR-2, DR-4) ----

  drainNotice(reconnectAfterMs: number, deadlineMs: number, reason: DrainReason = DrainReason.DEPLOY, target = ''): void {
    const n = create(DrainNoticeSchema, { reason, reconnectAfterMs, deadlineMs, target });
    this.writeControl(create(EnvelopeSchema, { body: { case: 'drainNotice', value: n } }));
    this.isDraining = true;
    this.env.onDrainNotice();
    this.conn?.span?.event('lifeline.drain_notice', { 'lifeline.drain.reconnect_after_ms': reconnectAfterMs, 'lifeline.drain.deadline_ms': deadlineMs });
  }

  // ---- inbound: client messages (server/inbound.ts) ----

  deliver(m: Message): void {
    this.inbound.deliver(m);
  }

  ackDuplicate(): void {
    this.inbound.ackDuplicate();
  }

  /** Stop timers; the session is over. The socket, if any, is closed by the machine after this (CC-6). */
  dispose(): void {
    this.inbound.dispose();
  }
}
