/**
 * The sending half of a session (spec §7, §11): the outbound queue and its policy, the replay log,
 * and the pump that moves queued items onto the socket through the gates.
 *
 * Pipeline: publish → BackpressureQueue (pre-seq, policy) → gate (socket attached, receive window
 * BP-1, replay bytes RS-3, bufferedAmount BP-4) → OutboundLog.send (seq) → encode → socket. Acks
 * trim the log (SEQ-7) and reopen the gate. Control bodies bypass queue and gate (BP-12).
 *
 * A base class of LiveSession (server/session.ts), not an object of its own: it was split out of
 * session.ts along this seam to keep both readable (issue 12), and one object per session is
 * what an idle session must cost (memory per idle session), not two.
 */
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, SnapshotSchema, type BackpressurePolicy, type Envelope } from '../gen/lifeline/v1/envelope_pb.js';
import { BackpressureQueue, type SnapshotReason } from '../spec/protocol/backpressure-queue.js';
import { encode } from '../spec/protocol/codec.js';
import { OutboundLog } from '../spec/protocol/outbound-log.js';
import type { Connection, DrainListener } from './connection.js';
import { envelopeOf, type OutItem } from './outbound.js';
import type { Clock } from './clock.js';
import type { LifelineMetrics } from './observability/metrics.js';
import type { ResolvedOptions } from './options.js';
import type { SessionActor } from './session-actor.js';
import { sharedFrame } from './shared-frame.js';
import { bodyOfFrame } from './telemetry.js';
import type { ChannelState } from './types.js';
import { Gate, type WriteAhead, type WriteAheadHost } from './stores/write-ahead.js';
import { ackEnvelope, messageEnvelope } from '../spec/protocol/fast-codec.js';
import type { SessionRecord, SubscriptionRecord } from './stores/session-record.js';

/** What the sending half needs from its server; SessionEnv (session.ts) extends it. */
export interface OutboundEnv {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  /** Prometheus metrics, when the application asked for them. */
  readonly metrics: LifelineMetrics | undefined;
  /** Write-ahead of the session's streams, only for a store shared by nodes (isShared, MN-1). */
  readonly writeAhead: WriteAhead | undefined;
}

/** The control replies a peer can ask for, one held per kind (BP-16). */
type ControlReply = 'ack' | 'heartbeatAck';

/**
 * A frame with a buffer of its own. fast-codec carves small frames from shared 32 KiB slabs; one
 * kept for long would pin its whole slab (a detached session's 1,024 frames: 32 MiB instead of
 * 100 KB). Copies only views into a larger buffer.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteLength === b.buffer.byteLength ? b : b.slice();
}

const NO_BYTES = new Uint8Array(0);

/**
 * The one Envelope writeMessageNow() encodes from, its fields set per send (encode() keeps nothing
 * of it): no Envelope and Message objects per echo (issue 16).
 */
const SCRATCH = messageEnvelope(0n, '', '', '', NO_BYTES, 0);

/** The bits of SessionOutbound.flags. */
export const Flag = {
  writable: 1,
  flowBlocked: 2,
  continuityLost: 4,
  draining: 8,
  confirmAsked: 16,
  disposed: 32,
} as const;

export abstract class SessionOutbound implements DrainListener, WriteAheadHost {
  conn: Connection | undefined;
  readonly log: OutboundLog<Uint8Array>;
  readonly queue: BackpressureQueue<OutItem>;
  /**
   * The session's booleans, one bit each (Flag): one field instead of six (issue 16, memory per idle
   * session: 8 B a field). Read and written through the accessors of the same names.
   */
  protected flags = 0;
  /** Welcome sent on the attached socket: sequenced writes may flow (HS-9). */
  protected get isWritable(): boolean {
    return (this.flags & Flag.writable) !== 0;
  }
  protected set isWritable(v: boolean) {
    this.setFlag(Flag.writable, v);
  }
  protected get isFlowBlocked(): boolean {
    return (this.flags & Flag.flowBlocked) !== 0;
  }
  protected set isFlowBlocked(v: boolean) {
    this.setFlag(Flag.flowBlocked, v);
  }
  /**
   * Control replies waiting while the socket is over its high-water mark (BP-16): only the latest
   * of each kind, since an Ack is cumulative and a HeartbeatAck answers the newest Heartbeat. A
   * peer that asks without reading holds at most these two, never a growing buffer.
   */
  protected heldReplies: Map<ControlReply, Envelope> | undefined; // made when first needed (memory per idle session)
  /** The fence of this node's claim on the session in the store (session-store.ts); 0 until it is stored. */
  fence = 0;
  /** MN-1: what the shared store holds of this session; undefined for the memory store (today's direct path). */
  readonly gate: Gate | undefined;

  constructor(
    readonly id: string,
    readonly actor: SessionActor,
    protected readonly env: OutboundEnv,
    readonly policy: BackpressurePolicy,
    window: number,
  ) {
    const o = env.opts;
    this.log = new OutboundLog<Uint8Array>({ window });
    this.queue = new BackpressureQueue<OutItem>({ policy, limitMessages: o.queueLimitMessages, limitBytes: o.queueLimitBytes });
    this.gate = env.writeAhead ? new Gate() : undefined;
  }

  protected setFlag(bit: number, v: boolean): void {
    this.flags = v ? this.flags | bit : this.flags & ~bit;
  }

  /** The client's stream as the store should hold it (SEQ-3, SEQ-5); session.ts has the inbound half. */
  abstract inboundCursor(): SessionRecord['inbound'];

  /** The channels now subscribed, as the store should hold them (MN-15); session.ts has the channels. */
  abstract subscriptionList(): readonly SubscriptionRecord[];

  /** The channel's state for a Snapshot, or undefined when it has none to send (SD-1, SD-5). */
  protected abstract stateOf(channel: string): ChannelState | undefined;

  /** Serving this session failed (CC-5). */
  protected abstract failed(err: unknown): void;

  /** Control replies held past the high-water mark (BP-16): at most one per kind. */
  get heldReplyCount(): number {
    return this.heldReplies?.size ?? 0;
  }

  /** Bytes held for the client: queued items plus sent-unacked messages (the detached budget, RS-11). */
  heldBytes(): number {
    return this.queue.bytes + this.log.inFlightBytes;
  }

  /** The store refused this session for good (write-ahead.ts: ReplayCapError): CC-5. */
  commitFailed(err: unknown): void {
    this.failed(err);
  }

  /** MN-15: the channel list changed; a shared store gets it in this tick's commit. */
  protected channelsChanged(): void {
    const g = this.gate;
    if (!g) return;
    g.channels++;
    this.env.writeAhead?.touch(this);
  }

  /**
   * A control body that states the channel list (Subscribed, CH-4). MN-15: with a shared store it
   * waits for the commit of that list, so a client told it has a channel never resumes on another
   * node without it; otherwise it goes at once, as any control body (BP-12).
   */
  protected writeAfterChannels(env: Envelope): void {
    const g = this.gate;
    if (!g || g.storedChannels >= g.channels) {
      this.writeControl(env);
      return;
    }
    if (!this.conn) return;
    (g.heldControl ??= []).push({ channels: g.channels, bytes: encode(env) });
    this.env.writeAhead?.touch(this);
  }

  /** Queue a Message or StatePatch under the policy (BP-2), then move what the gates allow. */
  enqueue(item: OutItem): void {
    if (this.queue.isEmpty && this.isEveryGateOpen()) {
      // Issue 16: nothing queued and nothing would stop the pump: the item is the one it would take
      // next, with the drops counted before it (BP-10). Straight to the socket, no push and shift;
      // session-outbound.test.ts proves the frames, seqs, log and events equal to the queued path.
      this.writeItem(item, this.queue.takeDropped());
      return;
    }
    const m = this.env.metrics;
    const before = m ? this.queue.dropTotal : 0;
    const result = this.queue.push(item);
    if (m) {
      const dropped = this.queue.dropTotal - before; // BP-6 … BP-11: whatever the policy removed for this item
      if (dropped > 0) m.dropped(this.policy, dropped);
    }
    if (result === 'overflow') {
      this.actor.send({ type: 'queue.overflow' }); // BP-11: the machine decides (close 4202 or, detached, lose continuity)
      return;
    }
    this.pump();
  }

  /**
   * What pump() checks before each item, all open: a writable socket (HS-9), room in the receive
   * window (BP-1) and the replay bytes (RS-3), the socket under its high-water mark (BP-4), and no
   * blocked state to leave (pump() would announce queue.flowing).
   */
  protected isEveryGateOpen(): boolean {
    const conn = this.conn;
    if (!conn || !this.isWritable || this.isFlowBlocked || !this.log.hasRoom) return false;
    const o = this.env.opts;
    if (this.log.inFlight > 0 && this.log.inFlightBytes >= o.replayWindowBytes) return false;
    return conn.bufferedAmount <= o.bufferedAmountHighWaterBytes;
  }

  /**
   * Issue 16: the application's send() of a Message when enqueue() would take its fast path (the
   * queue empty, every gate open) and nothing else needs the item (no metrics, no write-ahead): the
   * frame is encoded from one scratch Envelope, without the queue item and the Envelope per send.
   * The caller checks those conditions; session-outbound.test.ts proves the frames, seqs, log and
   * events equal to the queued path.
   */
  protected writeMessageNow(channel: string, key: string, messageId: string, payload: Uint8Array): void {
    const m = SCRATCH.body.value;
    m.seq = this.log.next; // SEQ-2: the seq is given as the item goes onto the socket
    m.messageId = messageId;
    m.channel = channel;
    m.key = key;
    m.payload = payload;
    m.droppedBefore = this.queue.takeDropped(); // BP-10: the drops before it, as enqueue's fast path
    let bytes: Uint8Array;
    try {
      bytes = encode(SCRATCH);
    } finally {
      m.payload = NO_BYTES; // the scratch keeps no application bytes alive
    }
    this.writeNumbered(bytes, 'message');
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
        conn.whenDrained(this);
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
    this.log.send(bytes, bytes.byteLength); // SEQ-7: kept until acked
    if (this.gate !== undefined) {
      // MN-1: to the socket once the store holds it (committed()). Until then it waits in the log,
      // where the receive window (BP-1) and replay bytes (RS-3) bound it, as any unacked frame.
      this.env.writeAhead?.touch(this);
      return;
    }
    this.conn?.write(bytes, this.env.opts.bufferedAmountHighWaterBytes);
    this.env.metrics?.frame('sent', body, bytes.byteLength);
  }

  private writeItem(it: OutItem, droppedBefore: number): void {
    const m = this.env.metrics;
    if (m) m.deliveryLatency((this.env.clock.now() - it.enqueuedAt) / 1000);
    if (it.position !== undefined) this.gate?.sequenced(it.channel, it.position, this.log.next); // MN-2: in the same commit as its frame (seq log.next)
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
    const state = this.stateOf(channel);
    if (!state) return; // not a state channel: nothing to send
    const s = create(SnapshotSchema, { channel, version: state.version, state: state.state, digest: state.digest ?? 0, reason });
    this.writeSequenced(create(EnvelopeSchema, { body: { case: 'snapshot', value: s } }), s);
  }

  /** RS-2: the replay, sent-unacked frames with their original seqs, before any other sequenced message. */
  protected writeReplay(frames: readonly { readonly seq: bigint; readonly item: Uint8Array }[]): void {
    const m = this.env.metrics;
    const g = this.gate;
    if (g) g.wireSeq = g.storedSeq; // MN-1: the rest follows from committed(), in order, once stored
    for (const s of frames) {
      if (g && s.seq > g.storedSeq) break;
      this.conn?.write(s.item, this.env.opts.bufferedAmountHighWaterBytes);
      m?.frame('sent', bodyOfFrame(s.item), s.item.byteLength);
    }
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
  protected writeReply(kind: ControlReply, env: Envelope): void {
    const conn = this.conn;
    if (!conn) return;
    if (conn.bufferedAmount > this.env.opts.bufferedAmountHighWaterBytes && conn.isAwaitingDrain) {
      (this.heldReplies ??= new Map()).set(kind, env); // BP-16: the newest replaces the held one
      conn.whenDrained(this);
      return;
    }
    this.writeControl(env);
  }

  /**
   * The socket flushed what was above its high-water mark (Connection calls this; the session is
   * its own drain listener, no closure per session): held replies first (BP-12), then the queue.
   */
  drained(): void {
    // From the socket's write callback: a throw here would escape into the event loop (SEC-4).
    try {
      const held = this.heldReplies ? [...this.heldReplies.values()] : [];
      this.heldReplies = undefined;
      for (const env of held) this.writeControl(env);
      this.pump();
    } catch (err) {
      this.failed(err); // CC-5
    }
  }

  /** A cumulative ack from the client (SEQ-6 checked by the caller): release, then refill the window. */
  applyAck(seq: bigint): void {
    this.log.acknowledge(seq); // SEQ-7 (no list of what it released: nothing here waits on it)
    if (this.gate) this.env.writeAhead?.touch(this); // the store trims too, in this tick's commit
    this.pump();
  }

  /**
   * MN-1: a commit resolved (write-ahead.ts). The frames the store now holds go to the socket, in
   * seq order, and an Ack held for its cursor goes out. One call per session per commit: no
   * closure or promise per frame.
   */
  committed(): void {
    const g = this.gate;
    const conn = this.conn;
    if (!g || !conn || !this.isWritable) return;
    if (g.storedSeq > g.wireSeq) {
      const m = this.env.metrics;
      const hw = this.env.opts.bufferedAmountHighWaterBytes;
      for (const f of this.log.pending()) {
        if (f.seq <= g.wireSeq) continue;
        if (f.seq > g.storedSeq) break;
        conn.write(f.item, hw);
        m?.frame('sent', bodyOfFrame(f.item), f.item.byteLength);
      }
      g.wireSeq = g.storedSeq;
    }
    const held = g.heldAck;
    if (held !== undefined && held <= g.storedProcessed) {
      g.heldAck = undefined;
      this.writeReply('ack', ackEnvelope(held)); // SEQ-5, MN-1
    }
    const ctl = g.heldControl;
    if (ctl) {
      // MN-15: control bodies stating a channel list the store now holds, in the order they were due.
      let i = 0;
      while (i < ctl.length && (ctl[i] as { channels: number }).channels <= g.storedChannels) {
        const b = (ctl[i] as { bytes: Uint8Array }).bytes;
        conn.write(b, this.env.opts.bufferedAmountHighWaterBytes);
        this.env.metrics?.frame('sent', 'subscribed', b.byteLength);
        i++;
      }
      g.heldControl = i === ctl.length ? undefined : ctl.slice(i);
    }
  }
}
