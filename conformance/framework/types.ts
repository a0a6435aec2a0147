/**
 * The vocabulary of the suite: cases, verdicts, results. A case checks one or
 * more spec ids in one mode (the runner plays the client against a server, or
 * the server against a client) and needs the features its target declares.
 */
import type { ImplConfig } from '../config.js';
import type { Feature } from './features.js';
import type { Transcript } from './transcript.js';

export type Level = 'MUST' | 'SHOULD';
export type Mode = 'server' | 'client';

// The feature list lives in a module of its own: config.ts reads it, and this module reads config.ts's types.
export { FEATURES, type Feature } from './features.js';

/** What a case's run() gets. Mode-specific harnesses hang off it. */
export interface CaseContext {
  readonly caseId: string;
  readonly config: ImplConfig;
  readonly seed: number;
  /** Generated runs for property cases (fast-check numRuns). */
  readonly runs: number;
  readonly thorough: boolean;
  /** fast-check replay path, when replaying a counterexample. */
  readonly path: string | undefined;
  /** Seeded PRNG in [0, 1): identical across replays with the same seed. */
  readonly random: () => number;
  /** The frames exchanged, decoded, for counterexamples. */
  readonly transcript: Transcript;
  /** Aborted when the per-case timeout fires; long waits should listen to it. */
  readonly signal: AbortSignal;
  /** Register cleanup (sockets, processes); run after the case, last first. */
  defer(fn: () => unknown): void;
  /** A note for the report (measured values). */
  note(text: string): void;
  /** Tolerance for every timing bound, from the config (declared slack). */
  readonly slackMs: number;
  /**
   * End the case now with this error (a CaseFailure fails it; anything else is an ERROR). For
   * faults seen outside the case's own awaits: an adapter protocol error, a crashed harness.
   */
  abortCase(err: Error): void;
  /** Move the case's deadline by `ms` (later if positive): time spent starting the target is not the case's. */
  extendDeadline(ms: number): void;
}

export interface Case<C extends CaseContext = CaseContext> {
  /** `SPEC-ID/kebab-case`, or `ID+ID/kebab-case` for cases that check several rules first. */
  readonly id: string;
  readonly spec: readonly string[];
  readonly level: Level;
  readonly mode: Mode;
  readonly requires?: readonly Feature[];
  readonly description: string;
  /** Property-based: run() uses fast-check with ctx.seed/ctx.runs and reports counterexamples. */
  readonly property?: boolean;
  /**
   * Server mode: the case tests this carrier itself (the WebSocket upgrade, the HTTP carrier's own
   * requests, spec §22) and picks its connections' transport itself, so it runs once, in the run
   * over WebSocket; a run whose peers use the HTTP carrier (`--transport http`) reports it N/A.
   */
  readonly carrier?: 'ws' | 'http';
  /** Case needs a fresh target (drain): runs after the others, with a reset before it. */
  readonly destructive?: boolean;
  /** Override of the per-case timeout, in ms (before scaling by the config). */
  readonly timeoutMs?: number;
  run(ctx: C): Promise<void>;
}

export type Verdict = 'PASS' | 'FAIL' | 'WARN' | 'N/A' | 'ERROR';

export interface Counterexample {
  /** fast-check's shrunk input, printed. */
  readonly input: string;
  readonly seed: number;
  readonly path: string;
  /** Runs fast-check made before the failure. */
  readonly numRuns: number;
  readonly replay: string;
}

export interface CaseResult {
  readonly id: string;
  readonly spec: readonly string[];
  readonly level: Level;
  readonly mode: Mode;
  readonly verdict: Verdict;
  readonly ms: number;
  readonly description: string;
  /** Why it failed, errored or is N/A. */
  readonly message?: string;
  readonly notes: readonly string[];
  readonly counterexample?: Counterexample;
  /** Decoded frames of the failing run (at most a few hundred lines). */
  readonly frames?: readonly string[];
  readonly replay: string;
  /** The runner's worst event-loop stall while the case ran, ms (issue 18, runner item 6). */
  readonly stallMs?: number;
  /** The case is on the run's known-failing list (issue 18, runner item 12). */
  readonly knownFailing?: {
    readonly reason: string;
    /** It passed although listed: that fails the run (take it off the list). */
    readonly passed: boolean;
  };
}
