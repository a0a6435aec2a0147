import { defaults } from './defaults.js';

export interface BackoffOptions {
  /** Base delay: the ceiling of the first retry's window (RC-2). */
  readonly reconnectBaseMs: number;
  /** Largest ceiling (RC-2). */
  readonly reconnectCapMs: number;
}

/**
 * The ceiling of attempt n's delay window: min(cap, base × 2ⁿ), n from 0 (RC-2).
 * Computed without overflow for any n.
 */
export function backoffCeilingMs(attempt: number, opts: BackoffOptions = defaults): number {
  const n = Math.max(0, Math.floor(attempt));
  // 2^31 × base already exceeds any sane cap; stop doubling there.
  const factor = n >= 31 ? 2 ** 31 : 2 ** n;
  return Math.min(opts.reconnectCapMs, opts.reconnectBaseMs * factor);
}

/**
 * Full jitter (RC-2): a delay drawn uniformly from [minDelayMs, max(minDelayMs,
 * ceiling)]. Full jitter spreads a fleet of clients that lost the same server
 * across the whole window, which "±20 %" jitter around a fixed delay does not.
 * `random` returns [0, 1); it is injected so machines stay pure and tests replay.
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number,
  opts: BackoffOptions = defaults,
  minDelayMs = 0,
): number {
  const ceiling = Math.max(minDelayMs, backoffCeilingMs(attempt, opts));
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(minDelayMs + r * (ceiling - minDelayMs));
}
