/**
 * A FetchLike over node:http and node:https with keep-alive agents: the Node client's carrier for the
 * HTTP transport (client/transports/http.ts). Node's global fetch (undici) cost the load generator
 * most of its CPU per round trip in the HTTP echo bench (issue 15: client-bound at ~34 µs per round
 * trip); the transport needs only a POST, its status, two headers and a byte stream, which node:http
 * gives without undici's WHATWG layers. Node only (client/node.ts); browsers use their fetch.
 *
 * The response also offers `listen` (the body by callbacks, no ReadableStream: the transport's receive
 * path) and `discard` (a body not needed is read to its end, so the socket goes back to the pool
 * instead of being destroyed: a send's 204 must not cost a new TCP connection, issue 15).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { BodyListener, FetchInit, FetchLike, FetchResponse } from './http-fetch.js';

/**
 * A body at most this long (by its Content-Length) is read to its end and dropped when not wanted, so
 * its keep-alive socket is reused; a longer or open-ended one (a receive stream) is cut instead.
 */
const DRAIN_MAX_BYTES = 64 * 1024;

/** A plain Uint8Array view of a chunk (no copy): consumers may `.slice()` it, which copies on a Uint8Array, not on a Buffer. */
function viewOf(chunk: Buffer): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Whether the rest of `res` is cheap to read: ended already, no body by its status, or a small declared length. */
function isDrainable(res: IncomingMessage): boolean {
  if (res.complete || res.statusCode === 204 || res.statusCode === 304) return true;
  const len = res.headers['content-length'];
  return len !== undefined && Number(len) <= DRAIN_MAX_BYTES;
}

/** Drop what is left of a response: read it to its end (keep-alive) when that is cheap, else cut it. */
function dropRest(res: IncomingMessage): void {
  if (isDrainable(res)) res.resume();
  else res.destroy();
}

/**
 * The response body as a web ReadableStream, paused while the reader is behind (backpressure), and
 * errored when the response is cut before its end (the transport then asks again from its Ack, HT-7).
 */
function streamOf(res: IncomingMessage): ReadableStream<Uint8Array> {
  let isDone = false;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        res.on('data', (chunk: Buffer) => {
          // A resume scheduled by pull() can still emit a buffered chunk after cancel() destroyed the
          // response; the stream is closed by then and enqueue would throw out of an event handler.
          if (isDone) return;
          c.enqueue(viewOf(chunk));
          if ((c.desiredSize ?? 1) <= 0) res.pause();
        });
        res.on('end', () => {
          if (isDone) return;
          isDone = true;
          c.close();
        });
        res.on('close', () => {
          if (isDone) return;
          isDone = true;
          c.error(new TypeError('terminated')); // closed before its end: a cut, as undici reports it
        });
        res.on('error', () => {}); // the close that follows reports it
      },
      pull() {
        res.resume();
      },
      cancel() {
        isDone = true;
        dropRest(res);
      },
    },
    { highWaterMark: 16 },
  );
}

class NodeHeaders {
  constructor(private readonly res: IncomingMessage) {}
  get(name: string): string | null {
    const v = this.res.headers[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
}

class NodeResponse implements FetchResponse {
  readonly status: number;
  readonly headers: NodeHeaders;
  private stream: ReadableStream<Uint8Array> | undefined;

  constructor(private readonly res: IncomingMessage) {
    this.status = res.statusCode ?? 0;
    this.headers = new NodeHeaders(res);
  }

  get body(): ReadableStream<Uint8Array> {
    return (this.stream ??= streamOf(this.res));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.res) parts.push(chunk as Buffer);
    const all = Buffer.concat(parts);
    return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  }

  listen(l: BodyListener): () => void {
    const res = this.res;
    let isDone = false;
    res.on('data', (chunk: Buffer) => {
      if (!isDone) l.chunk(viewOf(chunk));
    });
    res.on('end', () => {
      if (isDone) return;
      isDone = true;
      l.end();
    });
    res.on('close', () => {
      if (isDone) return;
      isDone = true;
      l.error(new TypeError('terminated')); // closed before its end: a cut
    });
    res.on('error', () => {}); // the close that follows reports it
    return () => {
      if (isDone) return;
      isDone = true;
      dropRest(res);
    };
  }

  discard(): void {
    dropRest(this.res);
  }
}

export interface NodeFetchOptions {
  /** Sockets per origin at most (each connection keeps one receive and one send in flight, HT-28). Default: no limit. */
  readonly maxSockets?: number;
}

/** The request options of a URL, parsed once per URL (every request of a client goes to the same one, HT-1). */
interface Target {
  readonly isHttps: boolean;
  readonly options: RequestOptions;
  /** The Host header: host and port as the URL has them (IPv6 in brackets). */
  readonly host: string;
}

function targetOf(url: string): Target {
  const u = new URL(url);
  return {
    isHttps: u.protocol === 'https:',
    options: { protocol: u.protocol, hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port, path: `${u.pathname}${u.search}` },
    host: u.host,
  };
}

/**
 * The request's headers as a flat name/value list, which node:http writes as it is (no setHeader per
 * header; issue 15 profile): Host, the transport's headers, and the body's length (0 without one, so a
 * bodiless POST is not sent chunked).
 */
function rawHeaders(host: string, init: FetchInit): string[] {
  const raw = ['Host', host];
  for (const name of Object.keys(init.headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'host' && lower !== 'content-length') raw.push(name, init.headers[name] as string);
  }
  raw.push('Content-Length', String(init.body?.byteLength ?? 0));
  return raw;
}

/** A FetchLike for the HTTP transport over node:http(s), with keep-alive connections reused across requests. */
export function nodeHttpFetch(options: NodeFetchOptions = {}): FetchLike {
  const agentOptions = { keepAlive: true, ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }) };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  let lastUrl = '';
  let last = targetOf('http://localhost/');
  return (url: string, init: FetchInit) =>
    new Promise<FetchResponse>((resolve, reject) => {
      if (url !== lastUrl) {
        last = targetOf(url);
        lastUrl = url;
      }
      const req = (last.isHttps ? httpsRequest : httpRequest)({
        ...last.options,
        method: init.method,
        headers: rawHeaders(last.host, init),
        agent: last.isHttps ? https : http,
        ...(init.signal !== undefined && { signal: init.signal }),
      });
      req.on('response', (res) => resolve(new NodeResponse(res)));
      req.on('error', reject); // a refused connection, a reset, an abort: the transport's 'failed'
      req.end(init.body);
    });
}
