/**
 * A minimal client of the HTTP carrier (spec §22, issue 15) for the bench: a `Transport` the
 * reference client runs over, written from DESIGN-15 with node:http and a keep-alive agent. It is
 * the stand-in until the reference client's own HTTP transport exists (lifeline-client.ts picks
 * that one when the tree has it): open, one streamed receive at a time re-requested with its Ack when
 * the server ends it, serial send POSTs (frames queued while one is in flight go in the next), a
 * CLOSE record on close(). Nothing here retries: a failed request is the connection lost (1006) and
 * the reference client resumes, as over a WebSocket.
 */
import { Agent, request, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Transport, TransportHandlers, TransportSocket } from '../../client/transport.js';
import {
  CONTENT_TYPE, Header, PROTOCOL_TOKEN, RECORD_HEADER_BYTES, RecordDecoder, RecordKind, closeRecord, frameRecord, type HttpOp,
} from '../../spec/protocol/http-carrier.js';

/** Keep-alive, as a browser's fetch: a connection costs two pooled TCP sockets (receive, send). */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

/** Retry-After in ms (seconds form only: what the reference server sends). */
function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) * 1000 : undefined;
}

class CarrierSocket implements TransportSocket {
  private id: string | undefined;
  private isDone = false;
  /** FRAME records received whole on this connection: the next receive's Lifeline-Ack (HT-7). */
  private received = 0;
  /** FRAME records the server accepted (204): the next send's Lifeline-Seq (HT-6). */
  private sent = 0;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private inFlightBytes = 0;
  private isSending = false;
  private isFlushScheduled = false;
  private closing: Uint8Array | undefined;
  private receiving: ClientRequest | undefined;

  constructor(
    private readonly url: URL,
    private readonly handlers: TransportHandlers,
    private readonly maxPayloadBytes: number,
  ) {
    this.post('open', {}, undefined, (res) => this.opened(res));
  }

  send(bytes: Uint8Array): void {
    if (this.isDone) return;
    const r = frameRecord(bytes);
    this.queue.push(r);
    this.queuedBytes += r.byteLength;
    if (this.isSending || this.isFlushScheduled || this.id === undefined) return;
    // Everything sent in this tick (replies, acks of one inbound chunk) goes in one POST.
    this.isFlushScheduled = true;
    process.nextTick(() => {
      this.isFlushScheduled = false;
      this.flush();
    });
  }

  close(code: number, reason: string): void {
    if (this.isDone) return;
    this.isDone = true;
    if (this.id === undefined) return; // not open yet: the server forgets it (httpReceiveGapMs)
    this.closing = closeRecord(code, reason);
    if (!this.isSending) this.flush();
  }

  get bufferedAmount(): number {
    return this.queuedBytes + this.inFlightBytes;
  }

  private post(op: HttpOp, extra: Record<string, string>, body: Uint8Array | undefined, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const headers: OutgoingHttpHeaders = { [Header.op]: op, [Header.protocol]: PROTOCOL_TOKEN, ...extra };
    if (body !== undefined) {
      headers['content-type'] = CONTENT_TYPE;
      headers['content-length'] = body.byteLength;
    }
    const req = request(this.url, { method: 'POST', agent, headers }, onResponse);
    req.on('error', () => this.lost());
    req.end(body);
    return req;
  }

  private opened(res: IncomingMessage): void {
    res.resume();
    if (this.isDone) return;
    const id = res.headers[Header.connection.toLowerCase()];
    if (res.statusCode !== 200 || typeof id !== 'string') {
      this.isDone = true;
      this.handlers.onRefused(res.statusCode ?? 0, retryAfterMs(res.headers['retry-after']));
      return;
    }
    this.id = id;
    this.handlers.onOpen();
    this.receive();
    this.flush();
  }

  /** One receive request (HT-7, HT-8): streamed; when the server ends it, ask again with the new Ack. */
  private receive(): void {
    const id = this.id;
    if (id === undefined || this.isDone) return;
    const decoder = new RecordDecoder(this.maxPayloadBytes);
    const headers = { [Header.connection]: id, [Header.ack]: String(this.received), [Header.receive]: 'stream' };
    const req = this.post('receive', headers, undefined, (res) => {
      if (this.isDone || res.statusCode !== 200) {
        res.resume();
        this.lost();
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (this.isDone) return;
        let records;
        try {
          records = decoder.push(chunk);
        } catch {
          this.lost();
          return;
        }
        for (const r of records) {
          if (r.kind === RecordKind.FRAME) {
            this.received++;
            this.handlers.onBinary(r.envelope);
          } else if (r.kind === RecordKind.CLOSE) {
            this.finish(r.code, r.reason);
          }
          if (this.isDone) return;
        }
      });
      res.on('end', () => {
        if (this.isDone) return;
        try {
          decoder.end();
        } catch {
          this.lost();
          return;
        }
        this.receive();
      });
      res.on('close', () => {
        if (!res.complete) this.lost(); // cut mid-way: the transport died (1006)
      });
    });
    this.receiving = req;
  }

  /** One send POST at a time (HT-6); the client's CLOSE record rides on the last one. */
  private flush(): void {
    const id = this.id;
    if (id === undefined || this.isSending || (this.queue.length === 0 && this.closing === undefined)) return;
    const frames = this.queue;
    const closing = this.closing;
    this.queue = [];
    this.closing = undefined;
    this.inFlightBytes = this.queuedBytes;
    this.queuedBytes = 0;
    this.isSending = true;
    const body = Buffer.concat(closing === undefined ? frames : [...frames, closing]);
    this.post('send', { [Header.connection]: id, [Header.seq]: String(this.sent) }, body, (res) => {
      res.resume();
      this.isSending = false;
      this.inFlightBytes = 0;
      if (res.statusCode !== 204) {
        this.lost();
        return;
      }
      this.sent += frames.length;
      if (closing !== undefined) {
        this.receiving?.destroy();
        return;
      }
      this.flush();
    });
  }

  private lost(): void {
    if (!this.isDone) this.finish(1006, '');
  }

  private finish(code: number, reason: string): void {
    this.isDone = true;
    this.receiving?.destroy();
    this.handlers.onClose(code, reason);
  }
}

/** The bench's HTTP carrier transport: a `ws://` URL is asked over `http://` at the same path (loopback, no TLS). */
export function benchHttpTransport(maxPayloadBytes = 1024 * 1024 + RECORD_HEADER_BYTES): Transport {
  return (url, handlers) => {
    const u = new URL(url);
    u.protocol = 'http:';
    return new CarrierSocket(u, handlers, maxPayloadBytes);
  };
}
