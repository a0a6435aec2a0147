/**
 * How the HTTP carrier answers (spec §22, HT-5, HT-15): status answers with a short text body, the
 * 204 of a send, the head of a receive, and the CORS headers every answer to an allowed Origin
 * carries. The hot answers (a send's 204, a receive's head) use header lists computed once per
 * Origin, not objects spread per request (issue 15: the 204 is written once per POST).
 */
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { CONTENT_TYPE, Header } from '../../spec/protocol/http-carrier.js';

const EXPOSE_HEADERS = `${Header.connection}, Retry-After`;

/** Headers of every receive response (HT-7, HT-15): no caching, no transformation, no proxy buffering. */
export const RECEIVE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': CONTENT_TYPE,
  'Cache-Control': 'no-store, no-transform',
  'X-Accel-Buffering': 'no',
};

/** The CORS headers of one Origin (HT-5) and the hot answers' header lists with them. */
export interface Cors {
  readonly headers: Readonly<Record<string, string>>;
  /** `writeHead` list of a send's 204: `Cache-Control: no-store` and the CORS headers. */
  readonly noContent: readonly string[];
  /** `writeHead` list of a receive's 200 (HT-15) and the CORS headers. */
  readonly receive: readonly string[];
}

function flat(h: Readonly<Record<string, string>>): readonly string[] {
  return Object.freeze(Object.entries(h).flat());
}

function corsOf(headers: Readonly<Record<string, string>>): Cors {
  return Object.freeze({
    headers,
    noContent: flat({ 'Cache-Control': 'no-store', ...headers }),
    receive: flat({ ...RECEIVE_HEADERS, ...headers }),
  });
}

/** No Origin, or one off the allowlist: no CORS headers. */
export const NO_CORS: Cors = corsOf(Object.freeze({}));

/** Origins seen lately: a browser sends its Origin on every request; bounded (any Origin may be allowed). */
const byOrigin = new Map<string, Cors>();
const MAX_ORIGINS = 64;

/** HT-5: what every carrier response to an allowed Origin carries (none without an Origin). */
export function corsFor(origin: string | undefined): Cors {
  if (origin === undefined) return NO_CORS;
  let c = byOrigin.get(origin);
  if (c === undefined) {
    if (byOrigin.size >= MAX_ORIGINS) byOrigin.clear();
    c = corsOf(Object.freeze({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': EXPOSE_HEADERS, Vary: 'Origin' }));
    byOrigin.set(origin, c);
  }
  return c;
}

/** A status answer with a short text body (or none for 204); a response already started is ended. */
export function text(res: ServerResponse, status: number, headers: Readonly<Record<string, string>>): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store', ...headers });
    res.end();
    return;
  }
  const body = `${status} ${STATUS_CODES[status] ?? ''}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/** HT-6: the 204 of a send whose body was handed on whole (the same headers as `text(res, 204, cors)`). */
export function noContent(res: ServerResponse, cors: Cors): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(204, cors.noContent as string[]);
  res.end();
}
