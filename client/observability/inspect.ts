/**
 * Opt-in live inspection of the client's connection actor (the client option `inspect`).
 * Browser-safe: no Node API. Two receivers:
 *
 * - `{ url }`: a WebSocket receiver (a local bridge, a test's `ws` server), fed the JSON messages
 *   of `@statelyai/inspect`'s createWebSocketInspector (`@xstate.actor` with the definition,
 *   `@xstate.event`, `@xstate.snapshot`). Uses the global WebSocket, or the one passed (`ws` in
 *   Node 20, which has no global WebSocket). stop() ends all activity (see
 *   spec/charts/inspect-socket.ts for why not createWebSocketInspector itself).
 * - `{ browser: true }`: `@statelyai/inspect`'s browser inspector, which opens the Stately
 *   inspector in a new window (needs the internet and a page opened by a user gesture).
 *
 * Either way the client's token (context, getToken's output) is never sent (SEC-2).
 */
import { createBrowserInspector, createInspector } from '@statelyai/inspect';
import type { InspectionEvent, Observer } from 'xstate';
import { InspectSocketAdapter, inspectorPrivacy, type InspectWebSocketConstructor } from '../../spec/charts/inspect-socket.js';

export type ClientInspectOption =
  | {
      readonly url: string;
      /** Default: `globalThis.WebSocket`. */
      readonly WebSocket?: InspectWebSocketConstructor;
      /** Reconnect delay after a failed or lost connection. Default 5000 ms. */
      readonly retryDelayMs?: number;
    }
  | { readonly browser: true };

export interface ClientInspector {
  /** Pass to `createActor(clientConnectionMachine, { inspect })`. */
  readonly inspect: Observer<InspectionEvent>;
  stop(): void;
}

/** Starts inspection as the client option asks. Call only when the option is given. */
export function createClientInspector(option: ClientInspectOption): ClientInspector {
  if ('browser' in option) {
    const inspector = createBrowserInspector({ ...inspectorPrivacy() });
    return { inspect: inspector.inspect, stop: () => inspector.stop() };
  }
  const WebSocketImpl = option.WebSocket ?? (globalThis as { WebSocket?: InspectWebSocketConstructor }).WebSocket;
  if (!WebSocketImpl) throw new TypeError('inspect: no global WebSocket here; pass one (e.g. `WebSocket` from the ws package)');
  const adapter = new InspectSocketAdapter({
    url: option.url,
    WebSocket: WebSocketImpl,
    ...(option.retryDelayMs !== undefined ? { retryDelayMs: option.retryDelayMs } : {}),
  });
  const inspector = createInspector(adapter, inspectorPrivacy());
  inspector.start();
  return { inspect: inspector.inspect, stop: () => inspector.stop() };
}
