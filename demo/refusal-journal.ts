/**
 * Why a browser's upgrade failed (issue 17): a browser hides the HTTP status of a refused
 * WebSocket upgrade and reports a close 1006, so the demo page logged a drain's
 * `503 Service Unavailable, Retry-After: 1` (HS-6, DR-1) as "closed 1006". The page tags each
 * attempt's URL with `demo-attempt=<id>` (demo/page-refusals.ts); this journal watches the
 * server's answer to each tagged upgrade on the wire (the status line and Retry-After the server
 * really wrote, whichever code path wrote them) and keeps the refusals, so `GET
 * /demo/refusal?attempt=<id>` can tell the page exactly what its socket was refused with.
 *
 * Demo only. It reaches below LifelineServer's API (wanted: an `onUpgradeRefused(req, refusal)`
 * hook) by wrapping the HTTP server's `upgrade` listeners, as mountDemoRoutes wraps `request`.
 * Bounded: the newest `maxEntries` refusals are kept.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
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
      records.delete(attempt);
      records.set(attempt, r);
      while (records.size > max) records.delete(records.keys().next().value as string);
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
  for (const l of behind) http.off('upgrade', l);
  http.on('upgrade', front);
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
      if (http.listening) for (const l of behind) http.on('upgrade', l);
    },
  };
}
