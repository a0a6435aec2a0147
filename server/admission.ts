/**
 * Upgrade admission (spec §5): every check that answers with an HTTP status
 * before the WebSocket exists, in the order HS-7 fixes: 426 (HS-1, HS-17), 503, 429, 403, 400 (HS-3, HS-18)
 * (401 follows, in the server, because authentication may be asynchronous). The HTTP carrier's open
 * (HT-3, transports/http.ts) runs the same shared steps (checkShared) and the same `admit`.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { SUBPROTOCOL } from '../spec/protocol/defaults.js';
import type { Logger } from 'pino';
import { serverTimers, systemClock, type Clock } from './clock.js';
import type { MaybePromise } from './types.js';
import type { KeyedBuckets } from './token-bucket.js';
import type { TransportKind } from './transport.js';

export interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** For logs only; never contains credentials (SEC-2). */
  readonly why: string;
}

export interface AdmissionState {
  readonly isAcceptingUpgrades: boolean;
  readonly retryAfterSeconds: number;
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly requireOrigin: boolean;
  readonly upgradeBuckets: KeyedBuckets | undefined;
  readonly nowMs: number;
  /** Count this upgrade as pending (HS-16, shared server); false when a cap is reached. */
  readonly admitPending?: () => boolean;
}

/** The subprotocols a request offers (Sec-WebSocket-Protocol is a comma-separated list). */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  if (!raw) return [];
  return raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/** The client address used for the per-IP limit (HS-5). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The checks every transport's admission shares, in HS-7 order (the 503, 429 and 403 steps): the
 * WebSocket upgrade (checkUpgrade) and the HTTP carrier's open (HT-3) run exactly these, with the same
 * pending cap, the same token bucket and the same Origin allowlist.
 */
export function checkShared(req: IncomingMessage, s: AdmissionState): Refusal | undefined {
  if (!s.isAcceptingUpgrades) {
    // HS-6, DR-1: draining or not ready.
    return { status: 503, headers: { 'Retry-After': String(s.retryAfterSeconds) }, why: 'draining or not ready' };
  }
  if (s.admitPending && !s.admitPending()) {
    // HS-16: too many upgrades waiting for an answer (per address or in total); the 503 step of HS-7.
    return { status: 503, headers: { 'Retry-After': String(s.retryAfterSeconds) }, why: 'too many pending upgrades' };
  }
  if (s.upgradeBuckets) {
    const r = s.upgradeBuckets.take(clientAddress(req), s.nowMs);
    if (!r.ok) {
      // HS-5: Retry-After in whole seconds, at least 1.
      const secs = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
      return { status: 429, headers: { 'Retry-After': String(secs) }, why: 'upgrade rate exceeded' };
    }
  }
  if (!isOriginAllowed(req.headers.origin, s)) {
    return { status: 403, headers: {}, why: 'origin not allowed' }; // HS-2, SEC-1, SEC-9 (exact: Set.has)
  }
  return undefined;
}

/** HS-2, SEC-1, SEC-9: an Origin the allowlist admits (exact: Set.has); none at all only without requireOrigin. */
export function isOriginAllowed(origin: string | undefined, s: Pick<AdmissionState, 'allowedOrigins' | 'requireOrigin'>): boolean {
  return origin === undefined ? !s.requireOrigin : s.allowedOrigins === undefined || s.allowedOrigins.has(origin);
}

/** The first check an upgrade request fails, or undefined when it passes them all. */
export function checkUpgrade(req: IncomingMessage, s: AdmissionState): Refusal | undefined {
  // HS-1: an upgrade to anything but websocket is not a WebSocket upgrade.
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return { status: 426, headers: { Upgrade: 'websocket' }, why: 'not a websocket upgrade' };
  }
  const wsVersion = req.headers['sec-websocket-version'];
  if (wsVersion !== undefined && wsVersion !== '13') {
    // HS-17 (RFC 6455 §4.4): name the version this server speaks (and Upgrade, which RFC 9110 asks of a 426);
    // part of the first (426) check.
    return { status: 426, headers: { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' }, why: 'unsupported websocket version' };
  }
  const shared = checkShared(req, s);
  if (shared) return shared;
  if (!offeredProtocols(req).includes(SUBPROTOCOL)) {
    return { status: 400, headers: {}, why: `subprotocol ${SUBPROTOCOL} not offered` }; // HS-3
  }
  // HS-3 "a malformed upgrade request": what ws would refuse later, refused here, in order.
  const key = req.headers['sec-websocket-key'];
  if (req.method !== 'GET' || wsVersion !== '13' || typeof key !== 'string' || !KEY_RE.test(key.trim())) {
    return { status: 400, headers: {}, why: 'malformed websocket upgrade' };
  }
  // HS-18 (RFC 6455 §4.1): a WebSocket upgrade needs HTTP/1.1 or later; an HTTP/1.0 one is malformed.
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return { status: 400, headers: {}, why: 'websocket upgrade over HTTP/1.0' };
  }
  return undefined;
}

/**
 * Answer a refused upgrade on the raw socket and close it; no WebSocket ever exists (HS-2). The
 * timer that destroys a socket whose peer never reads runs on `clock` (the server's).
 */
export function refuse(socket: Duplex, r: Refusal, clock: Clock = systemClock): void {
  if (socket.destroyed || socket.writableEnded) return; // answered already (HS-16's deadline, say)
  const body = `${r.status} ${STATUS_CODES[r.status] ?? ''}\n`;
  const head = [
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('error', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  // A peer that never reads must not keep the descriptor.
  const timers = serverTimers(clock);
  const t = timers.setTimeout(() => socket.destroy(), 1000);
  socket.once('close', () => timers.clearTimeout(t));
}

export interface UpgradeContext {
  readonly path: string;
  /** The server owns the HTTP server: other paths get 404 (else they belong to the application). */
  readonly isOwnServer: boolean;
  /** Ready and not draining; read again after an asynchronous authenticate (HS-6). */
  readonly isAccepting: () => boolean;
  readonly retryAfterSeconds: number;
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly requireOrigin: boolean;
  readonly upgradeBuckets: KeyedBuckets | undefined;
  readonly clock: Clock;
  readonly authenticate: ((req: IncomingMessage) => MaybePromise<string | undefined>) | undefined;
  readonly log: Logger;
  /** Every refusal on the Lifeline path, by HTTP status and the transport refused (metrics). */
  readonly onRefused?: (status: number, transport: TransportKind) => void;
  /** Count the upgrade as pending (HS-16); set on a shared server, where connections are not counted at accept. */
  readonly admitPending?: (socket: Duplex, ip: string) => boolean;
  /** An upgrade whose request is complete is answered within this, else 503 (HS-16). */
  readonly handshakeTimeoutMs: number;
}

function parsesToItself(path: string): boolean {
  try {
    return new URL(path, 'http://localhost').pathname === path;
  } catch {
    return false;
  }
}

/** Paths that are their own URL pathname (parsing changes nothing), by path: the fast path of requestPath. */
const canonicalPaths = new Map<string, boolean>();

/**
 * The pathname of a request target, as `new URL(url, 'http://localhost').pathname` gives it. The
 * common request, the endpoint's own path with or without a query, is answered without parsing
 * (a URL parse was ~0.5 % of a connect, issue 16) when that path is canonical: no character a URL
 * parser would change, so the parse would return it as is. admission.test.ts proves the two equal.
 */
export function requestPath(url: string | undefined, endpoint: string): string {
  if (url !== undefined && url.startsWith(endpoint) && (url.length === endpoint.length || url.charCodeAt(endpoint.length) === 0x3f /* ? */)) {
    let isCanonical = canonicalPaths.get(endpoint);
    if (isCanonical === undefined) {
      isCanonical = /^\/[A-Za-z0-9_~!$&'()*+,;=:@/-]*$/.test(endpoint) && !/\/\.\.?(\/|$)/.test(endpoint) && parsesToItself(endpoint);
      if (canonicalPaths.size < 64) canonicalPaths.set(endpoint, isCanonical);
    }
    if (isCanonical) return endpoint;
  }
  return new URL(url ?? '/', 'http://localhost').pathname;
}

/**
 * Module-level on purpose: a closure made inside admitUpgrade would share the async
 * function's context and so keep the upgrade `req` alive as long as the socket (~1 KB per session).
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * The upgrade completed: the WebSocket handles the socket's errors from now on (ws destroys it on
 * one), so admitUpgrade's listener goes. Left on, every idle socket kept an array of two 'error'
 * listeners (64 B, issue 16: memory per idle session).
 */
export function upgradeCompleted(socket: Duplex): void {
  socket.off('error', destroyOnError);
}

/** How one transport answers a refusal: on the raw socket (ws), or as a response (the HTTP carrier). */
export interface RefusalAnswer {
  /** Answer the refusal (nothing when it was answered already). */
  refuse(r: Refusal): void;
  /** Answered already (by HS-16's deadline, say) or the peer left. */
  readonly isAnswered: boolean;
}

/**
 * Run every upgrade check in the HS-7 order and answer a refusal on the raw
 * socket. Resolves with the principal when the upgrade may proceed, undefined
 * when it was refused (or is not ours).
 */
export async function admitUpgrade(req: IncomingMessage, socket: Duplex, c: UpgradeContext): Promise<string | undefined> {
  const path = requestPath(req.url, c.path);
  if (path !== c.path) {
    // Another path on a shared server belongs to the application.
    if (c.isOwnServer) refuse(socket, { status: 404, headers: {}, why: 'unknown path' }, c.clock);
    return undefined;
  }
  socket.on('error', destroyOnError);
  const answer: RefusalAnswer = {
    refuse: (r) => refuse(socket, r, c.clock),
    get isAnswered() {
      return socket.destroyed || socket.writableEnded;
    },
  };
  return admit(req, c, checkUpgrade, answer, 'upgrade');
}

/**
 * The admission of every transport (HS-7 order): `check` (the transport's synchronous checks, which
 * include checkShared), then `authenticate` (401, HS-4) within the handshake timeout (HS-16), then
 * readiness again (HS-6). Resolves with the principal, or undefined once the refusal is answered.
 */
export async function admit(
  req: IncomingMessage,
  c: UpgradeContext,
  check: (req: IncomingMessage, s: AdmissionState) => Refusal | undefined,
  answer: RefusalAnswer,
  what: 'upgrade' | 'http open',
): Promise<string | undefined> {
  const socket = req.socket;
  const transport: TransportKind = what === 'upgrade' ? 'ws' : 'http';
  const path = c.path; // SEC-2: the path only; the query may carry a ticket.
  const admit = c.admitPending;
  const refusal = check(req, {
    isAcceptingUpgrades: c.isAccepting(),
    retryAfterSeconds: c.retryAfterSeconds,
    allowedOrigins: c.allowedOrigins,
    requireOrigin: c.requireOrigin,
    upgradeBuckets: c.upgradeBuckets,
    nowMs: c.clock.now(),
    ...(admit ? { admitPending: () => admit(socket, clientAddress(req)) } : {}),
  });
  if (refusal) {
    c.log.info({ status: refusal.status, why: refusal.why, path, ip: clientAddress(req) }, `${what} refused`);
    c.onRefused?.(refusal.status, transport);
    answer.refuse(refusal);
    return undefined;
  }
  let principal: string | undefined = 'anonymous';
  if (c.authenticate) {
    // HS-16: an authentication that never answers must not hold the connection past the handshake timeout.
    const timers = serverTimers(c.clock);
    const deadline = timers.setTimeout(() => {
      c.log.warn({ path, ip: clientAddress(req), timeoutMs: c.handshakeTimeoutMs }, `${what} not answered within the handshake timeout`);
      c.onRefused?.(503, transport);
      answer.refuse({ status: 503, headers: { 'Retry-After': String(c.retryAfterSeconds) }, why: `${what} not answered in time` }); // HS-16
    }, c.handshakeTimeoutMs);
    try {
      const r = c.authenticate(req);
      principal = r instanceof Promise ? await r : r;
    } catch (err) {
      c.log.warn({ err }, 'authenticate threw; refusing');
      principal = undefined;
    } finally {
      timers.clearTimeout(deadline);
    }
    if (answer.isAnswered) return undefined; // answered by the deadline
    if (principal === undefined) {
      c.log.info({ status: 401, path, ip: clientAddress(req) }, `${what} refused`);
      c.onRefused?.(401, transport);
      answer.refuse({ status: 401, headers: {}, why: 'authentication failed' }); // HS-4
      return undefined;
    }
  }
  if (answer.isAnswered) return undefined;
  if (!c.isAccepting()) {
    c.onRefused?.(503, transport);
    answer.refuse({ status: 503, headers: { 'Retry-After': String(c.retryAfterSeconds) }, why: 'draining' }); // HS-6
    return undefined;
  }
  return principal;
}
