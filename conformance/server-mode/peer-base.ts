/**
 * What a raw Lifeline client of server mode is, whatever carries its frames: well-behaved by default
 * (Hello, heartbeats, answers to Heartbeat) and adversarial on demand (withheld reads, skipped or
 * repeated seqs, vanishing without a close). Every frame goes into the transcript. A carrier (the
 * WebSocket of ws-peer.ts, the HTTP carrier of http-peer.ts, spec §22) supplies the bytes and the
 * close; everything a case reads (frames, bodies, seqs, the close) is decided here, once.
 */
import { create } from '@bufbuild/protobuf';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import {
  BackpressurePolicy,
  EnvelopeSchema,
  HelloSchema,
  type Envelope,
  type Hello,
  type Welcome,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../spec/protocol/defaults.js';
import { CaseFailure } from '../framework/failure.js';
import type { Transcript } from '../framework/transcript.js';
import { Waiters } from '../framework/waiters.js';
import type { WsFrameSpec } from '../wire.js';

export type Body = NonNullable<Envelope['body']['case']>;
export type BodyOf<K extends Body> = Extract<Envelope['body'], { case: K }>['value'];

/** The carrier of a peer's frames: a WebSocket, or the HTTP carrier of spec §22. */
export type Transport = 'ws' | 'http';

export function envelope<K extends Body>(body: K, value: object): Envelope {
  return create(EnvelopeSchema, { body: { case: body, value } as Envelope['body'] });
}

export interface PeerOptions {
  /** The carrier (default: the run's, ws unless `--transport http`). */
  readonly transport?: Transport;
  /** WebSocket subprotocols offered; over HTTP the Lifeline-Protocol header (none when empty). */
  readonly protocols?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly origin?: string;
  /** Answer WebSocket pings (default true). false = a zombie at the protocol level (WebSocket only). */
  readonly autoPong?: boolean;
  /** Send an application Heartbeat every this many ms while open (HB-7); 0 = never. */
  readonly heartbeatMs?: number;
  /** Answer server Heartbeats with HeartbeatAck (HB-6; default true). */
  readonly answerHeartbeats?: boolean;
  /** Hello fields every Hello of this peer starts from (a valid token for hello-auth). */
  readonly helloDefaults?: Partial<Omit<Hello, '$typeName'>>;
  /** Offer permessage-deflate (default true, as ws does); false = a peer without it (WIRE-8). */
  readonly perMessageDeflate?: boolean;
  /**
   * HTTP carrier: how the peer receives (spec §22.5, default stream); manual = no receive of its own,
   * the case starts each one (HttpPeer.startReceive) and must keep one open (the server's receive gap).
   */
  readonly receive?: 'stream' | 'poll' | 'manual';
  /** HTTP carrier: the server's receive gap (HT-12); a paused peer re-requests within it to stay connected. */
  readonly receiveGapMs?: number;
}

export interface Refusal {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
  /** true when the connection ended without a close from the server (a WebSocket close frame, a CLOSE record). */
  readonly abnormal: boolean;
}

export interface Received {
  readonly env: Envelope;
  readonly at: number;
  /** Bytes of the Envelope (a WebSocket message after any inflation, a FRAME record's payload): WIRE-12 bounds it. */
  readonly size: number;
}

export abstract class Peer {
  abstract readonly transport: Transport;
  readonly frames: Received[] = [];
  closed: Closed | undefined;
  /** Bytes of frames that did not decode (the server sent garbage). */
  readonly undecodable: Uint8Array[] = [];
  /** Text frames received (a WebSocket has them; the HTTP carrier cannot carry one). */
  textFrames = 0;
  /** Largest Envelope received, in bytes, whatever it held (WIRE-12). */
  largestFrameBytes = 0;
  protected readonly waits = new Waiters();
  private hbTimer: NodeJS.Timeout | undefined;
  private hbId = 0;
  private readonly t0 = performance.now();

  constructor(
    readonly label: string,
    protected readonly transcript: Transcript,
    protected readonly opts: PeerOptions,
  ) {}

  /** Frames written now reach the server. */
  abstract get open(): boolean;
  /** Protocol-level pings received (WebSocket only: over HTTP the case is N/A). */
  abstract get pings(): number;
  /** The WebSocket itself (WebSocket only: over HTTP the case is N/A). */
  abstract get ws(): WebSocket;
  /** Put one Envelope's bytes on the carrier as they are. */
  protected abstract write(bytes: Uint8Array): void;
  /** A text frame (WIRE-1; WebSocket only). */
  abstract sendText(text: string): void;
  /** One hand-built WebSocket frame (CC-11; WebSocket only). */
  abstract sendRawFrame(f: WsFrameSpec, what: string): void;
  /** One message split over continuation frames (WebSocket only). */
  abstract sendFragmented(bytes: Uint8Array, parts: number): void;
  /** Stop reading: the server's writes pile up (slow consumer). */
  abstract pauseReading(): void;
  abstract resumeReading(): void;
  /** Disappear without a close: the connection is destroyed (a silent disconnect). */
  abstract vanish(): void;
  /** Close as a client does (a close frame, a CLOSE record); `closed` is set when the connection ends. */
  abstract close(code?: number, reason?: string): void;
  /** Tear down without ceremony (cleanup). */
  abstract destroy(): void;

  /** ms since this peer opened. */
  now(): number {
    return performance.now() - this.t0;
  }

  protected wake(): void {
    this.waits.wake();
  }

  /** Resolve when `cond` holds, re-checked on every frame, ping and close; fail after timeoutMs. */
  async until<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.waits.until(cond, timeoutMs, `${this.label}: ${what}`);
  }

  /** One Envelope from the server, whole: decoded, recorded, a Heartbeat answered (HB-6). */
  protected received(bytes: Uint8Array): void {
    if (bytes.byteLength > this.largestFrameBytes) this.largestFrameBytes = bytes.byteLength;
    this.transcript.frame(this.label, '←', bytes);
    const r = decode(bytes, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
    if (!r.ok) {
      this.undecodable.push(bytes);
    } else {
      this.frames.push({ env: r.envelope, at: performance.now(), size: bytes.byteLength });
      if (r.envelope.body.case === 'heartbeat' && (this.opts.answerHeartbeats ?? true)) {
        const hb = r.envelope.body.value;
        this.send(envelope('heartbeatAck', { id: hb.id, echoSentAtMs: hb.sentAtMs }));
      }
    }
    this.wake();
  }

  /** The connection ended (once): `abnormal` when the server sent no close. */
  protected ended(code: number, reason: string, abnormal: boolean): void {
    if (this.closed) return;
    this.closed = { code, reason, at: performance.now(), abnormal };
    this.transcript.event(this.label, abnormal ? 'connection dropped without a close from the server (1006)' : `closed ${code} ${reason}`);
    this.stopHeartbeats();
    this.wake();
  }

  send(env: Envelope): void {
    this.sendBytes(encode(env), env);
  }

  sendBytes(bytes: Uint8Array, shown?: Envelope): void {
    if (!this.open) return;
    this.transcript.frame(this.label, '→', shown ?? bytes);
    this.write(bytes);
  }

  /** Send Hello; application heartbeats (if configured) start now, never before Hello (WIRE-7). */
  hello(fields: Partial<Omit<Hello, '$typeName'>> = {}): void {
    if (this.opts.heartbeatMs && !this.hbTimer) this.startHeartbeats(this.opts.heartbeatMs);
    this.send(envelope('hello', create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...(this.opts.helloDefaults ?? {}), ...fields })));
  }

  /** Send Hello and wait for Welcome (the first frame, HS-9). */
  async handshake(fields: Partial<Omit<Hello, '$typeName'>> = {}, timeoutMs = 3000): Promise<Welcome> {
    this.hello({ receiveWindow: 1024, preferredPolicy: BackpressurePolicy.UNSPECIFIED, ...fields });
    const first = await this.until(() => this.frames[0] ?? (this.closed ? ({ closed: true } as const) : undefined), timeoutMs, 'Welcome');
    if ('closed' in first) throw new CaseFailure(`${this.label}: closed ${this.closed?.code} ${this.closed?.reason} instead of Welcome`);
    if (first.env.body.case !== 'welcome') throw new CaseFailure(`${this.label}: first frame is ${first.env.body.case}, not Welcome (HS-9)`);
    return first.env.body.value;
  }

  startHeartbeats(everyMs: number): void {
    this.stopHeartbeats();
    this.hbTimer = setInterval(() => {
      if (this.open) this.send(envelope('heartbeat', { id: ++this.hbId, sentAtMs: BigInt(Math.round(performance.now())) }));
    }, everyMs);
  }

  stopHeartbeats(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = undefined;
  }

  /** Received bodies of one kind, in arrival order. */
  bodies<K extends Body>(kind: K): BodyOf<K>[] {
    return this.frames.filter((f) => f.env.body.case === kind).map((f) => f.env.body.value as BodyOf<K>);
  }

  /** Sequenced bodies (Message, StatePatch, Snapshot) with their seq. */
  sequenced(): { seq: bigint; env: Envelope }[] {
    const out: { seq: bigint; env: Envelope }[] = [];
    for (const f of this.frames) {
      const b = f.env.body;
      if (b.case === 'message' || b.case === 'statePatch' || b.case === 'snapshot') out.push({ seq: b.value.seq, env: f.env });
    }
    return out;
  }

  async waitClose(timeoutMs: number): Promise<Closed> {
    return this.until(() => this.closed, timeoutMs, 'close');
  }

  /** Stop everything this peer does on its own (heartbeats), keep the connection open: a wedged client. */
  wedge(): void {
    this.stopHeartbeats();
  }
}
