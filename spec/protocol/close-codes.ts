/**
 * The Lifeline close-code registry (spec §14). One table for every way a session
 * can end: WebSocket close codes after the upgrade, HTTP statuses before it.
 * The spec's registry table is generated from this file and checked by a test,
 * so the prose and the code cannot drift apart.
 */

/** What a client does after a close (spec §14.1, CC-2). */
export type Retry =
  /** Never reconnect on its own: the client ends in `failed`. */
  | 'none'
  /** Reconnect at once (first attempt only; later attempts back off, RC-7). */
  | 'immediate'
  /** Reconnect with exponential backoff and full jitter (RC-2). */
  | 'backoff'
  /** Get a fresh token, then reconnect with backoff (RC-5). */
  | 'refresh-token'
  /** Wait the server-given delay (DrainNotice, Retry-After), then reconnect (RC-8). */
  | 'server-delay';

/** Who may send a code. */
export type Sender = 'server' | 'client' | 'either' | 'never-sent';

export interface CloseRow {
  /** WebSocket close code, for closes after the upgrade. */
  readonly code?: number;
  /** HTTP status, for refusals before the upgrade. */
  readonly http?: number;
  readonly retry: Retry;
  /** The client MUST NOT resume and starts a new session (drops its session id). */
  readonly resetSession: boolean;
  /** Smallest delay before the next attempt, in ms, whatever the backoff says. */
  readonly minDelayMs: number;
  readonly sender: Sender;
  /** Spec id of the rule that makes an implementation use this code. */
  readonly spec: string;
  /** When it is used, one line, for the spec table. */
  readonly when: string;
}

export const closeCodes = {
  // --- Standard WebSocket codes (RFC 6455 §7.4.1, IANA registry) ---
  NORMAL: {
    code: 1000, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'either', spec: 'CC-6',
    when: 'The session is over on purpose: client close(), or the application ended it. Not a drain.',
  },
  GOING_AWAY: {
    code: 1001, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'either', spec: 'CC-7',
    when: 'Endpoint going away without a drain (browser page unload, process exit without drain).',
  },
  PROTOCOL_ERROR: {
    code: 1002, retry: 'backoff', resetSession: true, minDelayMs: 1000, sender: 'either', spec: 'WIRE-3',
    when: 'A decodable Envelope that breaks a rule: no body, value out of range, body not allowed in this state, seq gap from a client.',
  },
  UNSUPPORTED_DATA: {
    code: 1003, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'either', spec: 'WIRE-1',
    when: 'A text frame: Lifeline frames are binary only.',
  },
  RESERVED_1004: {
    code: 1004, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'never-sent', spec: 'CC-4',
    when: 'Reserved by RFC 6455; never sent. Treated like an unknown 1xxx code.',
  },
  NO_STATUS: {
    code: 1005, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'never-sent', spec: 'CC-4',
    when: 'Observed when a close frame carries no code; never sent.',
  },
  ABNORMAL: {
    code: 1006, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'never-sent', spec: 'CC-4',
    when: 'Observed when the connection dropped without a close frame (network loss, terminate()); never sent.',
  },
  INVALID_PAYLOAD: {
    code: 1007, retry: 'backoff', resetSession: true, minDelayMs: 1000, sender: 'either', spec: 'WIRE-2',
    when: 'A binary frame that is not a decodable Envelope.',
  },
  POLICY_VIOLATION: {
    code: 1008, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'server', spec: 'SEC-7',
    when: 'The peer broke a server policy not covered by a more specific code.',
  },
  MESSAGE_TOO_BIG: {
    code: 1009, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'either', spec: 'WIRE-4',
    when: 'A frame larger than the receiver\'s max payload (Welcome.max_payload_bytes on the server).',
  },
  MANDATORY_EXTENSION: {
    code: 1010, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'client', spec: 'CC-4',
    when: 'RFC 6455: the client needed an extension the server did not negotiate. Lifeline needs none.',
  },
  INTERNAL_ERROR: {
    code: 1011, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'CC-5',
    when: 'The server failed while serving this session (including a failure during teardown).',
  },
  SERVICE_RESTART: {
    code: 1012, retry: 'server-delay', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'DR-4',
    when: 'Closed by a drain; the DrainNotice sent before it says when to come back.',
  },
  TRY_AGAIN_LATER: {
    code: 1013, retry: 'backoff', resetSession: false, minDelayMs: 5000, sender: 'server', spec: 'CC-8',
    when: 'The server is overloaded (session limit reached after the upgrade).',
  },
  BAD_GATEWAY: {
    code: 1014, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'never-sent', spec: 'CC-4',
    when: 'Sent by gateways and proxies, never by a Lifeline endpoint.',
  },
  TLS_HANDSHAKE: {
    code: 1015, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'never-sent', spec: 'CC-4',
    when: 'Observed when TLS fails; never sent.',
  },

  // --- Lifeline codes, 4000–4999. The hundreds digit is the advice class (CC-3). ---
  // 40xx: terminal.
  VERSION_UNSUPPORTED: {
    code: 4000, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'server', spec: 'HS-11',
    when: 'Hello.protocol_version is not one the server speaks.',
  },
  FORBIDDEN: {
    code: 4001, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'server', spec: 'SEC-6',
    when: 'The principal is authenticated but may not use this endpoint or channel.',
  },
  SESSION_TAKEN_OVER: {
    code: 4002, retry: 'none', resetSession: true, minDelayMs: 0, sender: 'server', spec: 'RS-7',
    when: 'A newer connection resumed this session; this older socket is closed so one session has one socket.',
  },
  // 41xx: refresh the token, then reconnect.
  TOKEN_EXPIRED: {
    code: 4100, retry: 'refresh-token', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'SEC-5',
    when: 'The credential expired during the session; refresh and resume.',
  },
  UNAUTHORIZED: {
    code: 4101, retry: 'refresh-token', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'HS-12',
    when: 'Hello.token missing or invalid (when the server authenticates in Hello).',
  },
  REVOKED: {
    code: 4102, retry: 'refresh-token', resetSession: true, minDelayMs: 0, sender: 'server', spec: 'SEC-6',
    when: 'The principal\'s access was revoked; closed at once, not at the next reconnect.',
  },
  // 42xx: reconnect with backoff (and resume).
  HEARTBEAT_TIMEOUT: {
    code: 4200, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'either', spec: 'HB-3',
    when: 'No frame or heartbeat from the peer within interval × (missed_max + 1).',
  },
  HANDSHAKE_TIMEOUT: {
    code: 4201, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'either', spec: 'HS-10',
    when: 'No Hello (server) or no Welcome (client) within the handshake timeout.',
  },
  SLOW_CONSUMER: {
    code: 4202, retry: 'backoff', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'BP-11',
    when: 'DISCONNECT policy: the client fell behind its queue limit; it resumes and catches up.',
  },
  RATE_LIMITED: {
    code: 4203, retry: 'backoff', resetSession: false, minDelayMs: 1000, sender: 'server', spec: 'BP-14',
    when: 'The client sent faster than the per-session message rate limit.',
  },
  // 43xx: reconnect after a server-given delay.
  RECONNECT_ELSEWHERE: {
    code: 4300, retry: 'server-delay', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'DR-6',
    when: 'Rebalance: the DrainNotice named another target; reconnect there after its delay.',
  },

  // --- HTTP answers before the upgrade (HS-1 … HS-6). No WebSocket exists yet. ---
  HTTP_BAD_REQUEST: {
    http: 400, retry: 'none', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'HS-3',
    when: 'Upgrade without the lifeline.v1 subprotocol, a malformed upgrade request, or one over HTTP/1.0 (HS-18).',
  },
  HTTP_UNAUTHORIZED: {
    http: 401, retry: 'refresh-token', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'HS-4',
    when: 'authenticate() refused the upgrade (cookie, ticket or header).',
  },
  HTTP_ORIGIN_REJECTED: {
    http: 403, retry: 'none', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'HS-2',
    when: 'Origin header not in the allowlist.',
  },
  HTTP_UPGRADE_REQUIRED: {
    http: 426, retry: 'none', resetSession: false, minDelayMs: 0, sender: 'server', spec: 'HS-1',
    when: 'A plain HTTP request on the Lifeline path; with Sec-WebSocket-Version: 13, an upgrade of another WebSocket version (HS-17).',
  },
  HTTP_TOO_MANY_REQUESTS: {
    http: 429, retry: 'server-delay', resetSession: false, minDelayMs: 1000, sender: 'server', spec: 'HS-5',
    when: 'Per-IP upgrade rate limit exceeded; Retry-After gives the delay.',
  },
  HTTP_DRAINING: {
    http: 503, retry: 'server-delay', resetSession: false, minDelayMs: 1000, sender: 'server', spec: 'HS-6',
    when: 'The server is draining or not ready, or too many upgrades are pending or one was not answered in time (HS-16); Retry-After gives the delay.',
  },
} as const satisfies Record<string, CloseRow>;

export type CloseCodeName = keyof typeof closeCodes;

/** Close codes a Lifeline endpoint may put in a close frame. */
export type WsCloseCodeName = {
  [K in CloseCodeName]: (typeof closeCodes)[K] extends { code: number } ? K : never;
}[CloseCodeName];

const byCode = new Map<number, CloseCodeName>();
const byHttp = new Map<number, CloseCodeName>();
for (const [name, row] of Object.entries(closeCodes) as [CloseCodeName, CloseRow][]) {
  if (row.code !== undefined) byCode.set(row.code, name);
  if (row.http !== undefined) byHttp.set(row.http, name);
}

/** The registry name of a WebSocket close code, if registered. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  return byCode.get(code);
}

/** The registry name of an HTTP refusal status, if registered. */
export function httpStatusName(status: number): CloseCodeName | undefined {
  return byHttp.get(status);
}

/** Advice a client follows for a close it observed (CC-2, CC-3). */
export interface Advice {
  readonly retry: Retry;
  readonly resetSession: boolean;
  readonly minDelayMs: number;
}

/**
 * The advice for any close code, registered or not (CC-3). Unregistered codes
 * take the advice of their class: 4000–4099 terminal, 4100–4199 refresh token,
 * 4200–4299 backoff, 4300–4399 server delay, anything else backoff.
 */
export function adviceForCode(code: number): Advice {
  const name = byCode.get(code);
  if (name !== undefined) {
    const { retry, resetSession, minDelayMs } = closeCodes[name];
    return { retry, resetSession, minDelayMs };
  }
  if (code >= 4000 && code <= 4099) return { retry: 'none', resetSession: true, minDelayMs: 0 };
  if (code >= 4100 && code <= 4199) return { retry: 'refresh-token', resetSession: false, minDelayMs: 0 };
  if (code >= 4300 && code <= 4399) return { retry: 'server-delay', resetSession: false, minDelayMs: 0 };
  return { retry: 'backoff', resetSession: false, minDelayMs: 0 };
}

/** Advice for an HTTP status seen instead of an upgrade (CC-3): 5xx and unknown back off. */
export function adviceForHttpStatus(status: number): Advice {
  const name = byHttp.get(status);
  if (name !== undefined) {
    const { retry, resetSession, minDelayMs } = closeCodes[name];
    return { retry, resetSession, minDelayMs };
  }
  if (status >= 400 && status < 500) return { retry: 'none', resetSession: false, minDelayMs: 0 };
  return { retry: 'backoff', resetSession: false, minDelayMs: 0 };
}

/** The close code of a registry entry that has one. */
export function codeOf(name: WsCloseCodeName): number {
  return (closeCodes[name] as CloseRow).code as number;
}

/** Longest close reason, in UTF-8 bytes: a close frame's payload is 125 bytes with the code (CC-1). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Cut a close reason to at most 123 UTF-8 bytes without splitting a character (CC-1). */
export function clampCloseReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
