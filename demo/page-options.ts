/**
 * The demo page's settings from its query string. The defaults are for a person watching: a
 * reconnect a few hundred ms after a close, not the protocol's 1 s base and 30 s cap (RC-2), and
 * enough attempts that a drain (refused upgrades until the replacement is ready) never reaches
 * `suspended`. Tests shrink them, and the HTTP fallback's (`httpFallbackAfter`, `wsRetryMs`, §22.7). Inspection is opt-in (`?inspect`): the Stately inspector
 * opens a window and needs the internet, so it is never on unless asked for.
 */
export interface PageTuning {
  readonly reconnectBaseMs: number;
  readonly reconnectCapMs: number;
  readonly reconnectMaxAttempts: number;
  readonly handshakeTimeoutMs?: number;
  /** Issue 15 (§22.7): WebSocket attempts that never open before the client uses HTTP. */
  readonly httpFallbackAfter?: number;
  /** Issue 15 (§22.7): while on HTTP, the first WebSocket probe after this long. */
  readonly wsRetryMs?: number;
}

export interface PageOptions {
  /** The Lifeline WebSocket URL. */
  readonly wsUrl: string;
  readonly tuning: PageTuning;
  /**
   * The HTTP carrier's own settings (client/transports/http.ts): `httpBufferingDetectMs`, the wait
   * for a stream's first KEEPALIVE before polling (HT-8). Empty: its defaults.
   */
  readonly http: { readonly bufferingDetectMs?: number };
  /** `?inspect`: stream the connection actor to the Stately browser inspector. */
  readonly isInspecting: boolean;
}

export const demoPageDefaults = {
  reconnectBaseMs: 300,
  reconnectCapMs: 3_000,
  reconnectMaxAttempts: 30,
} as const satisfies PageTuning;

/** Settings from `location.search` and the page's own location. */
export function pageOptions(search: string, location: { readonly protocol: string; readonly host: string }): PageOptions {
  const params = new URLSearchParams(search);
  const num = (name: string): number | undefined => {
    const v = params.get(name);
    return v === null || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
  };
  const handshakeTimeoutMs = num('handshakeTimeoutMs');
  const httpFallbackAfter = num('httpFallbackAfter');
  const wsRetryMs = num('wsRetryMs');
  const bufferingDetectMs = num('httpBufferingDetectMs');
  const inspect = params.get('inspect');
  return {
    wsUrl: params.get('url') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/lifeline`,
    tuning: {
      reconnectBaseMs: num('reconnectBaseMs') ?? demoPageDefaults.reconnectBaseMs,
      reconnectCapMs: num('reconnectCapMs') ?? demoPageDefaults.reconnectCapMs,
      reconnectMaxAttempts: num('reconnectMaxAttempts') ?? demoPageDefaults.reconnectMaxAttempts,
      ...(handshakeTimeoutMs !== undefined && { handshakeTimeoutMs }),
      // Absent: the client's own defaults (2 attempts, 60 s).
      ...(httpFallbackAfter !== undefined && { httpFallbackAfter }),
      ...(wsRetryMs !== undefined && { wsRetryMs }),
    },
    http: { ...(bufferingDetectMs !== undefined && { bufferingDetectMs }) },
    // Present and not explicitly off: `?inspect`, `?inspect=1`, `?inspect=true`.
    isInspecting: inspect !== null && !['0', 'false', 'off', 'no'].includes(inspect.toLowerCase()),
  };
}
