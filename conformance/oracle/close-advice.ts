/**
 * The suite's own oracle for client reactions (issue 18, item 10): what a client
 * must do after each close code or HTTP refusal, and the backoff bounds. Written
 * from the spec's prose (§14.1 advice, §14.2 registry table, CC-3, CC-4, §15.2),
 * NOT imported from spec/protocol/close-codes.ts or backoff.ts: those are what the
 * reference client runs, so a wrong entry there would pass `conformance self`.
 * close-advice.test.ts checks this table against the spec's prose table, so the
 * two must agree.
 */

export type Retry = 'none' | 'immediate' | 'backoff' | 'refresh-token' | 'server-delay';

export interface Advice {
  readonly retry: Retry;
  /** The client drops its session id; the next Hello starts a new session. */
  readonly resetSession: boolean;
  /** Floor under the delay before the next attempt (ms). */
  readonly minDelayMs: number;
}

/** Who may put a code in a close frame (the registry's "Sent by"). */
export type Sender = 'server' | 'client' | 'either' | 'never-sent';

export interface OracleRow extends Advice {
  readonly name: string;
  readonly sender: Sender;
}

const row = (name: string, sender: Sender, retry: Retry, resetSession: boolean, minDelayMs: number): OracleRow => ({ name, sender, retry, resetSession, minDelayMs });

/** §14.2, close codes after the upgrade: code → advice. */
export const closeCodeOracle: ReadonlyMap<number, OracleRow> = new Map([
  [1000, row('NORMAL', 'either', 'none', true, 0)], // CC-6: the session is over on purpose
  [1001, row('GOING_AWAY', 'either', 'backoff', false, 0)], // CC-7
  [1002, row('PROTOCOL_ERROR', 'either', 'backoff', true, 1000)],
  [1003, row('UNSUPPORTED_DATA', 'either', 'none', true, 0)],
  [1004, row('RESERVED_1004', 'never-sent', 'backoff', false, 0)], // CC-4
  [1005, row('NO_STATUS', 'never-sent', 'backoff', false, 0)],
  [1006, row('ABNORMAL', 'never-sent', 'backoff', false, 0)],
  [1007, row('INVALID_PAYLOAD', 'either', 'backoff', true, 1000)],
  [1008, row('POLICY_VIOLATION', 'server', 'none', true, 0)],
  [1009, row('MESSAGE_TOO_BIG', 'either', 'none', true, 0)],
  [1010, row('MANDATORY_EXTENSION', 'client', 'none', true, 0)],
  [1011, row('INTERNAL_ERROR', 'server', 'backoff', false, 0)], // CC-5
  [1012, row('SERVICE_RESTART', 'server', 'server-delay', false, 0)], // DR-4
  [1013, row('TRY_AGAIN_LATER', 'server', 'backoff', false, 5000)], // CC-8
  [1014, row('BAD_GATEWAY', 'never-sent', 'backoff', false, 0)],
  [1015, row('TLS_HANDSHAKE', 'never-sent', 'backoff', false, 0)],
  [4000, row('VERSION_UNSUPPORTED', 'server', 'none', true, 0)],
  [4001, row('FORBIDDEN', 'server', 'none', true, 0)],
  [4002, row('SESSION_TAKEN_OVER', 'server', 'none', true, 0)],
  [4100, row('TOKEN_EXPIRED', 'server', 'refresh-token', false, 0)],
  [4101, row('UNAUTHORIZED', 'server', 'refresh-token', false, 0)],
  [4102, row('REVOKED', 'server', 'refresh-token', true, 0)],
  [4200, row('HEARTBEAT_TIMEOUT', 'either', 'backoff', false, 0)],
  [4201, row('HANDSHAKE_TIMEOUT', 'either', 'backoff', false, 0)],
  [4202, row('SLOW_CONSUMER', 'server', 'backoff', false, 0)],
  [4203, row('RATE_LIMITED', 'server', 'backoff', false, 1000)],
  [4300, row('RECONNECT_ELSEWHERE', 'server', 'server-delay', false, 0)],
]);

/** §14.2, HTTP answers before the upgrade: status → advice. */
export const httpStatusOracle: ReadonlyMap<number, OracleRow> = new Map([
  [400, row('HTTP_BAD_REQUEST', 'server', 'none', false, 0)],
  [401, row('HTTP_UNAUTHORIZED', 'server', 'refresh-token', false, 0)],
  [403, row('HTTP_ORIGIN_REJECTED', 'server', 'none', false, 0)],
  [426, row('HTTP_UPGRADE_REQUIRED', 'server', 'none', false, 0)],
  [429, row('HTTP_TOO_MANY_REQUESTS', 'server', 'server-delay', false, 1000)],
  [503, row('HTTP_DRAINING', 'server', 'server-delay', false, 1000)],
]);

/**
 * The advice a client must follow after observing `code` (CC-2), with CC-3's classes for an
 * unregistered code: 4000–4099 none (with a reset), 4100–4199 refresh-token, 4200–4299 backoff,
 * 4300–4399 server-delay, anything else backoff.
 */
export function expectedAdvice(code: number): Advice {
  const known = closeCodeOracle.get(code);
  if (known) return known;
  if (code >= 4000 && code <= 4099) return { retry: 'none', resetSession: true, minDelayMs: 0 };
  if (code >= 4100 && code <= 4199) return { retry: 'refresh-token', resetSession: false, minDelayMs: 0 };
  if (code >= 4300 && code <= 4399) return { retry: 'server-delay', resetSession: false, minDelayMs: 0 };
  return { retry: 'backoff', resetSession: false, minDelayMs: 0 };
}

/** Codes a server may send (the cases close with each of them). */
export function serverSendableCodes(): [number, OracleRow][] {
  return [...closeCodeOracle].filter(([, r]) => r.sender === 'server' || r.sender === 'either');
}

export interface BackoffConfig {
  readonly reconnectBaseMs: number;
  readonly reconnectCapMs: number;
}

/** RC-2: the ceiling of attempt n's window, min(cap, base × 2ⁿ), n from 0. */
export function ceilingMs(n: number, c: BackoffConfig): number {
  return Math.min(c.reconnectCapMs, c.reconnectBaseMs * 2 ** Math.min(Math.max(0, n), 40));
}

/**
 * RC-2 (§15.2): n counts the reconnect delays already computed in the series; the first delay of a series
 * is n = 0. A series that began with the drop of a live session has its first delay before any attempt,
 * so the delay after its k-th consecutive failure is n = k; one that began with `connect()` or
 * `reconnect()` starts with an attempt, so the delay after its k-th failure is n = k − 1.
 */
export function exponentAfter(failuresInSeries: number, startedBy: 'drop' | 'connect' = 'drop'): number {
  return Math.max(0, startedBy === 'drop' ? failuresInSeries : failuresInSeries - 1);
}

/** The largest delay allowed before that attempt (without slack): max(minDelay, ceiling(n)). */
export function largestDelayMs(n: number, c: BackoffConfig, minDelayMs = 0): number {
  return Math.max(minDelayMs, ceilingMs(n, c));
}

/** The code of a registry name, from the oracle (what a client must send, or what the runner sends). */
export function codeNamed(name: string): number {
  for (const [code, r] of closeCodeOracle) if (r.name === name) return code;
  throw new Error(`no close code named ${name} in the oracle`);
}
