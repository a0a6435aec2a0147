/**
 * The reference client (`lifeline/client`), browser-safe: `createClient` on any WebSocket, and
 * `createBrowserClient` on the page's own, with the browser's `online` event wired to
 * networkOnline() so a suspended client comes back with the network (RC-3). Bundled to
 * dist/browser/lifeline-client.js by scripts/build-browser.ts (the export's `browser` condition).
 *
 * @module lifeline/client
 */
import { createClient, type ClientOptions, type LifelineClient } from './create-client.js';
import { withTransports } from './options-copy.js';
import { httpTransport } from './transports/http.js';
import type { Transport } from './transport.js';

export * from './index.js';

export type BrowserClientOptions<S> = Omit<ClientOptions<S>, 'transport'>;

/** One HTTP transport for every client of the page: it holds nothing per client (issue 16). */
let sharedHttp: Transport | undefined;

/**
 * createClient on the global WebSocket, with the HTTP carrier (global fetch) to fall back to when
 * WebSockets are blocked (§22.7), leaving `suspended` when the browser goes online.
 */
export function createBrowserClient<S = Uint8Array>(options: BrowserClientOptions<S>): LifelineClient<S> {
  const hasFetch = typeof (globalThis as { fetch?: unknown }).fetch === 'function';
  const http = options.httpTransport ?? (hasFetch ? (sharedHttp ??= httpTransport()) : undefined);
  const client = createClient<S>(http === undefined ? options : withTransports<S, BrowserClientOptions<S>>(options, undefined, http));
  const target = globalThis as { addEventListener?: (t: string, fn: () => void) => void; removeEventListener?: (t: string, fn: () => void) => void };
  const onOnline = () => client.networkOnline();
  target.addEventListener?.('online', onOnline);
  client.on('state', (e) => {
    if (e.state === 'closed') target.removeEventListener?.('online', onOnline);
  });
  return client;
}
