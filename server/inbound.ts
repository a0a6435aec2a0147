/**
 * The server's receiving half of a session (SEQ-3, SEQ-5, SEQ-9, SEQ-10): client
 * Messages go to the application once each and in order, and are acknowledged
 * only after it has them. An async handler holds the ack, and the messages
 * behind it, until it settles; a handler that throws fails the session (CC-5)
 * and nothing it did not receive counts as processed.
 */
import type { Message } from '../gen/lifeline/v1/envelope_pb.js';
import { isAckDueNow } from '../spec/protocol/session-rules.js';
import type { Clock, TimerHandle } from './clock.js';
import type { ClientMessage, MaybePromise } from './types.js';

/** The server settings ClientInbound reads; a session passes its SessionEnv (one object per server). */
export interface InboundEnv {
  readonly opts: {
    readonly ackDelayMs: number;
    /** The window the server grants the client (Welcome.receive_window): ack at half of it (SEQ-5). */
    readonly receiveWindow: number;
  };
  /** The server's clock: the ack delay is one of its timers. */
  readonly clock: Clock;
}

/**
 * What ClientInbound calls back: the session itself, as one object with three methods rather than
 * three closures and their context per session (memory per idle session, issue 12).
 */
export interface InboundHost {
  /** Hand a message to the application; may return a promise (SEQ-10). */
  handleClientMessage(m: ClientMessage): MaybePromise<void>;
  /** Write an Ack now; false when there is no socket (Welcome.last_client_seq carries it later). */
  writeAck(seq: bigint): boolean;
  /** The handler failed (CC-5). */
  inboundFailed(err: unknown): void;
  /** A write to the socket is already due (frames held for this tick or not yet flushed): an Ack written now rides it. */
  isWritePending(): boolean;
}

export class ClientInbound {
  /**
   * Highest client seq accepted for processing: what arrivals are classified against (SEQ-3,
   * SEQ-4). A field, not an InboundCursor: its other half (the acked seq) is `ackedUpTo` here, and an
   * object per session is 40 B (issue 16, memory per idle session).
   */
  private accepted = 0n;
  /** Highest client seq the application has received: the ack value and Welcome.last_client_seq. */
  private completed = 0n;
  private ackedUpTo = 0n;
  private isAckForced = false;
  private ackTimer: TimerHandle | undefined;
  /** When the ack timer was armed (clock ms): from half the delay on, an Ack may ride a write already due. */
  private ackArmedAt = 0;
  /** Handler calls still running; while > 0 new messages queue behind them. */
  private depth = 0;
  /** The running handler calls, made on the first async handler: an idle session holds no Promise. */
  private chain: Promise<void> | undefined;
  private isBroken = false;

  constructor(
    private readonly host: InboundHost,
    private readonly env: InboundEnv,
  ) {}

  /**
   * The highest client seq the server has acknowledged (an Ack written or held, or a Welcome's
   * last_client_seq): a client may have at most the receive window beyond it (BP-1, BP-17).
   */
  get lastAckSent(): bigint {
    return this.ackedUpTo;
  }

  /** Highest client seq accepted for processing (SEQ-3): ingress classifies the next arrival against it. */
  get lastAccepted(): bigint {
    return this.accepted;
  }

  /** Welcome.last_client_seq (SEQ-9). */
  get lastProcessed(): bigint {
    return this.completed;
  }

  /** The application's handler calls still running, settled (either way); undefined when none runs (MN-17). */
  whenIdle(): Promise<void> | undefined {
    return this.chain?.then(
      () => undefined,
      () => undefined,
    );
  }

  /** A Message classified 'next' (the machine decided): deliver it, ack once the application has it. */
  deliver(m: Message): void {
    this.accepted = m.seq; // the caller classified it 'next' (SEQ-3)
    const msg: ClientMessage = { seq: m.seq, channel: m.channel, key: m.key, messageId: m.messageId, payload: m.payload };
    if (this.depth > 0) {
      this.depth++;
      this.chain = (this.chain ?? Promise.resolve())
        .then(() => (this.isBroken ? undefined : this.host.handleClientMessage(msg)))
        .then(() => {
          if (!this.isBroken) this.completeTo(msg.seq);
        }, (err: unknown) => this.failed(err))
        .finally(() => this.settled());
      return;
    }
    let r: MaybePromise<void>;
    try {
      r = this.host.handleClientMessage(msg);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (r instanceof Promise) {
      this.depth = 1;
      this.chain = r.then(() => this.completeTo(msg.seq), (err: unknown) => this.failed(err)).finally(() => this.settled());
    } else {
      this.completeTo(msg.seq);
    }
  }

  /** A handler call settled; the last one releases the chain. */
  private settled(): void {
    if (--this.depth === 0) this.chain = undefined;
  }

  private failed(err: unknown): void {
    if (this.isBroken) return;
    this.isBroken = true;
    // The client resends what the application did not receive, after its resume.
    this.accepted = this.completed;
    this.host.inboundFailed(err);
  }

  private completeTo(seq: bigint): void {
    if (seq > this.completed) this.completed = seq; // SEQ-10: now it may be acked
    this.scheduleAck();
  }

  /** SEQ-3: a duplicate is discarded and still acknowledged, at once: it came for want of an ack. */
  ackDuplicate(): void {
    this.isAckForced = true;
    this.sendAck();
  }

  /**
   * SEQ-5: within the ack delay, or at once when half the window is unacked. "A receiver may
   * acknowledge sooner": once half the delay has passed, an Ack due rides a write the socket is
   * making anyway (an echo, a reply of this burst) instead of waiting for its timer, which would
   * write it alone. Issue 16: at 100 sessions echoing, each timer's Ack was a write syscall of its
   * own (and a read on the client), ~4 % of the server's CPU; riding, it is a few bytes more in
   * a burst. With nothing to ride (a client that only sends), the timer writes it, as before.
   */
  private scheduleAck(): void {
    const o = this.env.opts;
    if (isAckDueNow(Number(this.completed - this.ackedUpTo), o.receiveWindow)) {
      this.sendAck();
      return;
    }
    if (this.ackTimer === undefined) {
      this.ackTimer = this.env.clock.setTimeout(() => this.sendAck(), o.ackDelayMs);
      this.ackArmedAt = this.env.clock.now();
      return;
    }
    if (this.host.isWritePending() && this.env.clock.now() - this.ackArmedAt >= o.ackDelayMs / 2) this.sendAck(); // SEQ-5
  }

  private sendAck(): void {
    this.stopTimer();
    if (this.completed === this.ackedUpTo && !this.isAckForced) return;
    if (!this.host.writeAck(this.completed)) return;
    this.isAckForced = false;
    this.ackedUpTo = this.completed;
  }

  /**
   * Send the Ack a timer is waiting to send, now (SEQ-5): before the server closes the socket, so a
   * message it processed is never re-sent by the client to the next process and applied twice.
   */
  flushAck(): void {
    if (this.ackTimer !== undefined) this.sendAck();
  }

  /** A session revived from its record (issue 12): the client's stream continues where it was. */
  restore(lastProcessed: bigint, lastAckSent: bigint): void {
    this.accepted = lastProcessed;
    this.completed = lastProcessed;
    this.ackedUpTo = lastAckSent;
  }

  /** A new socket's Welcome stated last_client_seq: that acknowledges everything so far (SEQ-9). */
  welcomed(): void {
    this.isBroken = false;
    this.ackedUpTo = this.completed;
  }

  stopTimer(): void {
    if (this.ackTimer !== undefined) this.env.clock.clearTimeout(this.ackTimer); // a simulated clock's first id is 0
    this.ackTimer = undefined;
  }

  /** The session is over: no more handler calls or acks. */
  dispose(): void {
    this.stopTimer();
    this.isBroken = true;
  }
}
