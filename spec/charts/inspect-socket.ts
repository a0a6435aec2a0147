/**
 * The transport of a live machine inspector: an adapter for `@statelyai/inspect`'s
 * `createInspector(adapter)` that sends the same JSON messages as its `createWebSocketInspector`
 * (`@xstate.actor` with the machine definition, `@xstate.event`, `@xstate.snapshot`), but whose
 * `stop()` really stops. Shared by server/observability and client/observability.
 *
 * Why not `createWebSocketInspector` itself (0.7.2): after any socket error it waits 5 s on a
 * timer that `stop()` cannot cancel and then opens a new socket, forever, so a process that
 * inspected once never exits; it also never reconnects after a clean close, and re-sends its
 * whole backlog on every reconnect. Here: one retry timer, cancelled by `stop()` and unref'd in
 * Node (never keeps a process alive); a bounded backlog sent once; sends after `stop()` dropped.
 *
 * Browser-safe: the WebSocket constructor is injected (the browser's, or `ws` in Node).
 */

/** The part of a WebSocket this adapter uses (the browser's and `ws` both fit). */
export interface InspectWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  // `never`: any implementation's handler type (Event, CloseEvent, ws's own) fits; this adapter reads none.
  onopen: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
}

export type InspectWebSocketConstructor = new (url: string) => InspectWebSocket;

export interface InspectSocketOptions {
  /** ws:// URL of the receiver (a local Stately inspector bridge, or a test's `ws` server). */
  readonly url: string;
  readonly WebSocket: InspectWebSocketConstructor;
  /** Wait before reconnecting after a failed or lost connection. Default 5000 ms. */
  readonly retryDelayMs?: number;
  /** Events kept while not connected; the oldest go first. Default 200. */
  readonly maxBufferedEvents?: number;
}

const OPEN = 1;

/** An `Adapter` for `createInspector` (structurally: start, stop, send). */
export class InspectSocketAdapter {
  private socket: InspectWebSocket | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private backlog: string[] = [];
  private isStopped = true;
  /** Messages written to an open socket, for tests and diagnostics. */
  sent = 0;

  constructor(private readonly options: InspectSocketOptions) {}

  get isConnected(): boolean {
    return this.socket?.readyState === OPEN;
  }

  start(): void {
    if (!this.isStopped) return;
    this.isStopped = false;
    this.connect();
  }

  stop(): void {
    this.isStopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.backlog = [];
    if (socket) {
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      try {
        socket.close(1000);
      } catch {
        // Closing a socket that is still connecting throws in some implementations; it is dropped either way.
      }
    }
  }

  send(event: unknown): void {
    if (this.isStopped) return;
    const text = serialize(event);
    if (text === undefined) return;
    const socket = this.socket;
    if (socket && socket.readyState === OPEN) {
      socket.send(text);
      this.sent++;
      return;
    }
    this.backlog.push(text);
    const max = this.options.maxBufferedEvents ?? 200;
    if (this.backlog.length > max) this.backlog.splice(0, this.backlog.length - max);
  }

  private connect(): void {
    let socket: InspectWebSocket;
    try {
      socket = new this.options.WebSocket(this.options.url);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onmessage = () => {};
    socket.onopen = () => {
      const backlog = this.backlog;
      this.backlog = [];
      for (const text of backlog) {
        socket.send(text);
        this.sent++;
      }
    };
    // A close follows every error; retry once, from the close.
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket === socket) this.socket = undefined;
      this.retry();
    };
  }

  private retry(): void {
    if (this.isStopped || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.isStopped) this.connect();
    }, this.options.retryDelayMs ?? 5000);
    // Node: an inspector waiting for its receiver must not keep the process alive.
    (this.retryTimer as { unref?: () => void }).unref?.();
  }
}

const SECRET_KEYS = /^(token|ticket|cookie|authorization|password|secret|accessToken|refreshToken)$/i;
const REDACTED = '[REDACTED]';

/** JSON of an inspection event; bigints (protobuf uint64) as strings, credential keys redacted at any depth. */
function serialize(event: unknown): string | undefined {
  try {
    return JSON.stringify(event, (k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      return SECRET_KEYS.test(k) && v !== undefined && v !== null ? REDACTED : v;
    });
  } catch {
    return undefined; // a circular event: not worth crashing the inspected actor for
  }
}

/** Stately inspection events as far as the privacy options read them. */
interface InspectedEventLike {
  readonly type: string;
  readonly sessionId?: string;
  readonly name?: string;
}

/**
 * `filter`, `sanitizeEvent` and `sanitizeContext` options for createInspector so that no
 * credential leaves the process through the inspector (SEC-2): context keys named like
 * credentials are redacted, invoked credential actors (the client machine's `getToken`) are not
 * inspected at all (their snapshots hold the token as output), and their done events reach the
 * parent's stream without the output.
 */
export function inspectorPrivacy(credentialActors: readonly string[] = ['getToken']) {
  const hidden = new Set<string>();
  const doneTypes = new Set(credentialActors.map((id) => `xstate.done.actor.${id}`));
  return {
    filter(event: InspectedEventLike): boolean {
      if (event.type === '@xstate.actor' && event.name !== undefined && credentialActors.includes(event.name) && event.sessionId) {
        hidden.add(event.sessionId);
      }
      return event.sessionId === undefined || !hidden.has(event.sessionId);
    },
    sanitizeEvent<E extends { type: string }>(event: E): E {
      return doneTypes.has(event.type) ? { ...event, output: REDACTED } : event;
    },
    sanitizeContext: redactContext,
  };
}

/** Context with credential-named keys redacted (one level deep, where machines keep them). */
export function redactContext<T>(context: T): T {
  if (typeof context !== 'object' || context === null) return context;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(context as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) && v !== undefined ? REDACTED : v;
  }
  return out as T;
}
