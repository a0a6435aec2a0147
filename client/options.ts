/** The options of a Lifeline client. Browser-safe. */
import type { BackpressurePolicy } from '../gen/lifeline/v1/envelope_pb.js';
import type { ClientConnectionOptions } from '../spec/machines/client-connection.machine.js';
import type { InspectionEvent, Observer } from 'xstate';
import type { ClientClock } from './clock.js';
import type { ChannelReducer } from './reducer.js';
import type { Transport, WebSocketConstructorLike } from './transport.js';

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** What `getToken` is told about the attempt it provides credentials for. */
export interface TokenContext {
  /** True after a refresh-token advice (RC-5): do not return a cached token. */
  readonly forceRefresh: boolean;
  /** The session the attempt will try to resume, if any. */
  readonly sessionId: string | undefined;
}

/** The options of `createClient()`; only `url` is required. */
export interface ClientOptions<S = Uint8Array> extends Partial<Omit<ClientConnectionOptions, 'heartbeatIntervalMs' | 'heartbeatMissedMax'>> {
  /** The server's Lifeline URL (ws:// or wss://). */
  readonly url: string;
  /** A browser-style WebSocket constructor; default the global one. Ignored when `transport` is given. */
  readonly WebSocket?: WebSocketConstructorLike;
  /** How sockets are opened (client/node.ts passes the `ws` one; tests pass a fake). */
  readonly transport?: Transport;
  /**
   * How HTTP carrier connections are opened (§22, client/transports/http.ts); the Node and browser
   * clients pass one by default. With it, `transports` defaults to `['ws', 'http']`: the client falls
   * back to HTTP when WebSockets are blocked and moves back when they work again (HT-20 … HT-25).
   */
  readonly httpTransport?: Transport;
  /** Credentials for each attempt (RC-5), sent in Hello.token. */
  readonly getToken?: (ctx: TokenContext) => MaybePromise<string | undefined>;
  /**
   * Channels to subscribe to from the first Hello on (Hello.channels, RS-9); the Welcome confirms
   * them. Add more with `subscribe()`.
   */
  readonly channels?: readonly string[];
  /** How Snapshot/StatePatch bytes become local state; default: the byte reducer. */
  readonly reducer?: ChannelReducer<S>;
  /** Hello.receive_window: server messages in flight (BP-1); default 256. */
  readonly receiveWindow?: number;
  /** Ack at the latest this long after processing (SEQ-5). */
  readonly ackDelayMs?: number;
  /** Most sends not yet acknowledged, queued and in flight (BP-13). */
  readonly queueLimitMessages?: number;
  /** Largest frame accepted from the server (WIRE-4). */
  readonly maxPayloadBytes?: number;
  /** The backpressure policy asked for in Hello (BP-2); the server decides. */
  readonly preferredPolicy?: BackpressurePolicy;
  /** Hello.capabilities (§6.1); default the features this client implements. */
  readonly capabilities?: readonly string[];
  /** Hello.agent, for the server's logs; default `lifeline-js/0.1`. */
  readonly agent?: string;
  /** Recent server message ids remembered for dedupe (SEQ-8); 0 turns it off. */
  readonly dedupeWindow?: number;
  /** Jitter source in [0, 1) (RC-2). */
  readonly random?: () => number;
  /** Timers and the monotonic clock; default the platform's. */
  readonly clock?: ClientClock;
  /** Connect at once (default true); else call connect(). */
  readonly autoConnect?: boolean;
  /**
   * XState inspection of the connection actor, e.g. `createClientInspector(o).inspect` from
   * client/observability/inspect.ts (kept out of this module so the bundle does not carry it).
   */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}
