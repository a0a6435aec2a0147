/**
 * Raw requests of the HTTP carrier (spec §22), written from the spec, not from the reference server:
 * `open`, `send` and `receive` POSTs to the WebSocket endpoint's own URL (scheme http(s) for ws(s)),
 * with exactly the headers a case asks for. The HTTP peer (http-peer.ts) is built on these, and the
 * HT-* cases use them directly to retry a send, cut a receive or read the answer's headers.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CONTENT_TYPE, Header, PROTOCOL_TOKEN, RecordDecoder, RecordKind, type CarrierRecord, type HttpOp } from '../../spec/protocol/http-carrier.js';
import { Waiters } from '../framework/waiters.js';

/** The carrier URL of a WebSocket endpoint: same host, port, path and query; http for ws, https for wss. */
export function carrierUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  return u.toString();
}

/** A keep-alive agent for one peer, as a browser keeps its connections to an origin. */
export function carrierAgent(url: string): HttpAgent {
  return url.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
}

export interface CarrierRequestOptions {
  /** The Lifeline-Http operation; undefined sends none (a plain POST on the path). */
  readonly op: HttpOp | undefined;
  /** Header values; undefined drops one set by default (Lifeline-Protocol). */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: Uint8Array;
  readonly agent?: HttpAgent;
  /** HTTP method (default POST; OPTIONS for a preflight). */
  readonly method?: string;
}

/** Start one carrier request; resolves with the request and its response head (the body unread). */
export function carrierRequest(url: string, o: CarrierRequestOptions): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  const headers: Record<string, string> = {};
  const set = (k: string, v: string | undefined) => {
    for (const h of Object.keys(headers)) if (h.toLowerCase() === k.toLowerCase()) delete headers[h];
    if (v !== undefined) headers[k] = v;
  };
  if (o.op !== undefined) set(Header.op, o.op);
  set(Header.protocol, PROTOCOL_TOKEN);
  if (o.body) {
    set('Content-Type', CONTENT_TYPE);
    set('Content-Length', String(o.body.byteLength));
  }
  for (const [k, v] of Object.entries(o.headers ?? {})) set(k, v);
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: o.method ?? 'POST', headers, ...(o.agent ? { agent: o.agent } : {}) });
    req.once('response', (res) => resolve({ req, res }));
    req.once('error', reject);
    req.end(o.body ? Buffer.from(o.body.buffer, o.body.byteOffset, o.body.byteLength) : undefined);
  });
}

export interface CarrierAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

/** One whole request and answer (open, send, a preflight, a refused receive). */
export async function carrierExchange(url: string, o: CarrierRequestOptions): Promise<CarrierAnswer> {
  const { res } = await carrierRequest(url, o);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) };
}

/** The records of a whole body (a poll answer, an ended stream); throws CarrierError on a malformed one. */
export function recordsOf(body: Uint8Array): CarrierRecord[] {
  const d = new RecordDecoder(Number.MAX_SAFE_INTEGER);
  const out = d.push(body);
  d.end();
  return out;
}

/** The value of a response header as one string ('' when absent). */
export function headerOf(h: IncomingHttpHeaders, name: string): string {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/**
 * One receive response read as it arrives (HT-7, HT-8): its head, its records in order with their
 * arrival times, whether it ended or was cut. A case waits on it and may cut it. It starts at once:
 * a server may hold the head of a poll until it has records, so nothing here waits for the head.
 */
export class ReceiveReader {
  status = 0;
  headers: IncomingHttpHeaders = {};
  readonly records: { readonly record: CarrierRecord; readonly at: number }[] = [];
  /** The response ended whole (the server ended it). */
  ended = false;
  /** When it ended (performance.now()). */
  endedAt: number | undefined;
  /** The request failed or the response was cut or was not records. */
  broken: string | undefined;
  /** When the request was sent (performance.now()). */
  readonly startedAt = performance.now();
  private req: ClientRequest | undefined;
  private cutEarly = false;
  private readonly waits = new Waiters();

  constructor(url: string, o: CarrierRequestOptions) {
    carrierRequest(url, o).then(
      ({ req, res }) => this.read(req, res),
      (err: unknown) => {
        this.broken = `request failed: ${err instanceof Error ? err.message : String(err)}`;
        this.waits.wake();
      },
    );
  }

  private read(req: ClientRequest, res: IncomingMessage): void {
    this.req = req;
    if (this.cutEarly) req.destroy();
    this.status = res.statusCode ?? 0;
    this.headers = res.headers;
    const decoder = new RecordDecoder(Number.MAX_SAFE_INTEGER);
    res.on('data', (chunk: Buffer) => {
      if (this.broken) return;
      try {
        for (const record of decoder.push(new Uint8Array(chunk))) this.records.push({ record, at: performance.now() });
      } catch (err) {
        this.broken = `not records: ${err instanceof Error ? err.message : String(err)}`;
      }
      this.waits.wake();
    });
    res.on('end', () => {
      if (decoder.bufferedBytes > 0) this.broken ??= `ended inside a record (${decoder.bufferedBytes} B)`;
      this.ended = true;
      this.endedAt = performance.now();
      this.waits.wake();
    });
    res.on('error', () => undefined);
    res.on('close', () => {
      if (!res.complete) this.broken ??= 'cut';
      this.waits.wake();
    });
    this.waits.wake();
  }

  /** The response head, once it is in (the status; fails after `timeoutMs`). */
  async head(timeoutMs: number): Promise<number> {
    return this.until(() => this.status || (this.broken ? -1 : undefined), timeoutMs, 'the head of a receive response');
  }

  /** The FRAME records' Envelopes, in order. */
  frames(): Uint8Array[] {
    return this.records.flatMap(({ record }) => (record.kind === RecordKind.FRAME ? [record.envelope] : []));
  }

  /** The CLOSE record, if one came. */
  closeRecord(): { code: number; reason: string } | undefined {
    for (const { record } of this.records) if (record.kind === RecordKind.CLOSE) return { code: record.code, reason: record.reason };
    return undefined;
  }

  async until<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.waits.until(cond, timeoutMs, what);
  }

  /** The client cuts the response (a proxy timeout, a lost network). */
  cut(): void {
    this.cutEarly = true;
    this.req?.destroy();
  }
}
