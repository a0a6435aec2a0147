/**
 * Runs cases one at a time against a target and turns what happens into
 * verdicts. Cases run sequentially: timing bounds are part of the protocol, and
 * two cases competing for a 2-core machine would make them flaky.
 */
import type { ImplConfig } from '../config.js';
import { declared } from '../config.js';
import { CaseFailure, NotApplicable } from './failure.js';
import { caseSeed, mulberry32 } from './random.js';
import { Transcript } from './transcript.js';
import type { Case, CaseContext, CaseResult, Mode, Verdict } from './types.js';

/** Per-mode glue: turns the base context into what the mode's cases use. */
export interface ModeHarness {
  readonly mode: Mode;
  /** Extend the base context (attach the raw-client factory, or the fake server). */
  extend(base: CaseContext, c: Case): Promise<CaseContext>;
  /** Called before a destructive case (drain): bring the target back to a fresh state. */
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
  /** Command line prefix for replay hints, e.g. `lifeline conformance server ws://… --config f`. */
  readonly replayBase: Partial<Record<Mode, string>>;
  /** Called after each case (progress output). */
  readonly onResult?: (r: CaseResult) => void;
}

export interface RunSummary {
  readonly results: readonly CaseResult[];
  readonly seed: number;
  readonly ms: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  /** MUST failures or errors: the exit code is non-zero. */
  readonly failed: boolean;
}

/** The command line that replays one case; options go before a ` -- client command` part. */
export function replayCommand(base: string, seed: number, id: string, path?: string): string {
  const opts = `--seed ${seed} --case '${id}'${path ? ` --path '${path}'` : ''}`;
  const cut = base.indexOf(' -- ');
  return cut < 0 ? `${base} ${opts}` : `${base.slice(0, cut)} ${opts}${base.slice(cut)}`;
}

/** Order: non-destructive cases first (they share one target), destructive ones last. */
export function orderCases(cases: readonly Case[]): Case[] {
  return [...cases.filter((c) => !c.destructive), ...cases.filter((c) => c.destructive)];
}

export async function runSuite(opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const results: CaseResult[] = [];
  for (const c of orderCases(opts.cases)) {
    const harness = opts.harnesses.find((h) => h.mode === c.mode);
    if (!harness) continue; // this run does not test that side
    if (c.destructive && harness.reset) await harness.reset();
    const r = await runCase(c, harness, opts);
    results.push(r);
    opts.onResult?.(r);
  }
  const counts: Record<Verdict, number> = { PASS: 0, FAIL: 0, WARN: 0, 'N/A': 0, ERROR: 0 };
  for (const r of results) counts[r.verdict]++;
  return {
    results,
    seed: opts.seed,
    ms: Math.round(performance.now() - t0),
    counts,
    failed: results.some((r) => r.verdict === 'FAIL' || r.verdict === 'ERROR'),
  };
}

async function runCase(c: Case, harness: ModeHarness, opts: RunOptions): Promise<CaseResult> {
  const seed = caseSeed(opts.seed, c.id);
  const replay = replayCommand(opts.replayBase[c.mode] ?? 'lifeline conformance', opts.seed, c.id);
  const base = { id: c.id, spec: c.spec, level: c.level, mode: c.mode, description: c.description, replay };
  const missing = (c.requires ?? []).filter((f) => !declared(opts.config, c.mode).includes(f));
  if (missing.length > 0) {
    return { ...base, verdict: 'N/A', ms: 0, message: `feature not declared: ${missing.join(', ')}`, notes: [] };
  }
  const notes: string[] = [];
  const cleanups: (() => unknown)[] = [];
  const transcript = new Transcript();
  const abort = new AbortController();
  const slack = (c.mode === 'server' ? opts.config.server?.slackMs : opts.config.client?.slackMs) ?? 0;
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
  };
  const t0 = performance.now();
  const timeoutMs = c.timeoutMs ?? opts.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let verdict: Verdict = 'PASS';
  let message: string | undefined;
  let counterexample: CaseResult['counterexample'];
  try {
    const ctx = await harness.extend(ctxBase, c);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`case timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    await Promise.race([c.run(ctx), timeout]);
  } catch (err) {
    if (err instanceof NotApplicable) {
      verdict = 'N/A';
      message = err.message;
    } else if (err instanceof CaseFailure) {
      verdict = c.level === 'MUST' ? 'FAIL' : 'WARN';
      message = err.message;
      if (err.counterexample) {
        counterexample = {
          ...err.counterexample,
          replay: replayCommand(opts.replayBase[c.mode] ?? 'lifeline conformance', opts.seed, c.id, err.counterexample.path),
        };
      }
    } else {
      verdict = 'ERROR';
      message = err instanceof Error ? err.message : String(err);
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        // cleanup failures never change a verdict
      }
    }
  }
  const ms = Math.round(performance.now() - t0);
  const failedRun = verdict === 'FAIL' || verdict === 'WARN' || verdict === 'ERROR';
  return {
    ...base,
    verdict,
    ms,
    ...(message !== undefined ? { message } : {}),
    notes,
    ...(counterexample ? { counterexample } : {}),
    ...(failedRun ? { frames: transcript.snapshot() } : {}),
  };
}
