/**
 * One case, start to verdict: the feature check, the context, a deadline that names what the case
 * was waiting for when it ran out, the runner's own stalls, and cleanup that is bounded in time so
 * that a case can never hold the run (issue 18, runner items 6 and 11).
 */
import { declared } from '../config.js';
import { CaseActivity, withActivity } from './activity.js';
import { AdapterProtocolError, CaseFailure, HarnessFatal, isExcusedByStall, NotApplicable } from './failure.js';
import { caseSeed, mulberry32 } from './random.js';
import { STALL_FLOOR_MS, stalls } from './stall.js';
import { Transcript } from './transcript.js';
import type { Case, CaseContext, CaseResult, Mode, Verdict } from './types.js';
import type { ModeHarness, RunOptions } from './run-options.js';

/** One cleanup may take this long; all of a case's cleanups together CLEANUP_TOTAL_MS. */
const CLEANUP_EACH_MS = 2000;
const CLEANUP_TOTAL_MS = 8000;

/** The command line that replays one case; options go before a ` -- client command` part. */
export function replayCommand(base: string, seed: number, id: string, path?: string): string {
  const opts = `--seed ${seed} --case '${id}'${path ? ` --path '${path}'` : ''}`;
  const cut = base.indexOf(' -- ');
  return cut < 0 ? `${base} ${opts}` : `${base.slice(0, cut)} ${opts}${base.slice(cut)}`;
}

export const DEFAULT_REPLAY_BASE = 'npx lifeline conformance';

/** How one attempt at a case ended, with what the runner saw of its own event loop. */
export interface Attempt {
  readonly result: CaseResult;
  /** A HarnessFatal ended it: the mode cannot run further cases. */
  readonly fatal: boolean;
  /** Timed out (its deadline or the run's). */
  readonly timedOut: boolean;
  /** The failure is one the runner's worst stall cannot explain (a count, or a wait far longer than the stall). */
  readonly isStallProof?: boolean;
}

export async function runCaseOnce(c: Case, harness: ModeHarness, opts: RunOptions, runSignal: AbortSignal): Promise<Attempt> {
  const seed = caseSeed(opts.seed, c.id);
  const replay = replayCommand(opts.replayBase[c.mode] ?? DEFAULT_REPLAY_BASE, opts.seed, c.id);
  const base = { id: c.id, spec: c.spec, level: c.level, mode: c.mode, description: c.description, replay };
  const missing = (c.requires ?? []).filter((f) => !declared(opts.config, c.mode).includes(f));
  if (missing.length > 0) {
    return { result: { ...base, verdict: 'N/A', ms: 0, message: `feature not declared: ${missing.join(', ')}`, notes: [] }, fatal: false, timedOut: false };
  }
  const notes: string[] = [];
  const cleanups: (() => unknown)[] = [];
  const transcript = new Transcript();
  const abort = new AbortController();
  const activity = new CaseActivity();
  const slack = slackOf(opts, c.mode);
  const timeoutMs = c.timeoutMs ?? opts.timeoutMs;
  let deadline = performance.now() + timeoutMs;
  let granted = 0;
  let timer: NodeJS.Timeout | undefined;
  let raise: (err: Error) => void = () => undefined;
  const raised = new Promise<never>((_, reject) => {
    raise = reject;
  });
  raised.catch(() => undefined);
  let timedOut = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      const waiting = activity.describe();
      const stall = stalls.worst(t0);
      raise(new Error(`${c.id} timed out after ${Math.round(timeoutMs + granted)} ms while waiting for: ${waiting}${stall >= STALL_FLOOR_MS ? `; the runner's event loop stalled up to ${stall} ms meanwhile` : ''}`));
    }, Math.max(0, deadline - performance.now()));
  };
  const onRunAbort = () => {
    timedOut = true;
    raise(new Error(`${c.id} stopped: the run's time budget ran out while it was waiting for: ${activity.describe()}`));
  };
  const ctxBase: CaseContext = {
    caseId: c.id,
    config: opts.config,
    seed,
    runs: opts.thorough ? opts.runs * 10 : opts.runs,
    thorough: opts.thorough,
    path: opts.path,
    random: mulberry32(seed),
    transcript,
    signal: abort.signal,
    slackMs: slack,
    defer: (fn) => cleanups.push(fn),
    note: (t) => notes.push(t),
    abortCase: (err) => raise(err),
    extendDeadline: (ms) => {
      if (!Number.isFinite(ms) || ms === 0) return;
      granted += ms;
      deadline += ms;
      arm();
    },
  };
  const t0 = performance.now();
  let verdict: Verdict = 'PASS';
  let message: string | undefined;
  let counterexample: CaseResult['counterexample'];
  let fatal = false;
  let failure: CaseFailure | undefined;
  stalls.start();
  try {
    if (runSignal.aborted) onRunAbort();
    runSignal.addEventListener('abort', onRunAbort);
    arm();
    await withActivity(activity, async () => {
      const ctx = await Promise.race([harness.extend(ctxBase, c), raised]);
      await Promise.race([c.run(ctx), raised]);
    });
  } catch (err) {
    if (err instanceof NotApplicable) {
      verdict = 'N/A';
      message = err.message;
    } else if (err instanceof CaseFailure) {
      verdict = c.level === 'MUST' ? 'FAIL' : 'WARN';
      message = err.message;
      failure = err;
      if (err.counterexample) {
        counterexample = {
          ...err.counterexample,
          replay: replayCommand(opts.replayBase[c.mode] ?? DEFAULT_REPLAY_BASE, opts.seed, c.id, err.counterexample.path),
        };
      }
    } else {
      verdict = 'ERROR';
      fatal = err instanceof HarnessFatal;
      const text = err instanceof Error ? err.message : String(err);
      message = err instanceof AdapterProtocolError ? `adapter protocol error: ${text}` : text;
    }
  } finally {
    runSignal.removeEventListener('abort', onRunAbort);
    clearTimeout(timer);
    abort.abort();
  }
  // the case's window ends here, before its cleanups (which may legitimately wait)
  const stallMs = stalls.worst(t0);
  const isStallProof = failure !== undefined && !isExcusedByStall(failure, stallMs);
  await runCleanups(cleanups);
  stalls.stop();
  const ms = Math.round(performance.now() - t0);
  const failedRun = verdict === 'FAIL' || verdict === 'WARN' || verdict === 'ERROR';
  const result: CaseResult = {
    ...base,
    verdict,
    ms,
    ...(message !== undefined ? { message } : {}),
    notes,
    ...(counterexample ? { counterexample } : {}),
    ...(failedRun ? { frames: transcript.snapshot() } : {}),
    ...(stallMs >= STALL_FLOOR_MS ? { stallMs } : {}),
  };
  return { result, fatal, timedOut, isStallProof };
}

/** Cleanups last first, each bounded, all together bounded: a stuck cleanup cannot hold the run. */
async function runCleanups(cleanups: (() => unknown)[]): Promise<void> {
  const end = performance.now() + CLEANUP_TOTAL_MS;
  for (const fn of cleanups.reverse()) {
    const left = Math.min(CLEANUP_EACH_MS, end - performance.now());
    if (left <= 0) break;
    let t: NodeJS.Timeout | undefined;
    try {
      await Promise.race([Promise.resolve().then(fn), new Promise((r) => (t = setTimeout(r, left)))]);
    } catch {
      // cleanup failures never change a verdict
    } finally {
      clearTimeout(t);
    }
  }
}

export function slackOf(opts: Pick<RunOptions, 'config'>, mode: Mode): number {
  return (mode === 'server' ? opts.config.server?.slackMs : opts.config.client?.slackMs) ?? 0;
}

/** A stall at least this long makes a failed timing verdict the runner's: the slack, or the sampler's floor. */
export function stallThresholdMs(slackMs: number): number {
  return Math.max(STALL_FLOOR_MS, slackMs);
}

/**
 * A failure during a stall at least this long is run again (once): not every case's bound carries
 * the whole slack (HB-1 counts pings in a window; DR-3 reads slots a late drain loop shortened),
 * and a rerun costs nothing when the implementation is right. A failure that recurs without a stall
 * above the slack stays a FAIL.
 */
export const STALL_RERUN_MS = 100;
export function stallRerunThresholdMs(slackMs: number): number {
  return Math.max(STALL_FLOOR_MS, Math.min(slackMs, STALL_RERUN_MS));
}
