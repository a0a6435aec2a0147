/**
 * A FetchLike over node:http and node:https with keep-alive agents: the Node client's carrier for the
 * HTTP transport (client/transports/http.ts). Node's global fetch (undici) cost the load generator
 * most of its CPU per round trip in the HTTP echo bench (issue 15: client-bound at ~34 µs per round
 * trip); the transport needs only a POST, its status, two headers and a byte stream, which node:http
 * gives without undici's WHATWG layers. Node only (client/node.ts); browsers use their fetch.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FetchInit, FetchLike, FetchResponse } from './http-fetch.js';

/**
 * The response body as a web ReadableStream, paused while the reader is behind (backpressure), and
 * errored when the response is cut before its end (the transport then asks again from its Ack, HT-7).
 */
function bodyOf(res: IncomingMessage): ReadableStream<Uint8Array> {
  let isDone = false;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        res.on('data', (chunk: Buffer) => {
          // A resume scheduled by pull() can still emit a buffered chunk after cancel() destroyed the
          // response; the stream is closed by then and enqueue would throw out of an event handler.
          if (isDone) return;
          c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
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
        res.destroy();
      },
    },
    { highWaterMark: 16 },
  );
}

function responseOf(res: IncomingMessage): FetchResponse {
  let body: ReadableStream<Uint8Array> | null | undefined;
  return {
    status: res.statusCode ?? 0,
    headers: {
      get(name: string): string | null {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    get body() {
      return (body ??= bodyOf(res));
    },
    async arrayBuffer(): Promise<ArrayBuffer> {
      const parts: Buffer[] = [];
      for await (const chunk of res) parts.push(chunk as Buffer);
      const all = Buffer.concat(parts);
      return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    },
  };
}

export interface NodeFetchOptions {
  /** Sockets per origin at most (each connection keeps one receive and one send in flight, HT-28). Default: no limit. */
  readonly maxSockets?: number;
}

/** A FetchLike for the HTTP transport over node:http(s), with keep-alive connections reused across requests. */
export function nodeHttpFetch(options: NodeFetchOptions = {}): FetchLike {
  const agentOptions = { keepAlive: true, ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }) };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  return (url: string, init: FetchInit) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const isHttps = url.startsWith('https:');
      const headers: Record<string, string> = { ...init.headers };
      if (init.body !== undefined) headers['content-length'] = String(init.body.byteLength);
      const req = (isHttps ? httpsRequest : httpRequest)(url, {
        method: init.method,
        headers,
        agent: isHttps ? https : http,
        ...(init.signal !== undefined && { signal: init.signal }),
      });
      req.on('response', (res) => resolve(responseOf(res)));
      req.on('error', reject); // a refused connection, a reset, an abort: the transport's 'failed'
      req.end(init.body);
    });
}
