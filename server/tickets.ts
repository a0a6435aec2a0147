/**
 * Short-lived single-use tickets for credentials in the query string (HS-13): the
 * application issues one over its authenticated HTTP API, the browser puts it in
 * the WebSocket URL, and the upgrade redeems it once. Never a long-lived secret
 * in a URL; never logged (SEC-2).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export interface TicketIssuerOptions {
  /** How long a ticket may wait before it is redeemed, in ms. */
  readonly ttlMs?: number;
  /** Where expiry reads the time; tickets set no timer, so only `now()` is needed. */
  readonly clock?: Pick<Clock, 'now'>;
}

export interface TicketIssuer {
  /** A fresh ticket for this principal. */
  issue(principal: string): string;
  /** The principal, once; undefined for an unknown, expired or already used ticket (HS-13). */
  redeem(ticket: string): string | undefined;
  /** Tickets issued and not yet redeemed or expired. */
  readonly outstanding: number;
}

export function createTicketIssuer(opts: TicketIssuerOptions = {}): TicketIssuer {
  const ttlMs = opts.ttlMs ?? 30_000;
  const clock = opts.clock ?? systemClock;
  const live = new Map<string, { principal: string; expiresAt: number }>();
  const prune = (now: number) => {
    for (const [t, v] of live) if (v.expiresAt <= now) live.delete(t);
  };
  return {
    issue(principal) {
      const now = clock.now();
      if (live.size > 1024) prune(now);
      const ticket = randomBytes(24).toString('base64url');
      live.set(ticket, { principal, expiresAt: now + ttlMs });
      return ticket;
    },
    redeem(ticket) {
      const entry = live.get(ticket);
      live.delete(ticket); // HS-13: single use, whatever the outcome
      if (!entry || entry.expiresAt <= clock.now()) return undefined;
      return entry.principal;
    },
    get outstanding() {
      prune(clock.now());
      return live.size;
    },
  };
}

/** An `authenticate` hook that redeems the ticket in query parameter `param` (HS-4, HS-13). */
export function ticketAuthenticator(issuer: TicketIssuer, param = 'ticket'): (req: IncomingMessage) => string | undefined {
  return (req) => {
    const ticket = new URL(req.url ?? '/', 'http://localhost').searchParams.get(param);
    return ticket ? issuer.redeem(ticket) : undefined;
  };
}
