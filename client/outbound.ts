/**
 * The client's sending half: no loss, no duplicates (SEQ-2, SEQ-7, SEQ-9, BP-1, BP-13).
 *
 * A send waits in a bounded queue until it may be written (a Welcome on this connection, and room in
 * the server's receive window), gets its seq from the OutboundLog as it is written, and stays there
 * until the server's cumulative Ack covers it; then it is settled. After a resume the unacked
 * messages are written again with their original seqs; after a NEW session they are renumbered from 1.
 */
import { ResumeOutcome, type Welcome } from '../gen/lifeline/v1/envelope_pb.js';
import { encode, validate } from '../spec/protocol/codec.js';
import { defaults } from '../spec/protocol/defaults.js';
import { isProtocolError, ProtocolError } from '../spec/protocol/errors.js';
import { encodeFast, messageEnvelope, messageFrameBytes, type MessageEnvelope } from '../spec/protocol/fast-codec.js';
import { OutboundLog } from '../spec/protocol/outbound-log.js';
import { InvalidMessageError, PayloadTooLargeError, QueueFullError, type SendError } from './errors.js';

export interface SendOptions {
  readonly channel?: string;
  /** Coalescing key (BP-8); meaningful to the server's policies only. */
  readonly key?: string;
  /** End-to-end dedupe id (SEQ-8); generated when absent so a resend after a NEW session can be deduped. */
  readonly messageId?: string;
}

/** Told once how a message ended: undefined when the server acknowledged it, else why it failed. */
export type SendSettled = (error: SendError | undefined, messageId: string) => void;

interface Pending {
  readonly payload: Uint8Array;
  readonly channel: string;
  readonly key: string;
  readonly messageId: string;
  readonly settled: SendSettled;
}

export interface OutboundOptions {
  /** Most messages not yet acknowledged, queued and in flight together (BP-13). */
  readonly queueLimitMessages: number;
  /** Prefix of generated message ids. */
  readonly idPrefix: string;
  /**
   * Test only: false sends every message through the queue (the slow path the direct write is proven
   * equal to, outbound.test.ts). Default true.
   */
  readonly mayWriteDirect?: boolean;
}

/** The largest seq a message can carry: sizing a frame with it gives an upper bound (WIRE-4). */
const MAX_SEQ = (1n << 63n) - 1n;
const EMPTY = new Uint8Array(0);

export class Outbound {
  private readonly log = new OutboundLog<Pending>({ window: defaults.receiveWindow });
  /** Accepted, not yet written (no seq yet). */
  private queue: Pending[] = [];
  private write: ((bytes: Uint8Array) => void) | undefined;
  private maxPayloadBytes: number = defaults.maxPayloadBytes;
  private nextId = 0;
  /** Built on the first send (an idle client holds none). */
  private scratch: MessageEnvelope | undefined;

  private readonly mayWriteDirect: boolean;

  constructor(private readonly opts: OutboundOptions) {
    this.mayWriteDirect = opts.mayWriteDirect ?? true;
  }

  /** Accepted and not acknowledged: queued plus in flight. */
  get pendingCount(): number {
    return this.queue.length + this.log.inFlight;
  }
  get queuedCount(): number {
    return this.queue.length;
  }
  get inFlightCount(): number {
    return this.log.inFlight;
  }
  /** Highest seq written on the current session (0 = none). */
  get lastSentSeq(): bigint {
    return this.log.lastSent;
  }
  get ackedSeq(): bigint {
    return this.log.acked;
  }

  /**
   * Queue one message; `settled` is called once, when the server acks it or with a SendError (a
   * refusal here is reported synchronously). Returns the message id. A callback, not a promise:
   * `post()` costs no promise per message.
   */
  send(payload: Uint8Array, o: SendOptions | undefined, settled: SendSettled): string {
    const messageId = this.messageIdFor(o);
    if (this.pendingCount >= this.opts.queueLimitMessages) {
      settled(new QueueFullError(this.opts.queueLimitMessages), messageId); // BP-13: visible, never silent
      return messageId;
    }
    const p: Pending = { payload, channel: o?.channel ?? '', key: o?.key ?? '', messageId, settled };
    let size: number;
    try {
      size = this.sizeAt(p, MAX_SEQ);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      settled(new InvalidMessageError(err.reason), messageId); // WIRE-5: rejected locally
      return messageId;
    }
    if (size > this.maxPayloadBytes) {
      settled(new PayloadTooLargeError(size, this.maxPayloadBytes), messageId); // WIRE-4: rejected locally
      return messageId;
    }
    // Issue 16: a send meeting an empty queue with the window open is written at once, as pump()
    // would write it (BP-1, SEQ-2), without passing through the queue.
    const write = this.write;
    if (this.mayWriteDirect && write !== undefined && this.queue.length === 0 && this.log.hasRoom) {
      this.writeOne(p, write);
      return messageId;
    }
    this.queue.push(p);
    this.pump();
    return messageId;
  }

  /** The message's id: the application's, or a new one (SEQ-8: a resend after a NEW session can be deduped). */
  messageIdFor(o: SendOptions | undefined): string {
    return o?.messageId ?? `${this.opts.idPrefix}${(this.nextId++).toString(36)}`;
  }

  /**
   * A Welcome arrived on a new connection: adopt its window and payload limit, then resend what it
   * did not get (SEQ-9) and start writing. `write` is the socket's send.
   */
  attach(welcome: Welcome, write: (bytes: Uint8Array) => void): void {
    this.log.window = Math.max(1, welcome.receiveWindow || defaults.receiveWindow); // BP-1, BP-5
    this.maxPayloadBytes = welcome.maxPayloadBytes || defaults.maxPayloadBytes;
    this.write = write;
    const outcome = welcome.resume?.outcome ?? ResumeOutcome.NEW;
    if (outcome === ResumeOutcome.RESUMED || outcome === ResumeOutcome.SNAPSHOT) {
      const peer = welcome.lastClientSeq;
      if (peer > this.log.acked && peer <= this.log.lastSent) this.settle(this.log.ack(peer));
      const replay = this.log.replayAfter(peer);
      if (replay === undefined) {
        // The server claims to have processed what was never sent, or forgot what it acked.
        throw new ProtocolError('PROTOCOL_ERROR', 'SEQ-9', `Welcome.last_client_seq ${peer} outside acked ${this.log.acked}..sent ${this.log.lastSent}`);
      }
      // SEQ-9: every unacked message above last_client_seq, in order, with its original seq.
      for (const s of replay) write(this.encodeAt(s.item, s.seq));
    } else {
      // HS-14, SEQ-11: a NEW session has processed nothing of this client; a claim otherwise is a
      // broken server, and replaying from it would skip messages.
      if (welcome.lastClientSeq !== 0n) {
        throw new ProtocolError('PROTOCOL_ERROR', 'SEQ-11', `Welcome NEW with last_client_seq ${welcome.lastClientSeq}`);
      }
      // SEQ-9: a NEW session renumbers from 1; resent before any new message (at-least-once).
      this.queue = [...this.log.reset(), ...this.queue];
    }
    this.pump();
  }

  /** The socket is gone or no longer ours to write (reconnecting, drain). */
  detach(): void {
    this.write = undefined;
  }

  /** A cumulative Ack (SEQ-5). An ack beyond the last sent seq throws ProtocolError (SEQ-6). */
  onAck(seq: bigint): void {
    this.settle(this.log.ack(seq));
    this.pump();
  }

  /** Reject every message not yet acknowledged (close(), failed). */
  failAll(err: SendError): void {
    const all = [...this.log.reset(), ...this.queue];
    this.queue = [];
    for (const p of all) p.settled(err, p.messageId);
  }

  /** Write queued messages while the window has room (BP-1). */
  private pump(): void {
    const write = this.write;
    if (!write) return;
    while (this.queue.length > 0 && this.log.hasRoom) this.writeOne(this.queue.shift() as Pending, write);
  }

  /** Number one message and write it (the caller checked the window, BP-1). */
  private writeOne(p: Pending, write: (bytes: Uint8Array) => void): void {
    const bytes = this.encodeAt(p, this.log.next);
    if (bytes.byteLength > this.maxPayloadBytes) {
      p.settled(new PayloadTooLargeError(bytes.byteLength, this.maxPayloadBytes), p.messageId); // the limit shrank
      return;
    }
    this.log.send(p, p.payload.byteLength); // SEQ-2: the seq is given as it is written
    write(bytes);
  }

  private settle(released: readonly { item: Pending }[]): void {
    for (const s of released) s.item.settled(undefined, s.item.messageId);
  }

  private encodeAt(p: Pending, seq: bigint): Uint8Array {
    const env = this.fill(p, seq);
    try {
      // The bytes are new; the envelope is not kept. validate() passed when the send was accepted
      // (sizeAt) and depends on no seq ≥ 1, so encode()'s second run of it is skipped: encodeFast is
      // encode() minus validate() for a Message (fast-codec.test.ts), protobuf-es where it steps aside.
      return encodeFast(env) ?? encode(env);
    } finally {
      env.body.value.payload = EMPTY;
    }
  }

  /**
   * The frame's length without writing it: encoding here copied every payload once more (issue 7).
   * Throws what encode() throws (WIRE-5), as encoding did.
   */
  private sizeAt(p: Pending, seq: bigint): number {
    const env = this.fill(p, seq);
    try {
      const problem = validate(env);
      if (problem) throw problem;
      return messageFrameBytes(env.body.value, seq) ?? encode(env).byteLength;
    } finally {
      env.body.value.payload = EMPTY;
    }
  }

  /** The one scratch envelope, filled for `p` at `seq`: a Message envelope per send showed in the heap profile. */
  private fill(p: Pending, seq: bigint): MessageEnvelope {
    const env = (this.scratch ??= messageEnvelope(0n, '', '', '', EMPTY, 0));
    const m = env.body.value;
    m.seq = seq;
    m.messageId = p.messageId;
    m.channel = p.channel;
    m.key = p.key;
    m.payload = p.payload;
    return env;
  }
}
