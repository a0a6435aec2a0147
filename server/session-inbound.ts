/**
 * The receiving half of a session (spec §6, SEQ-3 … SEQ-10, MN-5, MN-17): client messages through
 * dedupe to the application, their acks, and the hand-over bookkeeping of a shared store's session
 * when its client moves to another node.
 *
 * A base class of LiveSession (server/session.ts) over the sending half (session-outbound.ts), not
 * an object of its own: split out of session.ts along this seam to keep each file one job (issue
 * 12), while a session stays one object (memory per idle session).
 */
import type { BackpressurePolicy, Message } from '../gen/lifeline/v1/envelope_pb.js';
import { ackEnvelope } from '../spec/protocol/fast-codec.js';
import { HandedOver, HandoffCut } from './handoff.js';
import { ClientInbound, type InboundHost } from './inbound.js';
import type { SessionActor } from './session-actor.js';
import { Flag, SessionOutbound, type OutboundEnv } from './session-outbound.js';
import type { SessionRecord } from './stores/session-record.js';
import type { SessionStore } from './stores/session-store.js';
import { StoreRetryAbandoned, untilStored } from './stores/store-retry.js';
import type { ClientMessage, MaybePromise } from './types.js';

/** What the receiving half needs from its server; SessionEnv (session.ts) extends it. */
export interface InboundSessionEnv extends OutboundEnv {
  /** Where client message ids processed are remembered, by principal (SEQ-8); undefined = no dedupe. */
  readonly dedupe: Pick<SessionStore, 'hasMessageId' | 'addMessageId'> | undefined;
}

export abstract class SessionInbound extends SessionOutbound implements InboundHost {
  /** The base keeps it; this half reads `dedupe` too (a type only, no field of its own). */
  protected declare readonly env: InboundSessionEnv;
  /** Client messages: dedupe, delivery to the application, acks (SEQ-3, SEQ-5, SEQ-10). */
  readonly inbound: ClientInbound;
  /** MN-17: ids handed to the application whose write has not landed, and whether the handoff is cut; a shared store's sessions only. */
  private hands: HandedOver | undefined;

  constructor(id: string, readonly principal: string, actor: SessionActor, env: InboundSessionEnv, policy: BackpressurePolicy, window: number) {
    super(id, actor, env, policy, window);
    // The session is the inbound's host and env its settings: no closures per session (memory per idle session).
    this.inbound = new ClientInbound(this, env);
  }

  /** To the application (SEQ-10): its typed event and its handler; session.ts has the application's view. */
  protected abstract handOver(msg: ClientMessage): MaybePromise<void>;

  // ---- InboundHost (server/inbound.ts) ----

  /** A client message for the application, after dedupe (SEQ-8, SEQ-10). */
  handleClientMessage(msg: ClientMessage): MaybePromise<void> {
    const ids = this.env.dedupe;
    if (!ids || msg.messageId === '') return this.env.writeAhead ? this.handOverShared(msg, undefined) : this.handOver(msg); // a shared store's: MN-17
    const seen = ids.hasMessageId(this.principal, msg.messageId); // SEQ-8: synchronous for the memory store
    // A shared store answers later; ClientInbound holds this message's ack and those behind it meanwhile (SEQ-10).
    // While it is away the question is asked again, never failed (MN-6).
    if (seen instanceof Promise) {
      return untilStored(seen, () => ids.hasMessageId(this.principal, msg.messageId), this.isGone).then((isSeen) => (isSeen ? undefined : this.handOverShared(msg, ids)));
    }
    if (seen) return; // SEQ-8: seen through another path; processed (and acked) once
    return this.env.writeAhead ? this.handOverShared(msg, ids) : this.handOverRemembered(msg, ids); // a shared store's: MN-17
  }

  /** An Ack now; false without a writable socket (the next Welcome's last_client_seq carries it). */
  writeAck(seq: bigint): boolean {
    if (!this.conn || !this.isWritable) return false;
    const g = this.gate;
    if (g && seq > g.storedProcessed) {
      // MN-1: not before the store holds the cursor at seq (this tick's commit; committed() writes it).
      g.heldAck = seq;
      this.env.writeAhead?.touch(this);
      return true;
    }
    this.writeReply('ack', ackEnvelope(seq)); // SEQ-5: as create() builds it, without the schema walk
    return true;
  }

  /** A write to the socket is already due: an Ack written now rides it (inbound.ts, SEQ-5). */
  isWritePending(): boolean {
    const conn = this.conn;
    return conn !== undefined && this.isWritable && conn.bufferedAmount > 0;
  }

  /** The client's stream as the store should hold it (write-ahead.ts). */
  inboundCursor(): SessionRecord['inbound'] {
    return { lastProcessed: this.inbound.lastProcessed, lastAckSent: this.inbound.lastAckSent };
  }

  /** The application's handler failed (CC-5). */
  inboundFailed(err: unknown): void {
    if (err instanceof StoreRetryAbandoned) return; // the session ended while a store call waited: nothing to fail
    if (err instanceof HandoffCut) return; // MN-17: the client moved; it resends what was held back
    this.env.metrics?.messageFailed();
    this.failed(err);
  }

  /**
   * A shared store's path (MN-5, MN-17): nothing more reaches the application once the handoff was
   * cut (the client moved: it resends this message to the node it went to), and the id of each
   * message handed over is known until its write lands, so the release can write it first.
   */
  private handOverShared(msg: ClientMessage, ids: InboundSessionEnv['dedupe']): MaybePromise<void> {
    const hands = (this.hands ??= new HandedOver());
    if (hands.isCut || this.isGone()) throw new HandoffCut();
    const r = ids ? this.handOverRemembered(msg, ids) : this.handOver(msg);
    if (!(r instanceof Promise)) return r; // finished now, its id (if any) written
    const key = ids ? msg.messageId : ''; // '' : no id to write, only a handler to wait for
    hands.add(key);
    return r.finally(() => hands.done(key));
  }

  /**
   * MN-17, the release on the node the client left: from now on nothing more is handed to the
   * application here (messages still waiting for their dedupe answer are held back, unacknowledged:
   * the client resends them where it resumes), so what it was given here is fixed; storeHandedIds
   * then writes their ids, handler done or not, and the node the client resumes on drops the
   * resends (MN-5) however long that handler or the store took. A socket attaching here again
   * undoes it (handoffResumed).
   */
  cutHandoff(): void {
    (this.hands ??= new HandedOver()).isCut = true;
  }

  /** MN-17: resolves once the store holds the id of every message the application was given here and whose write has not landed (after cutHandoff: a fixed set). */
  storeHandedIds(): Promise<void> {
    const ids = this.env.dedupe;
    return this.hands && ids ? this.hands.storeIds(ids, this.principal, this.isGone) : Promise.resolve();
  }

  /**
   * MN-17: resolves once the application finished every message it was given here and their ids
   * are written; undefined when none is unfinished. After cutHandoff the set only shrinks: messages
   * still waiting for their dedupe answer are held back, so the handoff does not wait for them.
   */
  whenHandedDone(): Promise<void> | undefined {
    return this.hands?.whenEmpty();
  }

  /** A socket attached here again (RS-2): its messages reach the application here again. */
  handoffResumed(): void {
    if (this.hands) this.hands.isCut = false;
  }

  /** To the application, then its id remembered: a handler that fails has not processed it (SEQ-8, SEQ-10). */
  private handOverRemembered(msg: ClientMessage, ids: NonNullable<InboundSessionEnv['dedupe']>): MaybePromise<void> {
    const r = this.handOver(msg);
    // A closure only for a handler that returned a promise (issue 16: not one per message).
    if (r instanceof Promise) return r.then(() => this.remember(msg, ids));
    return this.remember(msg, ids);
  }

  /** MN-1, MN-6: the Ack waits for the id's write; a store that is away is written again when back. */
  private remember(msg: ClientMessage, ids: NonNullable<InboundSessionEnv['dedupe']>): MaybePromise<void> {
    const added = ids.addMessageId(this.principal, msg.messageId);
    return added instanceof Promise ? untilStored(added, () => ids.addMessageId(this.principal, msg.messageId), this.isGone) : added;
  }

  get lastClientSeq(): bigint {
    return this.inbound.lastProcessed;
  }

  // ---- from the machine (ingress.ts classified the arrival) ----

  deliver(m: Message): void {
    this.inbound.deliver(m);
  }

  ackDuplicate(): void {
    this.inbound.ackDuplicate();
  }

  /** Stop timers; the session is over. The socket, if any, is closed by the machine after this (CC-6). */
  dispose(): void {
    this.setFlag(Flag.disposed, true);
    this.inbound.dispose();
  }

  /** For store retries (MN-6): the session is over, stop asking. An arrow, made once per session only when read. */
  protected get isGone(): () => boolean {
    return () => (this.flags & Flag.disposed) !== 0;
  }
}
