/**
 * Client mode's HTTP carrier (spec §22), beside the fake server's WebSocket endpoint on the same URL:
 * `open` (refused as a case says, or a connection id), serial `send` bodies of FRAME records and a
 * final CLOSE record, and `receive` responses (a KEEPALIVE first on a stream, then the frames from the
 * request's Lifeline-Ack on). Every request is logged with its URL and headers, sends and receives in
 * flight are counted per connection (HT-28), and a case may cut a receive or hold a send's answer.
 * Written from the spec; the records are spec/protocol/http-carrier.ts, as any implementer's would be.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Envelope, Hello } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { closeRecord, CONTENT_TYPE, frameRecord, Header, KEEPALIVE_RECORD, RecordDecoder, RecordKind, type HttpOp } from '../../spec/protocol/http-carrier.js';
import { CaseFailure } from '../framework/failure.js';
import type { Transcript } from '../framework/transcript.js';
import { envelope } from '../server-mode/peer.js';
import { welcomeEnvelope, type WelcomeInit } from './welcome.js';

/** An HTTP refusal of an upgrade or an open: its status and headers (Retry-After). */
export interface Refuse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One carrier request as the runner saw it. */
export interface CarrierRequestRecord {
  readonly at: number;
  readonly op: HttpOp | string;
  /** The request target (path and query) as sent. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  /** The connection it named (send, receive), if any. */
  readonly conn?: string;
  status?: number;
}

/** One receive request of a connection. */
export interface ReceiveRecord {
  readonly at: number;
  readonly ack: number;
  readonly mode: string;
  /** FRAME records it carried. */
  frames: number;
  /** How it ended: by the server's end, a cut by the runner, or the client went away. */
  end?: 'ended' | 'cut' | 'client';
  readonly res: ServerResponse;
}

export class FakeHttpCarrier {
  readonly requests: CarrierRequestRecord[] = [];
  readonly conns: HttpServerConn[] = [];
  /** Refusals of the next opens, in order; empty = accept. */
  openRefusals: Refuse[] = [];
  /** Refuse every open with this until cleared. */
  refuseAllOpens: Refuse | undefined;
  /** A buffering proxy: `stream` receives of new connections get nothing, not even their head (HT-27). */
  bufferStreams = false;

  constructor(
    private readonly transcript: Transcript,
    private readonly wake: () => void,
  ) {}

  opens(): CarrierRequestRecord[] {
    return this.requests.filter((r) => r.op === 'open');
  }

  /** A request on the path: answered here when it is a carrier request (it has Lifeline-Http). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const op = req.headers['lifeline-http'];
    if (req.method !== 'POST' || typeof op !== 'string') return false;
    const id = typeof req.headers['lifeline-connection'] === 'string' ? req.headers['lifeline-connection'] : undefined;
    const rec: CarrierRequestRecord = { at: performance.now(), op, url: req.url ?? '', headers: req.headers, ...(id !== undefined ? { conn: id } : {}) };
    this.requests.push(rec);
    const answer = (status: number, headers: Record<string, string> = {}) => {
      rec.status = status;
      res.writeHead(status, headers).end();
      this.wake();
    };
    if (op === 'open') {
      req.resume();
      const refusal = this.openRefusals.shift() ?? this.refuseAllOpens;
      if (refusal) {
        this.transcript.event('server', `refuses HTTP open #${this.opens().length} with HTTP ${refusal.status}`);
        return answer(refusal.status, { ...(refusal.headers ?? {}) }), true;
      }
      const conn = new HttpServerConn(randomBytes(16).toString('base64url'), `h${this.conns.length + 1}`, this.transcript, this.wake);
      conn.bufferStreams = this.bufferStreams;
      this.conns.push(conn);
      this.transcript.event(conn.label, `accepted HTTP open #${this.opens().length}`);
      answer(200, { [Header.connection]: conn.id, 'cache-control': 'no-store' });
      return true;
    }
    const conn = this.conns.find((c) => c.id === id);
    if (!conn || conn.isGone) {
      req.resume();
      answer(id === undefined ? 400 : 404);
      return true;
    }
    if (op === 'send') conn.onSend(req, res, rec);
    else if (op === 'receive') conn.onReceive(req, res, rec);
    else answer(400);
    return true;
  }

  /** The n-th accepted HTTP connection (1-based), waiting for it via `until`. */
  conn(n: number): HttpServerConn | undefined {
    return this.conns[n - 1];
  }

  stop(): void {
    for (const c of this.conns) c.destroy();
  }
}

export class HttpServerConn {
  /** The client's frames, decoded, in carrier-index order. */
  readonly frames: { env: Envelope; at: number }[] = [];
  readonly receives: ReceiveRecord[] = [];
  /** The client's CLOSE record (HT-10), when it came. */
  clientClose: { code: number; reason: string; at: number } | undefined;
  /** The runner's close (a CLOSE record) or cut. */
  closedByServer: { code: number; at: number } | undefined;
  sendsInFlight = 0;
  maxSendsInFlight = 0;
  maxReceivesInFlight = 0;
  sends = 0;
  /** Answer each send this much later (a slow path, HT-28). */
  holdSendMs = 0;
  /** Called with each new receive; return 'cut' to cut it at once (after its KEEPALIVE), HT-26. */
  onReceiveStart: ((r: ReceiveRecord, index: number) => 'cut' | undefined) | undefined;
  answerHeartbeats = true;
  autoAck = true;
  /** A buffering proxy in front: a `stream` receive is held whole (no head, no KEEPALIVE) until the client gives it up. */
  bufferStreams = false;
  private received = 0;
  private readonly written: Uint8Array[] = [];
  private current: ReceiveRecord | undefined;
  private nextSeq = 1n;
  private gone = false;
  private pendingClose: Uint8Array | undefined;

  constructor(
    readonly id: string,
    readonly label: string,
    private readonly transcript: Transcript,
    private readonly wake: () => void,
  ) {}

  get isGone(): boolean {
    return this.gone;
  }

  onSend(req: IncomingMessage, res: ServerResponse, rec: CarrierRequestRecord): void {
    this.sends++;
    this.sendsInFlight++;
    this.maxSendsInFlight = Math.max(this.maxSendsInFlight, this.sendsInFlight);
    const seq = Number(req.headers['lifeline-seq'] ?? NaN);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let index = seq;
      try {
        for (const r of new RecordDecoder(Number.MAX_SAFE_INTEGER).push(new Uint8Array(Buffer.concat(chunks)))) {
          if (r.kind === RecordKind.FRAME) {
            if (index === this.received) {
              this.received++;
              this.frame(r.envelope);
            }
            index++;
          } else if (r.kind === RecordKind.CLOSE) {
            this.clientClose = { code: r.code, reason: r.reason, at: performance.now() };
            this.transcript.event(this.label, `← CLOSE ${r.code} ${r.reason}`);
            this.end(closeRecord(r.code, r.reason)); // echoed, then gone (HT-10)
          }
        }
      } catch (err) {
        this.transcript.event(this.label, `send body is not records: ${err instanceof Error ? err.message : String(err)}`);
      }
      const reply = () => {
        this.sendsInFlight--;
        rec.status = 204;
        if (!res.destroyed) res.writeHead(204).end();
        this.wake();
      };
      if (this.holdSendMs > 0) setTimeout(reply, this.holdSendMs);
      else reply();
    });
    req.on('close', () => this.wake());
  }

  onReceive(req: IncomingMessage, res: ServerResponse, rec: CarrierRequestRecord): void {
    req.resume();
    const ack = Number(req.headers['lifeline-ack'] ?? NaN);
    const mode = String(req.headers['lifeline-receive'] ?? 'stream');
    const r: ReceiveRecord = { at: performance.now(), ack, mode, frames: 0, res };
    // in flight: the receives neither ended by the runner nor given up by the client when this one came
    this.maxReceivesInFlight = Math.max(this.maxReceivesInFlight, this.receives.filter((x) => x.end === undefined).length + 1);
    this.receives.push(r);
    this.transcript.event(this.label, `receive #${this.receives.length} (Lifeline-Ack ${ack}, ${mode})`);
    rec.status = 200;
    res.on('close', () => {
      r.end ??= 'client';
      if (this.current === r) this.current = undefined;
      this.wake();
    });
    if (this.bufferStreams && mode === 'stream') {
      this.transcript.event(this.label, `holds receive #${this.receives.length} whole (a buffering proxy)`);
      return;
    }
    const old = this.current;
    if (old) this.endReceive(old); // the newer wins (HT-8)
    this.current = r;
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store, no-transform' });
    if (mode === 'stream') res.write(KEEPALIVE_RECORD);
    else res.flushHeaders();
    if (this.onReceiveStart?.(r, this.receives.length) === 'cut') {
      this.cut(r);
      return;
    }
    for (let i = Math.max(0, ack); i < this.written.length; i++) this.put(r, this.written[i] as Uint8Array);
    if (this.pendingClose) this.end(this.pendingClose);
    else if (mode === 'poll' && r.frames > 0) this.endReceive(r);
    this.wake();
  }

  private frame(bytes: Uint8Array): void {
    this.transcript.frame(this.label, '←', bytes);
    const d = decode(bytes, { from: 'client', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
    if (!d.ok) return;
    this.frames.push({ env: d.envelope, at: performance.now() });
    const b = d.envelope.body;
    if (b.case === 'heartbeat' && this.answerHeartbeats) this.send(envelope('heartbeatAck', { id: b.value.id, echoSentAtMs: b.value.sentAtMs }));
    if (b.case === 'message' && this.autoAck) this.send(envelope('ack', { seq: b.value.seq }));
    this.wake();
  }

  private put(r: ReceiveRecord, bytes: Uint8Array): void {
    r.frames++;
    r.res.write(frameRecord(bytes));
  }

  /** Write one Envelope: on the open receive now, else on the next (HT-7). */
  send(env: Envelope): void {
    if (this.gone || this.pendingClose) return;
    this.transcript.frame(this.label, '→', env);
    const bytes = encode(env);
    this.written.push(bytes);
    const r = this.current;
    if (!r) return;
    this.put(r, bytes);
    if (r.mode === 'poll') this.endReceive(r);
  }

  welcome(fields: WelcomeInit = {}): void {
    this.send(welcomeEnvelope(fields));
  }

  message(payload: Uint8Array, opts: { seq?: bigint; channel?: string } = {}): bigint {
    const seq = opts.seq ?? this.nextSeq;
    if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    this.send(envelope('message', { seq, payload, channel: opts.channel ?? '' }));
    return seq;
  }

  async hello(timeoutMs: number, until: <T>(c: () => T | undefined | false, ms: number, what: string) => Promise<T>): Promise<Hello> {
    const first = await until(() => this.frames[0], timeoutMs, `${this.label}: Hello over HTTP`);
    if (first.env.body.case !== 'hello') throw new CaseFailure(`${this.label}: the client's first frame over HTTP is ${first.env.body.case}, not Hello (HS-8)`);
    return first.env.body.value;
  }

  /** The runner's close: a CLOSE record on the open receive or the next one (HT-10). */
  close(code: number, reason = ''): void {
    if (this.gone) return;
    this.transcript.event(this.label, `→ CLOSE ${code} ${reason}`);
    this.closedByServer = { code, at: performance.now() };
    this.end(closeRecord(code, reason));
  }

  /** Cut the open receive (or `r`) without a record: the client sees a network error. */
  cut(r: ReceiveRecord | undefined = this.current): void {
    if (!r) return;
    this.transcript.event(this.label, `cuts receive #${this.receives.indexOf(r) + 1} (after ${r.frames} FRAME records)`);
    r.end = 'cut';
    if (this.current === r) this.current = undefined;
    r.res.destroy();
  }

  private end(record: Uint8Array): void {
    const r = this.current;
    if (!r) {
      this.pendingClose = record;
      return;
    }
    r.res.write(record);
    this.endReceive(r);
    this.gone = true;
    this.wake();
  }

  private endReceive(r: ReceiveRecord): void {
    r.end ??= 'ended';
    if (this.current === r) this.current = undefined;
    if (!r.res.writableEnded) r.res.end();
  }

  destroy(): void {
    this.gone = true;
    for (const r of this.receives) if (!r.res.destroyed) r.res.destroy();
  }
}
