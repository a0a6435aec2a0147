/**
 * Timed checks that report the margin they passed by (issue 18): every bound a
 * case checks is a declared value, plus the run's slack on the side where
 * scheduling makes the implementation look late, and the note says how much
 * room was left. A pass by 2 ms and a pass by 600 ms read differently.
 */
import type { ClientProcess } from '../client-mode/control.js';
import { CaseFailure } from '../framework/failure.js';
import { stalls } from '../framework/stall.js';
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

/** The runner's stall is recorded by the sampler's next tick: read this far past a span's end. */
const STALL_READ_PAST_MS = 20;

/** Lateness measured over one span: the client process's wait for a CPU, and the runner's worst stall. */
export interface SpanLateness {
  readonly clientMs: number;
  readonly runnerMs: number;
}

/**
 * What could have made a client's timer look late over [from, to] (performance.now() times), as
 * measured, not assumed: the client process's wait for a CPU (client-mode/run-delay.ts) and the
 * runner's own worst stall (it reads the client's reports late by that much). Undefined where the
 * client's wait cannot be measured (not Linux): callers keep their fixed allowance then.
 */
export function latenessOver(client: Pick<ClientProcess, 'waitedForCpuMs'>, from: number, to: number): SpanLateness | undefined {
  const clientMs = client.waitedForCpuMs(from, to);
  if (clientMs === undefined) return undefined;
  return { clientMs, runnerMs: stalls.worst(from, to + STALL_READ_PAST_MS) };
}
