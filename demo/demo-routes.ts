/**
 * The demo's fault buttons, server side (only with `serve --demo`): HTTP routes that make the
 * reference server do what a network or an operator would, so a person can watch the protocol
 * recover on the demo page.
 *
 * - `POST /demo/close?session=ID`: close that session's socket with GOING_AWAY (1001, CC-7) and
 *   keep the session: the client backs off and resumes (RESUMED, replay, no gap; RS-1, RS-2).
 * - `POST /demo/drain[?deadlineMs=&spreadMs=]`: `server.drain()` with a short deadline and spread
 *   (DR-1 … DR-5); the client follows its DrainNotice (DR-6). When the drain is over the same
 *   server becomes ready again: it plays the replacement node of a rolling deploy, and still holds
 *   the detached sessions, so the clients resume them.
 * - `GET /demo/status`: readiness, drain state and counts (for the page and tests).
 * - `GET /demo/refusal?attempt=ID`: the HTTP status and Retry-After the server answered the page's
 *   upgrade attempt ID with (demo/refusal-journal.ts), which the browser hides behind a 1006;
 *   404 when that attempt was not refused.
 *
 * POSTs need the header `x-lifeline-demo: 1`: a cross-site form cannot set it without a CORS
 * preflight, which these routes never answer, so another site cannot press the buttons.
 *
 * Two things here reach past LifelineServer's public API, because it has no seam for them yet
 * (each is checked at run time and fails loudly rather than silently doing nothing):
 * closing one session's socket with a chosen code while keeping the session (wanted:
 * `LifelineSession.disconnect(name)`), and leaving the draining state (wanted:
 * `LifelineServer.endDrain()`; `setReady(true)` alone leaves upgrades refused, HS-6). Mounting
 * wraps the HTTP server's `request` listeners (wanted: the CLI composing `onRequest`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sessionBehind } from '../server/session-handle.js';
import type { LifelineSession } from '../server/types.js';
import type { LifelineServer } from '../server/server.js';
import { codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import { mountRefusalJournal, type RefusalRecord } from './refusal-journal.js';

export interface DemoRoutesOptions {
  /** Drain deadline when the request names none; short, so a person sees the whole drain. */
  readonly drainDeadlineMs?: number;
  /** Spread of the reconnect slots (DR-3) when the request names none. */
  readonly drainSpreadMs?: number;
  /** Refused upgrades by attempt id (mountDemoRoutes supplies it). */
  readonly refusals?: { get(attempt: string): RefusalRecord | undefined };
}

export const demoRouteDefaults = { drainDeadlineMs: 4_000, drainSpreadMs: 1_500 } as const;

export interface DemoStatus {
  readonly isReady: boolean;
  readonly isDraining: boolean;
  readonly sessions: number;
  readonly connections: number;
  /** Drains run through /demo/drain since start. */
  readonly drains: number;
}

export interface DemoRoutes {
  /** Answer a /demo/ request; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  status(): DemoStatus;
  /** Resolves when no demo drain is running (the server is ready again). */
  settled(): Promise<void>;
  /** Take the routes off the HTTP server again (mountDemoRoutes only). */
  unmount(): void;
}

const PREFIX = '/demo/';

export function demoRoutes(srv: LifelineServer, o: DemoRoutesOptions = {}): DemoRoutes {
  let drains = 0;
  let draining: Promise<void> | undefined;

  const status = (): DemoStatus => {
    const s = srv.stats();
    return { isReady: s.isReady, isDraining: s.isDraining, sessions: s.sessions, connections: s.connections, drains };
  };

  const close = (url: URL, res: ServerResponse): void => {
    const id = url.searchParams.get('session') ?? '';
    const session = id === '' ? undefined : srv.session(id);
    if (!session) return json(res, 404, { error: 'no such session' });
    const socket = socketOf(session);
    if (socket === 'no-seam') return json(res, 501, { error: 'this server offers no way to close one socket' });
    if (!socket) return json(res, 409, { error: `session is ${session.state}, not connected` });
    // CC-7: the endpoint goes away without a drain; 1001's advice is backoff with the session kept.
    socket.close('GOING_AWAY', 'demo: connection closed by the server');
    json(res, 200, { session: id, code: codeOf('GOING_AWAY') });
  };

  const drain = (url: URL, res: ServerResponse): void => {
    if (draining || srv.stats().isDraining) return json(res, 409, { error: 'a drain is already running' });
    const deadlineMs = positive(url.searchParams.get('deadlineMs')) ?? o.drainDeadlineMs ?? demoRouteDefaults.drainDeadlineMs;
    const spreadMs = positive(url.searchParams.get('spreadMs')) ?? o.drainSpreadMs ?? demoRouteDefaults.drainSpreadMs;
    const sessions = srv.stats().connections;
    drains++;
    draining = srv
      .drain({ deadlineMs, spreadMs })
      .then(() => srv.endDrain())
      .catch((err: unknown) => srv.log.error({ err }, 'demo: drain or reopening failed'))
      .finally(() => {
        draining = undefined;
      });
    json(res, 202, { connections: sessions, deadlineMs, spreadMs });
  };

  const refusal = (url: URL, res: ServerResponse): void => {
    const r = o.refusals?.get(url.searchParams.get('attempt') ?? '');
    if (r) json(res, 200, r);
    else json(res, 404, { error: 'no refusal recorded for this attempt' });
  };

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(PREFIX)) return false;
    req.resume(); // no body is read; let the request end
    const route = url.pathname.slice(PREFIX.length);
    if (route === 'status' || route === 'refusal') {
      if (req.method !== 'GET' && req.method !== 'HEAD') json(res, 405, { error: 'GET only' }, { Allow: 'GET, HEAD' });
      else if (route === 'status') json(res, 200, status());
      else refusal(url, res);
      return true;
    }
    if (route !== 'close' && route !== 'drain') {
      json(res, 404, { error: 'no such demo route' });
      return true;
    }
    if (req.method !== 'POST') json(res, 405, { error: 'POST only' }, { Allow: 'POST' });
    else if (req.headers['x-lifeline-demo'] !== '1') json(res, 403, { error: 'missing x-lifeline-demo header' });
    else if (route === 'close') close(url, res);
    else drain(url, res);
    return true;
  };

  return {
    handle,
    status,
    async settled() {
      while (draining) await draining;
    },
    unmount() {},
  };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Put the demo routes in front of whatever answers the server's HTTP requests now (the
 * LifelineServer's own handler: health, readiness, the static files of the demo).
 */
export function mountDemoRoutes(srv: LifelineServer, o: DemoRoutesOptions = {}): DemoRoutes {
  const http = srv.httpServer;
  const journal = mountRefusalJournal(http);
  const routes = demoRoutes(srv, { refusals: journal, ...o });
  const behind = http.listeners('request') as Listener[];
  const front: Listener = (req, res) => {
    if (routes.handle(req, res)) return;
    for (const l of behind) l.call(http, req, res);
  };
  for (const l of behind) http.off('request', l);
  http.on('request', front);
  let isMounted = true;
  return {
    ...routes,
    unmount() {
      if (!isMounted) return;
      isMounted = false;
      http.off('request', front);
      // A closed server already took its own handler off; do not put it back then.
      if (http.listening) for (const l of behind) http.on('request', l);
      // Last: the journal is mounted first and sits behind the routes (it wraps `request` too).
      journal.unmount();
    },
  };
}

/** The part of the server's PeerTransport (server/transport.ts) this route uses. */
interface ClosableSocket {
  readonly isOpen?: boolean;
  close(name: WsCloseCodeName, reason: string): void;
}

/**
 * The transport under a session, closed directly so the server sees an ordinary close and detaches
 * the session (RS-1). Connection.close() would mark the socket as ended by the server, and the
 * session would never hear of it. Undefined when the session has no socket now. The public
 * handle has no socket (issue 12); the demo, part of this repository, looks behind it.
 */
function socketOf(handle: LifelineSession): ClosableSocket | undefined | 'no-seam' {
  const session = sessionBehind(handle) ?? handle;
  const internals = session as unknown as { conn?: { transport?: Partial<ClosableSocket> } };
  if (!('conn' in (session as object))) return 'no-seam';
  const transport = internals.conn?.transport;
  if (!transport) return undefined;
  if (typeof transport.close !== 'function') return 'no-seam';
  if (transport.isOpen === false) return undefined;
  return transport as ClosableSocket;
}

function positive(v: string | null): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
