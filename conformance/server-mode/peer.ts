/**
 * A raw Lifeline client for server mode: well-behaved by default (Hello,
 * heartbeats, answers to Heartbeat) and adversarial on demand (withhold pongs,
 * stop reading, arbitrary bytes, text and fragmented frames, skipped or repeated
 * seqs, vanish without a close frame). Every frame goes into the transcript.
 */
import { wsFrame, type WsFrameSpec } from '../wire.js';
import { create } from '@bufbuild/protobuf';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import {
  BackpressurePolicy,
  EnvelopeSchema,
  HelloSchema,
  type Envelope,
  type Hello,
  type Welcome,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { CaseFailure } from '../framework/failure.js';
import { Waiters } from '../framework/waiters.js';
import type { Transcript } from '../framework/transcript.js';

export type Body = NonNullable<Envelope['body']['case']>;
export type BodyOf<K extends Body> = Extract<Envelope['body'], { case: K }>['value'];

export function envelope<K extends Body>(body: K, value: object): Envelope {
  return create(EnvelopeSchema, { body: { case: body, value } as Envelope['body'] });
}

export interface PeerOptions {
  readonly protocols?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly origin?: string;
  /** Answer WebSocket pings (default true). false = a zombie at the protocol level. */
  readonly autoPong?: boolean;
  /** Send an application Heartbeat every this many ms while open (HB-7); 0 = never. */
  readonly heartbeatMs?: number;
  /** Answer server Heartbeats with HeartbeatAck (HB-6; default true). */
  readonly answerHeartbeats?: boolean;
  /** Hello fields every Hello of this peer starts from (a valid token for hello-auth). */
  readonly helloDefaults?: Partial<Omit<Hello, '$typeName'>>;
  /** Offer permessage-deflate (default true, as ws does); false = a peer without it (WIRE-8). */
  readonly perMessageDeflate?: boolean;
}

export interface Refusal {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
  /** true when the TCP connection ended without a close frame from the server. */
  readonly abnormal: boolean;
}

export interface Received {
  readonly env: Envelope;
  readonly at: number;
  /** Bytes of the WebSocket message (after any inflation): WIRE-12 bounds it. */
  readonly size: number;
}

/** Connect; resolves with the open peer or the HTTP refusal. */
export async function openPeer(url: string, label: string, transcript: Transcript, opts: PeerOptions = {}): Promise<Peer | Refusal> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.origin) headers.origin = opts.origin;
  const ws = new WebSocket(url, [...(opts.protocols ?? [SUBPROTOCOL])], {
    headers,
    autoPong: opts.autoPong ?? true,
    // The runner must see oversized frames from the server too; it never limits what it reads.
    maxPayload: 256 * 1024 * 1024,
    handshakeTimeout: 5000,
    perMessageDeflate: opts.perMessageDeflate ?? true,
  });
  return new Promise<Peer | Refusal>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      transcript.event(label, `upgrade refused: HTTP ${res.statusCode}`);
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => resolve(new Peer(ws, label, transcript, opts)));
    ws.once('error', (err) => reject(new Error(`${label}: cannot connect to ${url}: ${err.message}`)));
  });
}

export function isRefusal(p: Peer | Refusal): p is Refusal {
  return !(p instanceof Peer);
}

export class Peer {
  readonly frames: Received[] = [];
  pings = 0;
  closed: Closed | undefined;
  /** Bytes of frames that did not decode (the server sent garbage). */
  readonly undecodable: Uint8Array[] = [];
  textFrames = 0;
  /** Largest WebSocket message received, in bytes, whatever it held (WIRE-12). */
  largestFrameBytes = 0;
  private readonly waits = new Waiters();
  private hbTimer: NodeJS.Timeout | undefined;
  private hbId = 0;
  private readonly t0 = performance.now();

  constructor(
    readonly ws: WebSocket,
    readonly label: string,
    private readonly transcript: Transcript,
    private readonly opts: PeerOptions,
  ) {
    ws.on('message', (data, isBinary) => {
      const bytes = toBytes(data);
      if (bytes.byteLength > this.largestFrameBytes) this.largestFrameBytes = bytes.byteLength;
      if (!isBinary) {
        this.textFrames++;
        transcript.event(label, `← text frame (${bytes.length} B)`);
        this.wake();
        return;
      }
      transcript.frame(label, '←', bytes);
      const r = decode(bytes, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      if (!r.ok) {
        this.undecodable.push(bytes);
      } else {
        this.frames.push({ env: r.envelope, at: performance.now(), size: bytes.byteLength });
        if (r.envelope.body.case === 'heartbeat' && (opts.answerHeartbeats ?? true)) {
          const hb = r.envelope.body.value;
          this.send(envelope('heartbeatAck', { id: hb.id, echoSentAtMs: hb.sentAtMs }));
        }
      }
      this.wake();
    });
    ws.on('ping', () => {
      this.pings++;
      this.wake();
    });
    ws.on('close', (code, reason) => {
      const abnormal = code === 1006;
      this.closed = { code, reason: reason.toString(), at: performance.now(), abnormal };
      transcript.event(label, abnormal ? 'connection dropped without a close frame (1006)' : `closed ${code} ${reason.toString()}`);
      this.stopHeartbeats();
      this.wake();
    });
    ws.on('error', () => {
      // surfaced through 'close'
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** ms since this peer opened. */
  now(): number {
    return performance.now() - this.t0;
  }

  private wake(): void {
    this.waits.wake();
  }

  /** Resolve when `cond` holds, re-checked on every frame, ping and close; fail after timeoutMs. */
  async until<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.waits.until(cond, timeoutMs, `${this.label}: ${what}`);
  }

  send(env: Envelope): void {
    this.sendBytes(encode(env), env);
  }

  sendBytes(bytes: Uint8Array, shown?: Envelope): void {
    if (!this.open) return;
    this.transcript.frame(this.label, '→', shown ?? bytes);
    this.ws.send(bytes, { binary: true });
  }

  sendText(text: string): void {
    this.transcript.event(this.label, `→ text frame ${JSON.stringify(text.slice(0, 40))}`);
    this.ws.send(text, { binary: false });
  }

  /** One hand-built WebSocket frame written under ws (invalid UTF-8, RSV bits, unmasked: CC-11). */
  sendRawFrame(f: WsFrameSpec, what: string): void {
    this.transcript.event(this.label, `→ raw frame: ${what}`);
    this.rawSocket()?.write(wsFrame(f));
  }

  /** One message split over several WebSocket frames (continuation frames). */
  sendFragmented(bytes: Uint8Array, parts: number): void {
    this.transcript.event(this.label, `→ ${bytes.length} B in ${parts} fragments`);
    const size = Math.ceil(bytes.length / parts);
    for (let i = 0; i < parts; i++) {
      const chunk = bytes.subarray(i * size, Math.min(bytes.length, (i + 1) * size));
      this.ws.send(chunk, { binary: true, fin: i === parts - 1 });
    }
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

  /** Stop reading from the TCP socket: the server's writes pile up (slow consumer). */
  pauseReading(): void {
    this.transcript.event(this.label, 'stops reading');
    this.rawSocket()?.pause();
  }

  resumeReading(): void {
    this.transcript.event(this.label, 'reads again');
    this.rawSocket()?.resume();
  }

  /** Disappear without a close frame: destroy the TCP socket (a silent disconnect). */
  vanish(): void {
    this.transcript.event(this.label, 'vanishes (TCP destroyed, no close frame)');
    this.stopHeartbeats();
    this.rawSocket()?.destroy();
    this.ws.terminate();
  }

  /** Stop everything this peer does on its own (heartbeats), keep the socket open: a wedged client. */
  wedge(): void {
    this.stopHeartbeats();
  }

  close(code = 1000, reason = ''): void {
    this.stopHeartbeats();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  /** Tear down without ceremony (cleanup). */
  destroy(): void {
    this.stopHeartbeats();
    this.ws.terminate();
  }

  private rawSocket(): Socket | undefined {
    return (this.ws as unknown as { _socket?: Socket })._socket;
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data as Buffer[]));
  return new Uint8Array(data as ArrayBuffer);
}
