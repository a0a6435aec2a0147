/**
 * Why a browser's upgrade failed (issue 17): a browser hides the HTTP status of a refused
 * WebSocket upgrade and reports a close 1006, so the demo page logged a drain's
 * `503 Service Unavailable, Retry-After: 1` (HS-6, DR-1) as "closed 1006". The page tags each
 * attempt's URL with `demo-attempt=<id>` (demo/page-refusals.ts); this journal watches the
 * server's answer to each tagged upgrade on the wire (the status line and Retry-After the server
 * really wrote, whichever code path wrote them) and keeps the refusals, so `GET
 * /demo/refusal?attempt=<id>` can tell the page exactly what its socket was refused with.
 *
 * Behind a proxy that blocks WebSockets (issue 15) the attempt arrives as a plain GET without its
 * Upgrade header and the server answers 426 (HS-1) through its `request` listener: such answers
 * are recorded too (`isUpgradeStripped`), so the page can say a proxy removed the header rather
 * than that the server could not be reached.
 *
 * Demo only. It reaches below LifelineServer's API (wanted: an `onUpgradeRefused(req, refusal)`
 * hook) by wrapping the HTTP server's `upgrade` listeners, as mountDemoRoutes wraps `request`.
 * Bounded: the newest `maxEntries` refusals are kept.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ATTEMPT_PARAM, type RefusalRecord } from './page-refusals.js';

export { ATTEMPT_PARAM, type RefusalRecord };

/** Attempt ids are the page's own random ids; anything else is ignored. */
const ATTEMPT_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface RefusalJournal {
  get(attempt: string): RefusalRecord | undefined;
  /** Refusals recorded so far (for tests and the status route). */
  readonly size: number;
  unmount(): void;
}

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function attemptOf(url: string | undefined): string | undefined {
  const id = new URL(url ?? '/', 'http://localhost').searchParams.get(ATTEMPT_PARAM);
  return id !== null && ATTEMPT_RE.test(id) ? id : undefined;
}

/** Parse the head of an HTTP response: undefined unless it is one (`HTTP/1.1 503 …`). */
export function parseResponseHead(chunk: string): RefusalRecord | undefined {
  const m = /^HTTP\/1\.[01] (\d{3}) ?([^\r\n]*)/.exec(chunk);
  if (!m) return undefined;
  const retry = /\r\nRetry-After: *(\d+)\r\n/i.exec(chunk);
  return { status: Number(m[1]), reasonPhrase: m[2] ?? '', ...(retry ? { retryAfterSeconds: Number(retry[1]) } : {}) };
}

export function mountRefusalJournal(http: HttpServer, o: { readonly maxEntries?: number } = {}): RefusalJournal {
  const max = o.maxEntries ?? 256;
  const records = new Map<string, RefusalRecord>();
  const behind = http.listeners('upgrade') as UpgradeListener[];
  const behindRequests = http.listeners('request') as RequestListener[];
  const keep = (attempt: string, r: RefusalRecord): void => {
    records.delete(attempt);
    records.set(attempt, r);
    while (records.size > max) records.delete(records.keys().next().value as string);
  };

  const watch = (attempt: string, socket: Duplex): void => {
    // The first bytes written are the answer: 101 (accepted, nothing to keep) or a refusal.
    const write = socket.write;
    const end = socket.end;
    const restore = () => {
      socket.write = write;
      socket.end = end;
    };
    const see = (chunk: unknown) => {
      restore();
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).subarray(0, 1024).toString('latin1') : '';
      const r = parseResponseHead(text);
      if (!r || r.status === 101) return;
      keep(attempt, r);
    };
    socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
      see(chunk);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Duplex['write'];
    socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
      if (chunk !== undefined && typeof chunk !== 'function') see(chunk);
      else restore();
      return (end as (...a: unknown[]) => Duplex).call(this, chunk, ...rest);
    } as Duplex['end'];
    socket.once('close', restore);
  };

  const front: UpgradeListener = (req, socket, head) => {
    const attempt = attemptOf(req.url);
    if (attempt !== undefined) watch(attempt, socket);
    for (const l of behind) l.call(http, req, socket, head);
  };
  // A tagged GET that is not an upgrade: the WebSocket request after a proxy dropped its Upgrade.
  const frontRequests: RequestListener = (req, res) => {
    const attempt = req.method === 'GET' && req.headers.upgrade === undefined ? attemptOf(req.url) : undefined;
    if (attempt !== undefined) {
      res.once('finish', () => {
        if (res.statusCode === 426) keep(attempt, { status: 426, reasonPhrase: res.statusMessage, isUpgradeStripped: true });
      });
    }
    for (const l of behindRequests) l.call(http, req, res);
  };
  for (const l of behind) http.off('upgrade', l);
  http.on('upgrade', front);
  for (const l of behindRequests) http.off('request', l);
  http.on('request', frontRequests);
  let isMounted = true;
  return {
    get: (attempt) => records.get(attempt),
    get size() {
      return records.size;
    },
    unmount() {
      if (!isMounted) return;
      isMounted = false;
      http.off('upgrade', front);
      http.off('request', frontRequests);
      if (http.listening) {
        for (const l of behind) http.on('upgrade', l);
        for (const l of behindRequests) http.on('request', l);
      }
    },
  };
}
