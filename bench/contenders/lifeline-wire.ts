/**
 * A lean Lifeline client for the load generator: it speaks the protocol through
 * the codec (Hello/Welcome, in-order delivery with duplicate discard, cumulative
 * acks within ackDelayMs or at half window, application heartbeats, resume) and
 * keeps no per-message history, so one process can drive 10,000 sessions.
 * Used where the server's cost is measured (memory, liveness, fan-out, resume,
 * storm, slow consumer); the reference client (client/) carries more machinery.
 */
import { create } from '@bufbuild/protobuf';
import { WebSocket } from 'ws';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  HelloSchema,
  MessageSchema,
  type DrainNotice,
  type Welcome,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../spec/protocol/defaults.js';

export interface WireOptions {
  readonly url: string;
  readonly channels?: readonly string[];
  /** How many server messages may be in flight to us (Hello.receive_window). */
  readonly receiveWindow?: number;
  /** Resume this session (Hello.session_id + last_server_seq). */
  readonly resume?: { readonly sessionId: string; readonly lastServerSeq: bigint };
  /** Ack at the latest this long after a message (SEQ-5). */
  readonly ackDelayMs?: number;
  /** Send application heartbeats (HB-5); default true. */
  readonly isHeartbeating?: boolean;
  /** Called for every new in-order Message payload. */
  readonly onMessage?: (payload: Uint8Array, seq: bigint) => void;
  readonly onDrain?: (notice: DrainNotice) => void;
  readonly onClose?: (code: number) => void;
  /** Do not read: pause the TCP socket right after Welcome (slow consumer). */
  readonly isPaused?: boolean;
}

let heartbeatIds = 1;

export class WireClient {
  readonly ws: WebSocket;
  welcome: Welcome | undefined;
  /** Highest server seq received contiguously. */
  lastSeq = 0n;
  private ackedSeq = 0n;
  private clientSeq = 0n;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private hbTimer: ReturnType<typeof setInterval> | undefined;
  private halfWindow = 128;
  duplicates = 0;
  gaps = 0;
  isClosed = false;

  private constructor(private readonly o: WireOptions, resolve: (c: WireClient) => void, reject: (e: Error) => void) {
    this.ws = new WebSocket(o.url, SUBPROTOCOL, { perMessageDeflate: false });
    this.ws.binaryType = 'nodebuffer';
    this.ws.once('open', () => {
      this.ws.send(
        encode(
          create(EnvelopeSchema, {
            body: {
              case: 'hello',
              value: create(HelloSchema, {
                protocolVersion: PROTOCOL_VERSION,
                sessionId: o.resume?.sessionId ?? '',
                lastServerSeq: o.resume?.lastServerSeq ?? 0n,
                receiveWindow: o.receiveWindow ?? 0,
                channels: [...(o.channels ?? [])],
                agent: 'lifeline-bench/0',
              }),
            },
          }),
        ),
      );
    });
    if (o.resume) this.lastSeq = o.resume.lastServerSeq;
    this.ws.on('message', (data: Buffer) => this.onFrame(data, resolve));
    this.ws.once('error', (e) => {
      if (!this.welcome) reject(e);
    });
    this.ws.once('close', (code) => {
      this.isClosed = true;
      this.stopTimers();
      if (!this.welcome) reject(new Error(`closed ${code} before Welcome`));
      o.onClose?.(code);
    });
  }

  static connect(o: WireOptions): Promise<WireClient> {
    return new Promise((resolve, reject) => new WireClient(o, resolve, reject));
  }

  get sessionId(): string {
    return this.welcome?.sessionId ?? '';
  }

  private onFrame(data: Buffer, resolve: (c: WireClient) => void): void {
    const r = decode(data, { from: 'server' });
    if (!r.ok) return;
    const body = r.envelope.body;
    switch (body.case) {
      case 'welcome': {
        this.welcome = body.value;
        this.halfWindow = Math.max(1, Math.floor((this.o.receiveWindow || 256) / 2));
        if (this.o.isHeartbeating ?? true) {
          const every = body.value.heartbeatIntervalMs;
          this.hbTimer = setInterval(() => this.heartbeat(), every);
          this.hbTimer.unref();
        }
        if (this.o.isPaused) (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
        resolve(this);
        return;
      }
      case 'message':
      case 'statePatch':
      case 'snapshot': {
        const seq = body.value.seq;
        if (seq <= this.lastSeq) {
          this.duplicates++; // SEQ-3: discard, still ack
        } else if (seq === this.lastSeq + 1n) {
          this.lastSeq = seq;
          if (body.case === 'message') this.o.onMessage?.(body.value.payload, seq);
        } else {
          this.gaps++;
          this.lastSeq = seq; // the bench counts gaps; it does not resync
        }
        this.scheduleAck();
        return;
      }
      case 'heartbeat':
        this.ws.send(
          encode(create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: create(HeartbeatAckSchema, { id: body.value.id, echoSentAtMs: body.value.sentAtMs }) } })),
        );
        return;
      case 'drainNotice':
        this.o.onDrain?.(body.value);
        return;
      default:
        return;
    }
  }

  private scheduleAck(): void {
    if (this.lastSeq - this.ackedSeq >= BigInt(this.halfWindow)) {
      this.sendAck();
      return;
    }
    // SEQ-12: the Welcome's ack delay when it states one.
    const delay = this.welcome?.clientAckDelayMs || (this.o.ackDelayMs ?? 20);
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.sendAck(), delay);
  }

  private sendAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.lastSeq === this.ackedSeq || this.ws.readyState !== WebSocket.OPEN) return;
    this.ackedSeq = this.lastSeq;
    this.ws.send(encode(create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq: this.lastSeq }) } })));
  }

  private heartbeat(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const sentAtMs = BigInt(Math.floor(performance.now()));
    this.ws.send(encode(create(EnvelopeSchema, { body: { case: 'heartbeat', value: create(HeartbeatSchema, { id: heartbeatIds++ >>> 0, sentAtMs }) } })));
  }

  /** Send an application Message (seq numbered here; the bench never needs a replay of its own sends). */
  send(payload: Uint8Array, channel = ''): void {
    this.clientSeq++;
    this.ws.send(encode(create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: this.clientSeq, channel, payload }) } })));
  }

  private stopTimers(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.hbTimer = undefined;
    this.ackTimer = undefined;
  }

  /** Vanish without a close frame (the session stays resumable). */
  drop(): void {
    this.stopTimers();
    this.ws.terminate();
  }

  /** A close we chose: the Ack still waiting for its delay goes first (SEQ-5), or the server would replay it elsewhere. */
  close(): void {
    this.sendAck();
    this.stopTimers();
    this.ws.close(1000);
  }
}
