/**
 * The part of the Fetch API the HTTP transport uses (client/transports/http.ts), and the small pure
 * helpers around it: the carrier's URL and Retry-After. Browser-safe.
 */

/** The part of the Fetch API the transport uses (the global `fetch` of browsers and Node ≥ 18). */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The request options the transport passes (a subset of RequestInit). */
export interface FetchInit {
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  readonly signal?: AbortSignal;
  readonly credentials?: 'include';
  readonly keepalive?: boolean;
}

/**
 * The part of a fetch Response the transport reads. `listen` and `discard` are optional: the platform's
 * fetch has neither (the transport then reads `body`); a carrier of its own may add them
 * (client/transports/node-fetch.ts) to spare the WHATWG stream and its promises per chunk.
 */
export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
  /**
   * Read the body by callbacks, in order, instead of through `body` (call at most once, and then not
   * `body`). Returns a function that stops reading: the rest of the body is dropped, nothing more is
   * reported.
   */
  listen?(listener: BodyListener): () => void;
  /** Drop a body that is not needed, keeping the connection reusable where the carrier can (keep-alive). */
  discard?(): void;
}

/** What `FetchResponse.listen` reports: chunks, then exactly one of `end` or `error`. */
export interface BodyListener {
  /** One chunk of the body, in order; the transport may keep views into it. */
  chunk(bytes: Uint8Array): void;
  /** The body ended whole. */
  end(): void;
  /** The body stopped before its end (a cut, a reset, an abort). */
  error(err: Error): void;
}

/** The carrier's URL for a WebSocket URL: same host, port, path and query; ws → http, wss → https (HT-1). */
export function carrierUrl(wsUrl: string): string {
  if (wsUrl.startsWith('wss://')) return `https://${wsUrl.slice(6)}`;
  if (wsUrl.startsWith('ws://')) return `http://${wsUrl.slice(5)}`;
  return wsUrl;
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable (HS-5, HS-6). */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The platform's fetch (browsers, Node ≥ 18), bound to the global object. */
export function globalFetch(): FetchLike {
  const f = (globalThis as { fetch?: FetchLike }).fetch;
  if (!f) throw new TypeError('no global fetch: pass one to httpTransport()');
  return f.bind(globalThis) as FetchLike;
}
