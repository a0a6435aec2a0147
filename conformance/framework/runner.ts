/**
 * Runs the selected cases against the targets and turns what happens into verdicts.
 *
 * Server-mode cases share one server, so they run one at a time and alone (non-destructive first,
 * the destructive ones last), with the server reset before the first and after the last so that a
 * run neither starts nor leaves it draining (issue 18, runner item 7). Client-mode cases share
 * nothing (each has its own fake server and its own client process), so with `jobs` > 1 up to
 * that many run at once: their time is mostly the protocol's own waits (backoffs, timeouts), not CPU. Every timing bound carries the declared
 * slack, and a failure during a stall of the runner's own event loop is retried once and, if the
 * runner stalls again, reported as the runner's ERROR (issue 18, runner item 6).
 *
 * Every run ends with its report within a bound: each case has a deadline, cleanups are bounded,
 * an optional run budget stops what is left, and a target that cannot start stops its mode at once
 * (issue 18, runner items 4 and 11).
 */
import { knownEntryFor } from './known-failing.js';
import { DEFAULT_REPLAY_BASE, replayCommand, runCaseOnce, slackOf, stallRerunThresholdMs, stallThresholdMs, type Attempt } from './run-case.js';
import type { ModeHarness, RunOptions } from './run-options.js';
import type { Case, CaseContext, CaseResult, Mode, Verdict } from './types.js';

export { replayCommand } from './run-case.js';
export type { ModeHarness, RunOptions } from './run-options.js';

export interface RunSummary {
  readonly results: readonly CaseResult[];
  readonly seed: number;
  readonly ms: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  /** MUST failures or errors not on the known-failing list, or a listed case that passed: the exit code is non-zero. */
  readonly failed: boolean;
  /** Listed as known failing and failed or errored (not counted against the run). */
  readonly knownFailures: number;
  /** Listed as known failing but passed (each fails the run). */
  readonly unexpectedPasses: readonly string[];
  /** Cases at once. */
  readonly jobs: number;
  /** The runner's worst event-loop stall during any case, ms: what the machine's load cost the timings. */
  readonly worstStallMs: number;
}

/** Order: non-destructive cases first (they share one target), destructive ones last. */
export function orderCases(cases: readonly Case[]): Case[] {
  return [...cases.filter((c) => !c.destructive), ...cases.filter((c) => c.destructive)];
}

interface Pending {
  readonly c: Case;
  readonly index: number;
  readonly harness: ModeHarness;
}

export async function runSuite(opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
  const byMode = new Map(opts.harnesses.map((h) => [h.mode, h]));
  const pending: Pending[] = orderCases(opts.cases).flatMap((c) => {
    const harness = byMode.get(c.mode);
    return harness ? [{ c, index: opts.cases.indexOf(c), harness }] : []; // a run tests only the sides it has
  });
  const results: { index: number; r: CaseResult }[] = [];
  const fatal = new Map<Mode, string>();
  const runAbort = new AbortController();
  const budget = opts.runTimeoutMs ? setTimeout(() => runAbort.abort(), opts.runTimeoutMs) : undefined;
  const lanes = new Map<Mode, { running: number; started: boolean }>();

  const finish = (p: Pending, r: CaseResult) => {
    const known = knownEntryFor(opts.knownFailing ?? [], p.c.id);
    const out = known && r.verdict !== 'N/A' ? { ...r, knownFailing: { reason: known.reason, passed: r.verdict === 'PASS' } } : r;
    results.push({ index: p.index, r: out });
    opts.onResult?.(out);
  };
  const notRun = (p: Pending, why: string): CaseResult => ({
    id: p.c.id,
    spec: p.c.spec,
    level: p.c.level,
    mode: p.c.mode,
    description: p.c.description,
    replay: replayCommand(opts.replayBase[p.c.mode] ?? DEFAULT_REPLAY_BASE, opts.seed, p.c.id),
    verdict: 'ERROR',
    ms: 0,
    message: why,
    notes: [],
  });

  const runOne = async (p: Pending): Promise<void> => {
    const lane = lanes.get(p.c.mode) ?? { running: 0, started: false };
    lanes.set(p.c.mode, lane);
    if (p.harness.reset && (!lane.started || p.c.destructive)) await p.harness.reset();
    lane.started = true;
    const threshold = stallThresholdMs(slackOf(opts, p.c.mode));
    const rerunAt = stallRerunThresholdMs(slackOf(opts, p.c.mode));
    let attempt: Attempt = await runCaseOnce(p.c, p.harness, opts, runAbort.signal);
    const earlier: string[] = [];
    for (let retry = 0; retry < (opts.stallRetries ?? 1) && isSpoiledByStall(attempt, rerunAt) && !runAbort.signal.aborted; retry++) {
      earlier.push(`attempt ${retry + 1} ${attempt.result.verdict} while the runner stalled ${attempt.result.stallMs} ms: ${firstLine(attempt.result.message)}`);
      if (p.harness.reset && p.c.destructive) await p.harness.reset();
      attempt = await runCaseOnce(p.c, p.harness, opts, runAbort.signal);
    }
    let r = attempt.result;
    if (earlier.length > 0) r = { ...r, notes: [...earlier.map((e) => `rerun: ${e}`), ...r.notes] };
    if (isSpoiledByStall(attempt, threshold) && attempt.isStallProof !== true) {
      r = {
        ...r,
        verdict: 'ERROR',
        message: `the runner stalled: its event loop was blocked up to ${r.stallMs} ms during the case, above the ${threshold} ms its timing bounds allow, so this verdict is the runner's, not the implementation's (the machine is overloaded; rerun with fewer --jobs or on a quieter machine). The case reported: ${r.verdict} ${r.message ?? ''}`,
      };
    }
    if (attempt.fatal) fatal.set(p.c.mode, `see ${p.c.id}`);
    finish(p, r);
  };

  // The scheduler, in the order of `pending`: up to `jobs` client-mode cases at once, a server-mode case alone.
  await new Promise<void>((done) => {
    let running = 0;
    const pump = () => {
      while (running < jobs) {
        // a server-mode case runs alone: its timings share this event loop (in `self` the server's
        // too), and client cases starting processes beside it cost HB-1 its pings (2 in 600 ms at
        // 100 ms under load); client-mode cases wait for it, and it waits for them
        const serverBusy = (lanes.get('server')?.running ?? 0) > 0;
        const first = pending[0];
        if (!first || serverBusy) break;
        const othersBusy = running > 0;
        const i = first.c.mode === 'server' ? (othersBusy ? -1 : 0) : pending.findIndex((p) => p.c.mode !== 'server');
        if (i < 0) break;
        const p = pending.splice(i, 1)[0] as Pending;
        const dead = fatal.get(p.c.mode);
        if (dead !== undefined || runAbort.signal.aborted) {
          finish(p, notRun(p, dead !== undefined ? `not run: the ${p.c.mode} target could not be started (${dead})` : `not run: the run's time budget of ${opts.runTimeoutMs} ms ran out`));
          continue;
        }
        running++;
        const lane = lanes.get(p.c.mode) ?? { running: 0, started: false };
        lanes.set(p.c.mode, lane);
        lane.running++;
        runOne(p)
          .catch((err: unknown) => finish(p, { ...notRun(p, `runner fault: ${err instanceof Error ? err.message : String(err)}`) }))
          .finally(() => {
            running--;
            lane.running--;
            pump();
          });
      }
      if (running === 0 && pending.length === 0) done();
    };
    pump();
  });
  clearTimeout(budget);
  // Leave a shared target fresh (not draining) for whoever runs next (issue 18, runner item 7).
  for (const [mode, lane] of lanes) if (lane.started) await byMode.get(mode)?.reset?.();

  const ordered = results.sort((a, b) => a.index - b.index).map((x) => x.r);
  const counts: Record<Verdict, number> = { PASS: 0, FAIL: 0, WARN: 0, 'N/A': 0, ERROR: 0 };
  for (const r of ordered) counts[r.verdict]++;
  const isBad = (r: CaseResult) => r.verdict === 'FAIL' || r.verdict === 'ERROR';
  const unexpectedPasses = ordered.filter((r) => r.knownFailing?.passed).map((r) => r.id);
  return {
    results: ordered,
    seed: opts.seed,
    ms: Math.round(performance.now() - t0),
    counts,
    failed: ordered.some((r) => isBad(r) && !r.knownFailing) || unexpectedPasses.length > 0,
    knownFailures: ordered.filter((r) => r.knownFailing && !r.knownFailing.passed && (isBad(r) || r.verdict === 'WARN')).length,
    unexpectedPasses,
    jobs,
    worstStallMs: Math.max(0, ...ordered.map((r) => r.stallMs ?? 0)),
  };
}

/** A failure or a timeout while the runner's own event loop stalled longer than the case's slack. */
function isSpoiledByStall(a: Attempt, thresholdMs: number): boolean {
  const r = a.result;
  const failed = r.verdict === 'FAIL' || r.verdict === 'WARN' || (r.verdict === 'ERROR' && a.timedOut);
  return failed && (r.stallMs ?? 0) > thresholdMs;
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0] ?? '';
}
