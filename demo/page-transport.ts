/**
 * The demo page's transport display (issue 15): which carrier the session is on now, `ws` or
 * `http` (§22), as the client reports it (`client.transport`, and the `transport` of each
 * Welcome), and every switch between them, so a person behind a proxy that blocks WebSockets
 * sees that the page still works, over what, and when it moves back. The session is the same
 * across a switch (RESUMED, same seqs: the gap counter beside it stays 0).
 *
 * Pure, browser-safe.
 */

/** The carrier of a connection (server/transport.ts's TransportKind, as the client names it). */
export type PageTransportKind = 'ws' | 'http';

export interface TransportBadge {
  /** The badge's text and `data-transport`: `ws`, `http`, or `–` before the first connection. */
  readonly text: string;
  /** What it means, for the tooltip and the Connection panel. */
  readonly detail: string;
}

/**
 * The badge for the transport of the connection in use (`kind`: the last Welcome's), and while
 * not connected, the carrier of the next attempt (`client.transport`).
 */
export function transportBadge(kind: PageTransportKind | undefined, isConnected: boolean, attempting?: PageTransportKind): TransportBadge {
  const next = !isConnected && attempting !== undefined ? `; next attempt over ${attempting}` : '';
  if (kind === undefined) return { text: '–', detail: `not connected yet${next}` };
  const last = isConnected ? '' : ` (last connection${next})`;
  return kind === 'ws'
    ? { text: 'ws', detail: `WebSocket${last}` }
    : { text: 'http', detail: `HTTP: WebSocket did not open, so the session runs over HTTP requests; the client retries WebSocket from time to time${last}` };
}

export interface TransportWatchState {
  /** The transport of the newest Welcome. */
  readonly current: PageTransportKind | undefined;
  /** Switches between Welcomes: ws → http (fallback), http → ws (back). */
  readonly toHttp: number;
  readonly toWs: number;
}

/** Follows the transport of each Welcome; says when it changed. */
export class TransportWatch {
  private kind: PageTransportKind | undefined;
  private toHttp = 0;
  private toWs = 0;

  /**
   * A Welcome arrived over `kind`. Returns the log line when the session changed transport,
   * undefined otherwise. A client starts on WebSocket (HT-20), so a first Welcome over HTTP is a
   * fallback too; a first one over ws is no switch.
   */
  onWelcome(kind: PageTransportKind, outcome: string): string | undefined {
    const from = this.kind ?? 'ws';
    this.kind = kind;
    if (from === kind) return undefined;
    if (kind === 'http') {
      this.toHttp++;
      return `transport ws → http: WebSocket did not open, the session runs over HTTP (${outcome.toUpperCase()})`;
    }
    this.toWs++;
    return `transport http → ws: WebSocket works again, the session moved back (${outcome.toUpperCase()})`;
  }

  get state(): TransportWatchState {
    return { current: this.kind, toHttp: this.toHttp, toWs: this.toWs };
  }

  /** `1 to http · 0 back to ws`, for the Connection panel. */
  get summary(): string {
    return `${this.toHttp} to http · ${this.toWs} back to ws`;
  }
}
