/**
 * What a run is given: the cases, one harness per mode, the config and the run's bounds. A module
 * of its own so that run-case.ts (one case) and runner.ts (the suite) both read it without
 * importing each other.
 */
import type { ImplConfig } from '../config.js';
import type { KnownFailing } from './known-failing.js';
import type { Case, CaseContext, CaseResult, Mode } from './types.js';

/** Per-mode glue: turns the base context into what the mode's cases use. */
export interface ModeHarness {
  readonly mode: Mode;
  /** Extend the base context (attach the raw-client factory, or the fake server). */
  extend(base: CaseContext, c: Case): Promise<CaseContext>;
  /** Bring the target back to a fresh state: before the mode's first case, before a destructive case, after the last. */
  reset?(): Promise<void>;
}

export interface RunOptions {
  readonly cases: readonly Case[];
  readonly harnesses: readonly ModeHarness[];
  readonly config: ImplConfig;
  readonly seed: number;
  readonly runs: number;
  readonly thorough: boolean;
  /** fast-check path for replaying one counterexample (with a single --case). */
  readonly path?: string;
  /** Per-case timeout, ms. */
  readonly timeoutMs: number;
  /** Command line prefix for replay hints, e.g. `npx lifeline conformance server ws://… --config f`. */
  readonly replayBase: Partial<Record<Mode, string>>;
  /** Called after each case (progress output). */
  readonly onResult?: (r: CaseResult) => void;
  /** Client-mode cases at once (default 1); a server-mode case always runs alone. */
  readonly jobs?: number;
  /** The whole run's budget, ms: what is still running then is stopped, what has not started is not run. */
  readonly runTimeoutMs?: number;
  /** Cases known to fail, with reasons: they do not fail the run, unless one passes. */
  readonly knownFailing?: readonly KnownFailing[];
  /** Reruns of a case that failed while the runner itself stalled (default 1). */
  readonly stallRetries?: number;
}
