/**
 * A raw Lifeline client for tests (Node only): it speaks the wire through the
 * codec and nothing else, so a test controls every frame. It can send arbitrary
 * bytes or envelopes, withhold pongs (`autoPong: false`), stop reading (pause
 * the TCP socket), vanish without a close frame (destroy the TCP socket), and
 * collect decoded frames with waitFor helpers. Server, client, conformance and
 * e2e tests share it.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatSchema,
  HelloSchema,
  MessageSchema,
  StateDriftSchema,
  SubscribeSchema,
  UnsubscribeSchema,
  type Envelope,
  type Welcome,
} from '../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../spec/protocol/codec.js';
import { wsFrame, type WsFrameSpec } from '../conformance/wire.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../spec/protocol/defaults.js';

export type BodyCase = NonNullable<Envelope['body']['case']>;
export type BodyOf<C extends BodyCase> = Extract<Envelope['body'], { case: C }>['value'];

export interface RawConnectOptions {
  /** Subprotocols to offer; default ['lifeline.v1']. An empty array offers none. */
  readonly protocols?: readonly string[];
  readonly headers?: Record<string, string>;
  readonly origin?: string;
  /** false: never answer pings (a half-open peer, HB-3). Default true. */
  readonly autoPong?: boolean;
  /** Largest frame accepted from the server. */
  readonly maxPayload?: number;
  readonly timeoutMs?: number;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** What a refused upgrade answered (HS-1 … HS-6). */
export interface UpgradeRefusal {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type UpgradeResult = { readonly ok: true; readonly client: RawClient } | { readonly ok: false; readonly refusal: UpgradeRefusal };

const DEFAULT_WAIT_MS = 5000;

/** Try an upgrade; a refusal's status and headers come back instead of an error. */
export function tryConnect(url: string, opts: RawConnectOptions = {}): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const ws = new WebSocket(url, [...(opts.protocols ?? [SUBPROTOCOL])], {
      headers,
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      autoPong: opts.autoPong ?? true,
      maxPayload: opts.maxPayload ?? 64 * 1024 * 1024,
      handshakeTimeout: opts.timeoutMs ?? DEFAULT_WAIT_MS,
      perMessageDeflate: false,
    });
    const client = new RawClient(ws);
    ws.once('open', () => resolve({ ok: true, client }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: false, refusal: { status: res.statusCode ?? 0, headers: res.headers, body } }));
      res.on('error', () => resolve({ ok: false, refusal: { status: res.statusCode ?? 0, headers: res.headers, body } }));
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Connect, or throw with the refusal's status. */
export async function connectRaw(url: string, opts: RawConnectOptions = {}): Promise<RawClient> {
  const r = await tryConnect(url, opts);
  if (!r.ok) throw new Error(`upgrade refused: HTTP ${r.refusal.status}`);
  return r.client;
}

type Waiter = { pred: (e: Envelope) => boolean; resolve: (e: Envelope) => void };

export class RawClient {
  /** Every decoded frame from the server, in order. */
  readonly frames: Envelope[] = [];
  /** Frames that failed to decode (the error's close name). */
  readonly undecodable: string[] = [];
  /** Pings received from the server (HB-1). */
  pings = 0;
  closeInfo: CloseInfo | undefined;
  readonly closed: Promise<CloseInfo>;
  private waiters: Waiter[] = [];
  private nextSeq = 1n;
  private hbId = 0;

  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // the close event carries what a test needs
    ws.on('ping', () => this.pings++);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.undecodable.push('TEXT');
        return;
      }
      const r = decode(data as Buffer, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      if (!r.ok) {
        this.undecodable.push(r.error.closeName);
        return;
      }
      this.frames.push(r.envelope);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(r.envelope)) return true;
        w.resolve(r.envelope);
        return false;
      });
    });
  }

  /** The underlying TCP socket (ws keeps it private). */
  get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // ---- sending ----

  sendBytes(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  sendText(text: string): void {
    this.ws.send(text, { binary: false });
  }

  send(env: Envelope): void {
    this.sendBytes(encode(env));
  }

  /** Build and send one body. */
  sendBody(body: Envelope['body']): void {
    this.send(create(EnvelopeSchema, { body }));
  }

  hello(init: MessageInitShape<typeof HelloSchema> = {}): void {
    this.sendBody({ case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...init }) });
  }

  /** Send Hello and wait for Welcome. */
  async handshake(init: MessageInitShape<typeof HelloSchema> = {}, timeoutMs?: number): Promise<Welcome> {
    this.hello(init);
    return (await this.waitForBody('welcome', timeoutMs)) as Welcome;
  }

  heartbeat(sentAtMs = 0n, rttMs = 0): number {
    const id = ++this.hbId;
    this.sendBody({ case: 'heartbeat', value: create(HeartbeatSchema, { id, sentAtMs, rttMs }) });
    return id;
  }

  ack(seq: bigint): void {
    this.sendBody({ case: 'ack', value: create(AckSchema, { seq }) });
  }

  /** Ack the highest seq received so far. */
  ackAll(): void {
    const last = this.lastSeq();
    if (last > 0n) this.ack(last);
  }

  /** Send a client Message with the next seq (or the given one). */
  message(init: MessageInitShape<typeof MessageSchema> = {}): bigint {
    const seq = init.seq ?? this.nextSeq;
    if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    this.sendBody({ case: 'message', value: create(MessageSchema, { ...init, seq }) });
    return seq;
  }

  subscribe(channels: string[]): void {
    this.sendBody({ case: 'subscribe', value: create(SubscribeSchema, { channels }) });
  }

  unsubscribe(channels: string[]): void {
    this.sendBody({ case: 'unsubscribe', value: create(UnsubscribeSchema, { channels }) });
  }

  drift(init: MessageInitShape<typeof StateDriftSchema> = {}): void {
    this.sendBody({ case: 'stateDrift', value: create(StateDriftSchema, init) });
  }

  // ---- misbehaving ----

  /** Write one hand-built WebSocket frame under ws (invalid UTF-8, RSV bits, unmasked: CC-11). */
  sendFrame(f: WsFrameSpec): void {
    this.socket.write(wsFrame(f));
  }

  /** The code of the server's close frame once it arrived (before the TCP close ws waits for), else undefined. */
  closeFrameCode(): number | undefined {
    const w = this.ws as unknown as { _closeFrameReceived: boolean; _closeCode: number };
    return w._closeFrameReceived ? w._closeCode : undefined;
  }

  /** Stop reading: the server's writes pile up in TCP buffers, then in its bufferedAmount. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Vanish without a close frame (a half-open or crashed peer). */
  destroy(): void {
    this.socket.destroy();
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  // ---- reading ----

  /** Bodies of one case received so far. */
  bodies<C extends BodyCase>(c: C): BodyOf<C>[] {
    return this.frames.filter((f) => f.body.case === c).map((f) => f.body.value as BodyOf<C>);
  }

  /** Seqs of the sequenced frames received so far, in order. */
  seqs(): bigint[] {
    return this.frames.flatMap((f) => (f.body.case === 'message' || f.body.case === 'statePatch' || f.body.case === 'snapshot' ? [f.body.value.seq] : []));
  }

  lastSeq(): bigint {
    return this.seqs().at(-1) ?? 0n;
  }

  /** The first frame (already received or still to come) that matches. */
  waitFor(pred: (e: Envelope) => boolean, timeoutMs = DEFAULT_WAIT_MS, description = 'frame'): Promise<Envelope> {
    const have = this.frames.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}; got ${this.frames.map((f) => f.body.case).join(',')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async waitForBody<C extends BodyCase>(c: C, timeoutMs?: number, pred: (b: BodyOf<C>) => boolean = () => true): Promise<BodyOf<C>> {
    const e = await this.waitFor((f) => f.body.case === c && pred(f.body.value as BodyOf<C>), timeoutMs, c);
    return e.body.value as BodyOf<C>;
  }

  /** Wait until `n` frames of a case have arrived; returns them all. */
  async waitForCount<C extends BodyCase>(c: C, n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<BodyOf<C>[]> {
    const start = Date.now();
    for (;;) {
      const got = this.bodies(c);
      if (got.length >= n) return got;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${n} ${c}; got ${got.length}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Wait for the close; rejects if it does not come in time. */
  waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<CloseInfo> {
    return Promise.race([
      this.closed,
      new Promise<CloseInfo>((_, reject) => setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }
}
