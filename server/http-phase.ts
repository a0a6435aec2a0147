/**
 * Bounds of the HTTP phase (spec §5.6, HS-15, HS-16): what a connection may hold
 * before it is a WebSocket. Issue 13 measured the reference server on Node's
 * defaults: 500 half-finished upgrade requests from one address held 500
 * descriptors for more than two minutes, and a 1 byte/s header trickle stayed
 * open 92 s; the per-IP upgrade rate (HS-5) cannot act before a request is
 * complete. Header and request timeouts cut the slow ones (HS-15); a cap on
 * pending connections per address and in total bounds how many can wait at
 * once (HS-16).
 */
import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Logger } from 'pino';
import type { Duplex } from 'node:stream';

export interface HttpPhaseLimits {
  /** Request head complete within this (HS-15); Node's `headersTimeout`. */
  readonly headersTimeoutMs: number;
  /** Whole request complete within this (HS-15); Node's `requestTimeout`, ≥ headersTimeoutMs. */
  readonly requestTimeoutMs: number;
  /** How often the timeouts are checked; the cut comes at most this late (Node's `connectionsCheckingInterval`). */
  readonly httpCheckIntervalMs: number;
  /** Pending connections (not yet WebSockets) per client address (HS-16). */
  readonly maxPendingUpgradesPerIp: number;
  /** Pending connections in total (HS-16). */
  readonly maxPendingUpgrades: number;
}

/** HS-15 on a shared server: its timeouts are the application's; say so when they are looser than ours. */
export function warnLooseSharedServer(server: HttpServer, o: Pick<HttpPhaseLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>, log: Logger): void {
  const loose = server.headersTimeout === 0 || server.headersTimeout > o.headersTimeoutMs || server.requestTimeout === 0 || server.requestTimeout > o.requestTimeoutMs;
  if (!loose) return;
  log.warn(
    { headersTimeout: server.headersTimeout, requestTimeout: server.requestTimeout, wantHeadersTimeoutMs: o.headersTimeoutMs, wantRequestTimeoutMs: o.requestTimeoutMs },
    'shared HTTP server: half-finished requests are bounded only by its own timeouts (HS-15); create it with lifelineHttpServerOptions()',
  );
}

/** Options for `http.createServer` that enforce HS-15 (public form: `lifelineHttpServerOptions` in options.ts). */
export function httpServerTimeouts(l: Pick<HttpPhaseLimits, 'headersTimeoutMs' | 'requestTimeoutMs' | 'httpCheckIntervalMs'>): ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs, // HS-15
    requestTimeout: l.requestTimeoutMs, // HS-15
    connectionsCheckingInterval: l.httpCheckIntervalMs,
  };
}

/** The check interval for a header timeout: a quarter of it, 5 ms to 1 s (a 5 s timeout is enforced within 6 s). */
export function checkIntervalFor(headersTimeoutMs: number): number {
  return Math.min(1000, Math.max(5, Math.floor(headersTimeoutMs / 4)));
}

/**
 * Connections that are not (yet) WebSockets, counted per client address and in
 * total (HS-16). A connection is admitted when it arrives (own HTTP server) or
 * when its upgrade reaches the server (shared server), and released when it
 * becomes a WebSocket or closes.
 */
export class PendingUpgrades {
  private readonly byIp = new Map<string, number>();
  /** Every pending socket (released on close, so this holds only live ones). */
  private readonly ipOf = new Map<Duplex, string>();
  private total = 0;
  /**
   * One close listener for every pending socket (the emitter is `this`), removed on release: a
   * closure per socket left on every upgraded socket cost about 290 B per idle session (issue 12).
   */
  private readonly onClose: (this: Duplex) => void;

  constructor(private readonly limits: Pick<HttpPhaseLimits, 'maxPendingUpgradesPerIp' | 'maxPendingUpgrades'>) {
    const pending = this;
    this.onClose = function (this: Duplex) {
      pending.release(this);
    };
  }

  /** Count `socket` as pending for `ip`; false (and not counted) when either cap is reached (HS-16). */
  admit(socket: Duplex, ip: string): boolean {
    if (this.ipOf.has(socket)) return true;
    const n = this.byIp.get(ip) ?? 0;
    if (n >= this.limits.maxPendingUpgradesPerIp || this.total >= this.limits.maxPendingUpgrades) return false; // HS-16
    this.byIp.set(ip, n + 1);
    this.ipOf.set(socket, ip);
    this.total++;
    socket.on('close', this.onClose);
    return true;
  }

  /** The connection became a WebSocket, or closed: it no longer counts. */
  release(socket: Duplex): void {
    const ip = this.ipOf.get(socket);
    if (ip === undefined) return;
    this.ipOf.delete(socket);
    socket.off('close', this.onClose);
    this.total--;
    const n = (this.byIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.byIp.delete(ip);
    else this.byIp.set(ip, n);
  }

  /** Server close: a pending upgrade (authentication still running, say) must not outlive it. */
  destroyAll(): void {
    for (const socket of [...this.ipOf.keys()]) socket.destroy();
  }

  get size(): number {
    return this.total;
  }

  countFor(ip: string): number {
    return this.byIp.get(ip) ?? 0;
  }
}
