/**
 * The demo page's exact account of a failed upgrade (issue 17). A browser hides the HTTP status of
 * a refused WebSocket upgrade and reports a close 1006 (client/transport.ts), so a reconnect
 * refused with 503 during a drain (HS-6, DR-1) was logged as "closed 1006". This Transport
 * wrapper names each upgrade attempt in its URL (`demo-attempt=<id>`), remembers whether the
 * newest socket ever opened, and `explainUnopened` asks the demo server (GET /demo/refusal,
 * demo/refusal-journal.ts) what it answered that attempt with.
 *
 * The client's behaviour does not change: it still sees 1006 and backs off (CC-4), as any browser
 * client does; only the log says what really happened. Browser-safe, unit-tested in Node.
 */
import type { Transport } from '../client/index.js';

/** The query parameter that names an upgrade attempt (read by demo/refusal-journal.ts). */
export const ATTEMPT_PARAM = 'demo-attempt';

/** What the server answered a refused upgrade with. */
export interface RefusalRecord {
  readonly status: number;
  readonly reasonPhrase: string;
  /** Retry-After in seconds (HS-5, HS-6), when the answer had one. */
  readonly retryAfterSeconds?: number;
  /**
   * The attempt reached the server as a plain GET, without its Upgrade header: a proxy on the
   * way removed it (it does not pass WebSockets). The server answered 426 (HS-1). Issue 15.
   */
  readonly isUpgradeStripped?: boolean;
}

export interface AttemptTransport {
  /** Give this to createClient({ transport }) (or to another wrapper). */
  readonly transport: Transport;
  /**
   * While the client handles a socket's close (its 'closed' event, synchronously): that socket's
   * attempt id if it closed before it ever opened; undefined otherwise.
   */
  lastUnopened(): string | undefined;
}

export function attemptTransport(inner: Transport, newId: () => string = randomId): AttemptTransport {
  let last: { attempt: string; isOpen: boolean; isClosed: boolean } | undefined;
  const transport: Transport = (url, handlers, opts) => {
    const attempt = newId();
    const state = { attempt, isOpen: false, isClosed: false };
    return inner(withAttempt(url, attempt), {
      ...handlers,
      onOpen: () => {
        state.isOpen = true;
        handlers.onOpen();
      },
      onClose: (code, reason) => {
        state.isClosed = true;
        last = state; // before the client hears of it: its 'closed' event reads lastUnopened()
        try {
          handlers.onClose(code, reason);
        } finally {
          // Only while the client handles this close: a later close of another carrier (an HTTP
          // connection, issue 15) must not be explained by this socket.
          if (last === state) last = undefined;
        }
      },
    }, opts);
  };
  return {
    transport,
    lastUnopened: () => (last && last.isClosed && !last.isOpen ? last.attempt : undefined),
  };
}

export function withAttempt(url: string, attempt: string): string {
  const u = new URL(url);
  u.searchParams.set(ATTEMPT_PARAM, attempt);
  return u.href;
}

/** `ws://host:port/lifeline` → `http://host:port/demo/refusal?attempt=<id>`: the server that refused it. */
export function refusalUrl(wsUrl: string, attempt: string): string {
  const u = new URL('/demo/refusal', wsUrl.replace(/^ws/, 'http'));
  u.searchParams.set('attempt', attempt);
  return u.href;
}

/** The log line for a socket that closed 1006 before it opened, from the server's record of it. */
export function describeUnopened(r: RefusalRecord | undefined): string {
  if (!r) return 'closed 1006 before the upgrade completed (the server recorded no refusal: network or server unreachable)';
  const retry = r.retryAfterSeconds !== undefined ? `, Retry-After ${r.retryAfterSeconds} s` : '';
  if (r.isUpgradeStripped === true) {
    return `refused ${r.status}${r.reasonPhrase !== '' ? ` ${r.reasonPhrase}` : ''}: the upgrade reached the server without its Upgrade header, so a proxy on the way blocks WebSockets (the browser reports 1006; after a few such attempts the client uses HTTP, §22.7)`;
  }
  return `refused ${r.status}${r.reasonPhrase !== '' ? ` ${r.reasonPhrase}` : ''}${retry} (the browser reports 1006; the client backs off, CC-4)`;
}

/** Ask the server what it answered `attempt` with; the log line either way. */
export async function explainUnopened(wsUrl: string, attempt: string, fetchFn: typeof fetch = fetch): Promise<string> {
  try {
    const res = await fetchFn(refusalUrl(wsUrl, attempt), { cache: 'no-store' });
    if (res.status === 404) return describeUnopened(undefined);
    if (!res.ok) return `closed 1006 before the upgrade completed (asking why: HTTP ${res.status})`;
    return describeUnopened((await res.json()) as RefusalRecord);
  } catch {
    return 'closed 1006 before the upgrade completed (the server cannot be reached to ask why)';
  }
}

let counter = 0;
function randomId(): string {
  // Not a secret: it only pairs an attempt with the server's record of it.
  return `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
