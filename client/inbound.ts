/**
 * The client's receiving half: each server seq processed at most once and in order (SEQ-3, SEQ-4),
 * acked within the ack delay or at half the window (SEQ-5), and channel state kept in step with the
 * server by version and digest, resyncing by Snapshot when it is not (SD-1 … SD-5).
 */
import { create } from '@bufbuild/protobuf';
import {
  DriftReason,
  EnvelopeSchema,
  ResumeOutcome,
  StateDriftSchema,
  type Envelope,
  type Message,
  type Snapshot,
  type StatePatch,
  type Welcome,
} from '../gen/lifeline/v1/envelope_pb.js';
import { stateDigest } from '../spec/protocol/digest.js';
import { ackEnvelope } from '../spec/protocol/fast-codec.js';
import { InboundCursor } from '../spec/protocol/inbound-cursor.js';
import type { ClientClock } from './clock.js';
import type { ChannelReducer } from './reducer.js';

/** The session-wide channel: a Snapshot with it re-baselines the session after a seq gap (SD-4). */
const SESSION_CHANNEL = '';
/** The state every channel starts from, at version 0 (SD-1). */
const EMPTY_STATE = new Uint8Array(0);

export type DriftReasonName = 'seq-gap' | 'version-gap' | 'digest-mismatch' | 'apply-failed';

export interface ChannelView<S> {
  readonly version: bigint;
  readonly state: S;
}

export interface InboundEvents<S> {
  message(m: Message): void;
  channel(channel: string, view: ChannelView<S>, cause: 'snapshot' | 'patch'): void;
  /** The client reported drift to the server (SD-2, SD-3). */
  drift(channel: string, reason: DriftReasonName): void;
}

export interface InboundOptions<S> {
  readonly reducer: ChannelReducer<S>;
  /** The window the client stated in Hello: acks are due at half of it (SEQ-5). */
  readonly receiveWindow: number;
  readonly ackDelayMs: number;
  readonly clock: ClientClock;
  /** Send a control frame on the current socket; false when there is none. */
  readonly sendControl: (env: Envelope) => boolean;
  readonly events: InboundEvents<S>;
}

interface ChannelEntry<S> {
  version: bigint;
  state: S | undefined;
  /** Patches are ignored until a Snapshot of the channel arrives (SD-2). */
  isDrifting: boolean;
}

const DRIFT_CODE: Record<DriftReasonName, DriftReason> = {
  'seq-gap': DriftReason.SEQ_GAP,
  'version-gap': DriftReason.VERSION_GAP,
  'digest-mismatch': DriftReason.DIGEST_MISMATCH,
  'apply-failed': DriftReason.APPLY_FAILED,
};

export class Inbound<S> {
  private cursor = new InboundCursor();
  /** State channels seen; built on the first (an idle client on no state channel holds none: issue 16). */
  private channelMap: Map<string, ChannelEntry<S>> | undefined;
  /** A seq gap was seen: every sequenced frame is ignored until a session Snapshot (SD-2, SD-5). */
  private isSessionDrifting = false;
  private ackTimer: unknown;
  private isAckOwed = false;
  /** The Welcome stated the ack delay (SEQ-12): no Ack before it, except at half the window. */
  private isDelayStated = false;
  /** The ack delay in force: the Welcome's when it states one (SEQ-12), else the client's own (SEQ-5). */
  private ackDelayMs: number;

  constructor(private readonly o: InboundOptions<S>) {
    this.ackDelayMs = o.ackDelayMs;
  }

  /** Highest server seq processed contiguously: Hello.last_server_seq on resume (RS-10). */
  get lastSeq(): bigint {
    return this.cursor.last;
  }
  get isResyncing(): boolean {
    return this.isSessionDrifting;
  }

  private channels(): Map<string, ChannelEntry<S>> {
    return (this.channelMap ??= new Map());
  }

  channel(name: string): ChannelView<S> | undefined {
    const e = this.channelMap?.get(name);
    return e && e.state !== undefined ? { version: e.version, state: e.state } : undefined;
  }

  forget(name: string): void {
    this.channelMap?.delete(name);
  }

  /** A Welcome on a new connection: where the server's stream continues (RS-10, RS-6, RS-4). */
  onWelcome(w: Welcome): void {
    this.cancelAck();
    this.ackDelayMs = w.clientAckDelayMs > 0 ? w.clientAckDelayMs : this.o.ackDelayMs; // SEQ-12
    this.isDelayStated = w.clientAckDelayMs > 0;
    const outcome = w.resume?.outcome ?? ResumeOutcome.NEW;
    const fromSeq = w.resume?.fromSeq ?? 0n;
    // A new seq space; a cursor that never moved is one already (most connects: no garbage).
    if (outcome === ResumeOutcome.NEW && (this.cursor.last !== 0n || this.cursor.lastAcked !== 0n)) this.cursor = new InboundCursor();
    if (fromSeq > 0n) this.cursor.rebase(fromSeq); // RS-10: the next expected seq is from_seq
    this.isSessionDrifting = false; // a replay (or the snapshots that follow) heals a gap
    const channels = this.channelMap;
    if (channels !== undefined) for (const [name, e] of channels) {
      if (outcome === ResumeOutcome.RESUMED) {
        // A drift report may have died with the old socket: ask again (SD-8 coalesces on the server).
        if (e.isDrifting) this.reportDrift(name, 'version-gap', e.version, e.version);
      } else {
        // SD-1: NEW and SNAPSHOT discard channel state; every state channel's Snapshot comes before
        // any patch (RS-4, RS-6), and a channel without one is back at version 0, empty.
        channels.delete(name);
      }
    }
  }

  /** One sequenced frame (SEQ-1). */
  receive(env: Envelope): void {
    const body = env.body;
    if (body.case !== 'message' && body.case !== 'statePatch' && body.case !== 'snapshot') return;
    const seq = body.value.seq;
    if (this.isSessionDrifting) {
      // SD-2: nothing is processed until the session Snapshot re-baselines (SD-4, SD-5) …
      if (body.case === 'snapshot' && seq > this.cursor.last) {
        if (body.value.channel === SESSION_CHANNEL) {
          this.isSessionDrifting = false;
          this.cursor.rebase(seq + 1n); // SD-5: expect snapshot.seq + 1
          this.scheduleAck();
        } else {
          // … except whole channel states: SD-5 does not order the channel Snapshots and the
          // session Snapshot, so one sent first must not be lost (it is newer than the gap).
          this.applySnapshot(body.value);
        }
      }
      return;
    }
    const arrival = this.cursor.classify(seq);
    if (arrival === 'duplicate') {
      this.scheduleAck(true); // SEQ-3: discarded, still acknowledged
      return;
    }
    if (arrival === 'gap') {
      if (body.case === 'snapshot' && body.value.channel === SESSION_CHANNEL) {
        this.cursor.rebase(seq + 1n); // a server-initiated re-baseline (SD-4, SD-6)
        this.scheduleAck();
        return;
      }
      // SEQ-4: never processed; SD-2: report, then ignore everything until re-baselined.
      this.isSessionDrifting = true;
      if (this.channelMap !== undefined) for (const e of this.channelMap.values()) e.isDrifting = true;
      this.o.events.drift(SESSION_CHANNEL, 'seq-gap');
      this.o.sendControl(driftEnvelope(SESSION_CHANNEL, 'seq-gap', seq, this.cursor.last, 0n, 0n));
      return;
    }
    this.cursor.advance(seq);
    switch (body.case) {
      case 'message':
        this.o.events.message(body.value);
        break;
      case 'statePatch':
        this.applyPatch(body.value);
        break;
      case 'snapshot':
        this.applySnapshot(body.value);
        break;
    }
    this.scheduleAck();
  }

  /**
   * receive()'s hot case for a caller that decoded a Message into its own object (client/connection.ts,
   * issue 16): true when `seq` is the next of a stream in step (SEQ-3), now processed; the caller then
   * delivers the message and calls delivered(), as receive() does. False: nothing done, the caller
   * hands the frame to receive() (a duplicate, a gap, a resync under way).
   */
  acceptNext(seq: bigint): boolean {
    if (this.isSessionDrifting || this.cursor.classify(seq) !== 'next') return false;
    this.cursor.advance(seq);
    return true;
  }

  /** After delivering what acceptNext() accepted: the ack it owes (SEQ-5). */
  delivered(): void {
    this.scheduleAck();
  }

  /** Stop timers (close, new socket). */
  stop(): void {
    this.cancelAck();
  }

  private applySnapshot(s: Snapshot): void {
    if (s.channel === SESSION_CHANNEL) return; // in order: the re-baseline carries no state (SD-4)
    let state: S;
    try {
      state = this.o.reducer.snapshot(s.channel, s.state);
    } catch {
      this.markDrift(s.channel, 'apply-failed', s.version, 0n);
      return;
    }
    // SD-4: replaces state and version, and ends the channel's drift.
    this.channels().set(s.channel, { version: s.version, state, isDrifting: false });
    this.o.events.channel(s.channel, { version: s.version, state }, 'snapshot');
  }

  private applyPatch(p: StatePatch): void {
    let e = this.channelMap?.get(p.channel);
    if (e?.isDrifting) return; // SD-2: ignored until the channel's Snapshot
    if (!e) {
      // SD-1: a channel without a Snapshot is at version 0 with the empty state.
      let empty: S;
      try {
        empty = this.o.reducer.snapshot(p.channel, EMPTY_STATE);
      } catch {
        this.markDrift(p.channel, 'apply-failed', p.baseVersion, 0n);
        return;
      }
      e = { version: 0n, state: empty, isDrifting: false };
      this.channels().set(p.channel, e);
    }
    if (e.state === undefined || e.version !== p.baseVersion) {
      // SD-1, SD-2: not applied; report VERSION_GAP.
      this.markDrift(p.channel, 'version-gap', p.baseVersion, e?.version ?? 0n);
      return;
    }
    let next: S;
    try {
      next = this.o.reducer.apply(p.channel, e.state, p.delta);
    } catch {
      this.markDrift(p.channel, 'apply-failed', p.baseVersion, e.version);
      return;
    }
    e.state = next;
    e.version = p.version; // SD-1
    const encodeState = this.o.reducer.encode;
    if (p.digest !== 0 && encodeState && stateDigest(encodeState(p.channel, next)) !== p.digest) {
      this.markDrift(p.channel, 'digest-mismatch', p.version, p.version); // SD-3
      return;
    }
    this.o.events.channel(p.channel, { version: e.version, state: next }, 'patch');
  }

  private markDrift(channel: string, reason: DriftReasonName, expected: bigint, actual: bigint): void {
    const e = this.channelMap?.get(channel);
    if (e) e.isDrifting = true;
    else this.channels().set(channel, { version: 0n, state: undefined, isDrifting: true });
    this.reportDrift(channel, reason, expected, actual);
  }

  private reportDrift(channel: string, reason: DriftReasonName, expected: bigint, actual: bigint): void {
    this.o.events.drift(channel, reason);
    this.o.sendControl(driftEnvelope(channel, reason, 0n, this.cursor.last, expected, actual));
  }

  /** SEQ-5, SEQ-12: ack at once at half the window, else within the ack delay in force. */
  private scheduleAck(isOwedAnyway = false): void {
    if (isOwedAnyway) this.isAckOwed = true;
    if (this.cursor.ackDueNow(this.o.receiveWindow)) {
      this.flushAck();
      return;
    }
    if (this.ackTimer === undefined && (this.cursor.unackedCount > 0 || this.isAckOwed)) {
      this.ackTimer = this.o.clock.setTimeout(() => {
        this.ackTimer = undefined;
        this.flushAck();
      }, this.ackDelayMs);
    }
  }

  /**
   * A request is about to carry the client's frames (HT-28, the HTTP carrier): an Ack waiting for its
   * delay goes in it now (SEQ-5: sooner is allowed) instead of in a request of its own later. Not when
   * the server stated the delay (SEQ-12).
   */
  ackEarly(): void {
    if (this.ackTimer !== undefined && !this.isDelayStated) this.flushAck();
  }

  private flushAck(): void {
    this.cancelAck();
    if (this.cursor.last === 0n) return; // nothing processed in this seq space yet
    const seq = this.cursor.last;
    if (this.o.sendControl(ackEnvelope(seq))) {
      this.cursor.markAcked();
      this.isAckOwed = false;
    }
  }

  private cancelAck(): void {
    if (this.ackTimer !== undefined) this.o.clock.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }
}

function driftEnvelope(channel: string, reason: DriftReasonName, serverSeq: bigint, clientSeq: bigint, expected: bigint, actual: bigint): Envelope {
  const d = create(StateDriftSchema, {
    channel,
    serverSeq,
    clientSeq,
    expectedVersion: expected,
    actualVersion: actual,
    reason: DRIFT_CODE[reason],
  });
  return create(EnvelopeSchema, { body: { case: 'stateDrift', value: d } });
}
