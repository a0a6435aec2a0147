/**
 * A raw HTTP carrier client for server tests (spec §22; not the reference client): it speaks the
 * carrier through spec/protocol/http-carrier.ts and node:http and nothing else, so a test controls
 * every request: the carrier index of a send, the Ack of a receive, a cut response, a foreign Origin.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { AckSchema, EnvelopeSchema, HeartbeatSchema, HelloSchema, MessageSchema, SubscribeSchema, type Envelope, type Welcome } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../spec/protocol/defaults.js';
import { closeRecord, CONTENT_TYPE, frameRecord, PROTOCOL_TOKEN, RecordDecoder, RecordKind, type ReceiveMode } from '../../spec/protocol/http-carrier.js';

export type BodyCase = NonNullable<Envelope['body']['case']>;
export type BodyOf<C extends BodyCase> = Extract<Envelope['body'], { case: C }>['value'];

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on the carrier URL; resolves with the whole answer. */
export function carrierRequest(url: string, headers: Record<string, string>, body?: Uint8Array, agent?: Agent, method = 'POST'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...(body ? { 'Content-Type': CONTENT_TYPE, 'Content-Length': String(body.byteLength) } : {}), ...headers }, ...(agent && { agent }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body ? Buffer.from(body) : undefined);
  });
}

/** Open an HTTP connection (HT-3): the answer, and the client when it was 200. */
export async function openCarrier(url: string, headers: Record<string, string> = {}): Promise<{ answer: HttpAnswer; client?: CarrierClient }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const answer = await carrierRequest(url, { 'Lifeline-Http': 'open', 'Lifeline-Protocol': PROTOCOL_TOKEN, ...headers }, undefined, agent);
  const id = answer.headers['lifeline-connection'];
  if (answer.status !== 200 || typeof id !== 'string') {
    agent.destroy();
    return { answer };
  }
  return { answer, client: new CarrierClient(url, id, agent, headers) };
}

interface Waiter {
  pred(e: Envelope): boolean;
  resolve(e: Envelope): void;
}

export class CarrierClient {
  readonly frames: Envelope[] = [];
  /** FRAME records received whole on this connection (the next receive's Ack, HT-7). */
  received = 0;
  /** FRAME records sent (the next send's Lifeline-Seq, HT-6). */
  sent = 0;
  /** The server's CLOSE record, once one arrived. */
  closeRecord: { code: number; reason: string } | undefined;
  /** Every receive response's status, in order. */
  readonly receiveStatuses: number[] = [];
  /** KEEPALIVE records received. */
  keepalives = 0;
  private waiters: Waiter[] = [];
  private nextSeq = 1n;
  private hbId = 0;
  private isLooping = false;
  private current: IncomingMessage | undefined;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  constructor(
    readonly url: string,
    readonly id: string,
    readonly agent: Agent,
    /** Sent with every request (an Origin, say). */
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  headers(op: string, more: Record<string, string> = {}): Record<string, string> {
    return { 'Lifeline-Http': op, 'Lifeline-Protocol': PROTOCOL_TOKEN, 'Lifeline-Connection': this.id, ...this.extraHeaders, ...more };
  }

  // ---- upstream ----

  /** POST these envelopes (and a close) from carrier index `seq` (default: the next). */
  async sendEnvelopes(envs: Envelope[], o: { seq?: number; close?: { code: number; reason: string } } = {}): Promise<HttpAnswer> {
    const parts = envs.map((e) => frameRecord(encode(e)));
    if (o.close) parts.push(closeRecord(o.close.code, o.close.reason));
    const seq = o.seq ?? this.sent;
    const body = Buffer.concat(parts);
    const a = await this.sendRaw(body, seq);
    if (a.status === 204) this.sent = Math.max(this.sent, seq + envs.length);
    return a;
  }

  sendRaw(body: Uint8Array, seq: number, more: Record<string, string> = {}): Promise<HttpAnswer> {
    return carrierRequest(this.url, this.headers('send', { 'Lifeline-Seq': String(seq), ...more }), body, this.agent);
  }

  sendBody(body: Envelope['body']): Promise<HttpAnswer> {
    return this.sendEnvelopes([create(EnvelopeSchema, { body })]);
  }

  hello(init: MessageInitShape<typeof HelloSchema> = {}): Promise<HttpAnswer> {
    return this.sendBody({ case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...init }) });
  }

  async handshake(init: MessageInitShape<typeof HelloSchema> = {}): Promise<Welcome> {
    this.startReceiving();
    await this.hello(init);
    return (await this.waitForBody('welcome')) as Welcome;
  }

  heartbeat(): Promise<HttpAnswer> {
    const id = ++this.hbId;
    return this.sendBody({ case: 'heartbeat', value: create(HeartbeatSchema, { id }) });
  }

  ack(seq: bigint): Promise<HttpAnswer> {
    return this.sendBody({ case: 'ack', value: create(AckSchema, { seq }) });
  }

  message(init: MessageInitShape<typeof MessageSchema> = {}): Promise<HttpAnswer> {
    const seq = init.seq ?? this.nextSeq;
    if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    return this.sendBody({ case: 'message', value: create(MessageSchema, { ...init, seq }) });
  }

  subscribe(channels: string[]): Promise<HttpAnswer> {
    return this.sendBody({ case: 'subscribe', value: create(SubscribeSchema, { channels }) });
  }

  close(code = 1000, reason = ''): Promise<HttpAnswer> {
    return this.sendEnvelopes([], { close: { code, reason } });
  }

  // ---- downstream ----

  /**
   * One receive request (HT-7): resolves with its status when the response ended (or was cut,
   * `cutAfterBytes`: the socket destroyed once that many body bytes arrived). Records whole before
   * the end count; a record cut mid-way does not.
   */
  receiveOnce(o: { mode?: ReceiveMode; ack?: number; cutAfterBytes?: number } = {}): Promise<number> {
    const ack = o.ack ?? this.received;
    const decoder = new RecordDecoder(Number.MAX_SAFE_INTEGER);
    return new Promise((resolve) => {
      const req = request(this.url, { method: 'POST', headers: this.headers('receive', { 'Lifeline-Ack': String(ack), 'Lifeline-Receive': o.mode ?? 'stream' }), agent: this.agent }, (res) => {
        this.current = res;
        this.receiveStatuses.push(res.statusCode ?? 0);
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          if (o.cutAfterBytes !== undefined) {
            const room = o.cutAfterBytes - seen;
            if (room <= 0) return;
            if (chunk.byteLength >= room) {
              this.take(decoder, chunk.subarray(0, room));
              seen += room;
              res.destroy();
              return;
            }
          }
          seen += chunk.byteLength;
          if (res.statusCode === 200) this.take(decoder, chunk);
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  /** Re-request receives as the reference client would, until a CLOSE record, a 404 or `stopReceiving()`. */
  startReceiving(mode: ReceiveMode = 'stream'): void {
    if (this.isLooping) return;
    this.isLooping = true;
    void (async () => {
      while (this.isLooping && this.closeRecord === undefined) {
        const status = await this.receiveOnce({ mode });
        if (status !== 200) break;
      }
      this.isLooping = false;
    })();
  }

  stopReceiving(): void {
    this.isLooping = false;
    this.current?.destroy();
  }

  private take(decoder: RecordDecoder, chunk: Uint8Array): void {
    for (const r of decoder.push(chunk)) {
      if (r.kind === RecordKind.KEEPALIVE) this.keepalives++;
      else if (r.kind === RecordKind.CLOSE) {
        this.closeRecord = { code: r.code, reason: r.reason };
        for (const w of this.closeWaiters.splice(0)) w(this.closeRecord);
      } else {
        this.received++;
        const d = decode(r.envelope, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
        if (!d.ok) throw new Error(`undecodable frame: ${d.error.closeName}`);
        this.frames.push(d.envelope);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(d.envelope)) return true;
          w.resolve(d.envelope);
          return false;
        });
      }
    }
  }

  bodies<C extends BodyCase>(c: C): BodyOf<C>[] {
    return this.frames.filter((f) => f.body.case === c).map((f) => f.body.value as BodyOf<C>);
  }

  seqs(): bigint[] {
    return this.frames.flatMap((f) => (f.body.case === 'message' || f.body.case === 'statePatch' || f.body.case === 'snapshot' ? [f.body.value.seq] : []));
  }

  waitFor(pred: (e: Envelope) => boolean, timeoutMs = 5000, description = 'frame'): Promise<Envelope> {
    const have = this.frames.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description} over HTTP; got ${this.frames.map((f) => f.body.case).join(',')}`));
      }, timeoutMs);
      const w: Waiter = {
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      };
      this.waiters.push(w);
    });
  }

  async waitForBody<C extends BodyCase>(c: C, timeoutMs?: number, pred: (b: BodyOf<C>) => boolean = () => true): Promise<BodyOf<C>> {
    const e = await this.waitFor((f) => f.body.case === c && pred(f.body.value as BodyOf<C>), timeoutMs, c);
    return e.body.value as BodyOf<C>;
  }

  /** The server's CLOSE record (HT-10). */
  waitForClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closeRecord) return Promise.resolve(this.closeRecord);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no CLOSE record within ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
  }

  /** Drop everything (no close record): the sockets go. */
  destroy(): void {
    this.stopReceiving();
    this.agent.destroy();
  }
}
