/**
 * Opt-in live inspection of the server's session actors (`lifeline serve --inspect <ws-url>`):
 * every actor created with `{ inspect }` streams `@xstate.actor` (with the machine definition),
 * `@xstate.event` and `@xstate.snapshot` messages to a WebSocket receiver, in the format of
 * `@statelyai/inspect`'s `createWebSocketInspector`.
 *
 * Strictly opt-in: nothing here runs unless createServerInspector is called. Unlike
 * createWebSocketInspector (which retries forever, even after stop(), and so keeps Node alive;
 * see spec/charts/inspect-socket.ts), stop() ends all activity and a receiver that is not
 * listening never keeps the process alive.
 */
import { createInspector } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import type { InspectionEvent, Observer } from 'xstate';
import { InspectSocketAdapter, inspectorPrivacy, type InspectWebSocketConstructor } from '../../spec/charts/inspect-socket.js';

export interface ServerInspectorOptions {
  /** The receiver, e.g. `ws://127.0.0.1:8090`. */
  readonly url: string;
  /** Reconnect delay after a failed or lost connection. Default 5000 ms. */
  readonly retryDelayMs?: number;
  /** Events kept while the receiver is away. Default 200. */
  readonly maxBufferedEvents?: number;
}

export interface ServerInspector {
  /** Pass to `createActor(machine, { inspect })` for every actor to be watched. */
  readonly inspect: Observer<InspectionEvent>;
  readonly isConnected: boolean;
  /** Messages written to the receiver so far. */
  readonly sent: number;
  /** Closes the connection and cancels any retry; later inspection events are dropped. */
  stop(): void;
}

/** Starts an inspector that streams to `url`. Call only when inspection was asked for. */
export function createServerInspector(options: ServerInspectorOptions): ServerInspector {
  const adapter = new InspectSocketAdapter({
    url: options.url,
    WebSocket: WebSocket as unknown as InspectWebSocketConstructor,
    ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    ...(options.maxBufferedEvents !== undefined ? { maxBufferedEvents: options.maxBufferedEvents } : {}),
  });
  // SEC-2: no credential of a machine's context or invoked actors leaves the process.
  const inspector = createInspector(adapter, inspectorPrivacy());
  inspector.start();
  return {
    inspect: inspector.inspect,
    get isConnected() {
      return adapter.isConnected;
    },
    get sent() {
      return adapter.sent;
    },
    stop: () => inspector.stop(),
  };
}
