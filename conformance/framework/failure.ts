/**
 * How a case says what happened. A CaseFailure is the implementation's fault
 * (FAIL for MUST, WARN for SHOULD); NotApplicable means the target cannot be
 * asked (N/A); anything else thrown is the runner's or the harness's fault (ERROR).
 */
import type { Counterexample } from './types.js';

export class CaseFailure extends Error {
  readonly counterexample: Counterexample | undefined;
  constructor(message: string, counterexample?: Counterexample) {
    super(message);
    this.name = 'CaseFailure';
    this.counterexample = counterexample;
  }
}

/**
 * A failure no runner stall can explain: a count or a content the implementation produced, measured
 * after everything it sent was accounted for. It stays a FAIL when the runner stalled during the case
 * (a case that writes megabytes stalls its own event loop; turning its verdict into the runner's
 * ERROR let a server with no high-water mark pass as 'not judged').
 */
export class CountFailure extends CaseFailure {
  constructor(message: string, counterexample?: Counterexample) {
    super(message, counterexample);
    this.name = 'CountFailure';
  }
}

/**
 * A wait that ran out: what the case waited for did not happen within `waitedMs`. A runner stall
 * explains it only when the stall is a sizable part of the wait (see `isExcusedByStall`): a 3 s wait
 * for a message is not spoiled by a 270 ms stall.
 */
export class WaitFailure extends CaseFailure {
  readonly waitedMs: number;
  constructor(what: string, waitedMs: number) {
    super(`${what} did not happen within ${Math.round(waitedMs)} ms`);
    this.name = 'WaitFailure';
    this.waitedMs = waitedMs;
  }
}

/** A wait at least this many times the runner's worst stall is not explained by that stall. */
export const WAIT_TO_STALL_RATIO = 4;

/** Whether a runner stall of `stallMs` can explain this failure (else it stays the implementation's). */
export function isExcusedByStall(err: CaseFailure, stallMs: number): boolean {
  if (err instanceof CountFailure) return false;
  if (err instanceof WaitFailure) return err.waitedMs < WAIT_TO_STALL_RATIO * stallMs;
  return true;
}

/** Fail the case unless `cond` holds: a count or content check that no scheduling delay can spoil. */
export function checkCount(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CountFailure(message);
}

export class NotApplicable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotApplicable';
  }
}

/**
 * The target cannot be run at all (the client command does not exist, the adapter crashes before
 * `ready`): ERROR for this case, and the mode's remaining cases are not run (issue 18, runner
 * item 4: a typo must not cost a timeout per case).
 */
export class HarnessFatal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarnessFatal';
  }
}

/**
 * The adapter broke the control protocol (spec/conformance-control.md §4: a line on stdout that is
 * not a JSON event): ERROR, the adapter's fault, not a verdict on the client.
 */
export class AdapterProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdapterProtocolError';
  }
}

/** Fail the case unless `cond` holds. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CaseFailure(message);
}

/** Fail the case unless actual equals expected (===, or bigint equality). */
export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) throw new CaseFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

export function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}`;
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
