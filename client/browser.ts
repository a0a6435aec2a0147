/**
 * The reference client (`lifeline/client`), browser-safe: `createClient` on any WebSocket, and
 * `createBrowserClient` on the page's own, with the browser's `online` event wired to
 * networkOnline() so a suspended client comes back with the network (RC-3). Bundled to
 * dist/browser/lifeline-client.js by scripts/build-browser.ts (the export's `browser` condition).
 *
 * @module lifeline/client
 */
import { createClient, type ClientOptions, type LifelineClient } from './create-client.js';

export * from './index.js';

export type BrowserClientOptions<S> = Omit<ClientOptions<S>, 'transport'>;

/** createClient on the global WebSocket, leaving `suspended` when the browser goes online. */
export function createBrowserClient<S = Uint8Array>(options: BrowserClientOptions<S>): LifelineClient<S> {
  const client = createClient<S>(options);
  const target = globalThis as { addEventListener?: (t: string, fn: () => void) => void; removeEventListener?: (t: string, fn: () => void) => void };
  const onOnline = () => client.networkOnline();
  target.addEventListener?.('online', onOnline);
  client.on('state', (e) => {
    if (e.state === 'closed') target.removeEventListener?.('online', onOnline);
  });
  return client;
}
