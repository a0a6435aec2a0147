/**
 * Timed checks that report the margin they passed by (issue 18): every bound a
 * case checks is a declared value, plus the run's slack on the side where
 * scheduling makes the implementation look late, and the note says how much
 * room was left. A pass by 2 ms and a pass by 600 ms read differently.
 */
import { CaseFailure } from '../framework/failure.js';
import type { CaseContext } from '../framework/types.js';

export interface Bounds {
  /** Lowest allowed value (ms), already including any allowance. */
  readonly min?: number;
  /** Highest allowed value (ms), already including the slack. */
  readonly max?: number;
}

/**
 * Check `measuredMs` against its bounds, note the margin, and fail naming the rule.
 * `what` reads as a subject: "gave up 212 ms after the last frame".
 */
export function checkWithin(ctx: Pick<CaseContext, 'note'>, what: string, measuredMs: number, b: Bounds, rule: string): void {
  const m = Math.round(measuredMs);
  const lo = b.min === undefined ? undefined : Math.round(b.min);
  const hi = b.max === undefined ? undefined : Math.round(b.max);
  const range = `${lo ?? '−∞'} … ${hi ?? '∞'} ms`;
  const spare = Math.min(lo === undefined ? Infinity : m - lo, hi === undefined ? Infinity : hi - m);
  ctx.note(`margin: ${what}: ${m} ms in [${range}], ${spare} ms to spare`);
  if (lo !== undefined && m < lo) throw new CaseFailure(`${what}: ${m} ms, ${lo - m} ms before the lower bound ${lo} ms (${rule})`);
  if (hi !== undefined && m > hi) throw new CaseFailure(`${what}: ${m} ms, ${m - hi} ms beyond the bound ${hi} ms incl. slack (${rule})`);
}
