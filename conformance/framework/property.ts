/**
 * fast-check glue for property cases: seeded by the case seed, replayable by
 * path, shrunk, and re-run once on the shrunk input so the transcript holds the
 * frames of exactly that counterexample (issue 6 §3).
 */
import fc from 'fast-check';
import { CaseFailure, CountFailure, show } from './failure.js';
import type { CaseContext } from './types.js';

function printInput(value: unknown): string {
  try {
    return fc.stringify(value);
  } catch {
    return show(value);
  }
}

/** The fc.commands replay path carried in `--path p|replayPath`, if any. */
export function commandsReplayPath(ctx: CaseContext): string | undefined {
  return ctx.path?.split('|')[1];
}

/**
 * Check `predicate` on `runs` inputs from `arb`. A predicate fails by throwing
 * (a CaseFailure, usually). On failure the shrunk input is replayed once with a
 * fresh transcript and reported with its seed and path.
 */
export async function checkProperty<T>(
  ctx: CaseContext,
  arb: fc.Arbitrary<T>,
  predicate: (input: T) => Promise<void>,
  opts: { runs?: number } = {},
): Promise<void> {
  const params: fc.Parameters<[T]> = {
    seed: ctx.seed,
    numRuns: opts.runs ?? ctx.runs,
    // shrinking replays the system under test; bound it so a failing case still ends in time
    endOnFailure: false,
    interruptAfterTimeLimit: 60_000,
    markInterruptAsFailure: false,
    ...(ctx.path ? { path: (ctx.path.split('|')[0] as string) } : {}),
  };
  const details = await fc.check(
    fc.asyncProperty(arb, async (input) => {
      ctx.transcript.reset();
      await predicate(input);
    }),
    params,
  );
  if (!details.failed || !details.counterexample) return;
  const [input] = details.counterexample;
  let message = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  // A count or content failure stays one (no runner stall can excuse it): wrapped in a plain
  // CaseFailure, a stall on a busy machine turned it into the runner's ERROR (npm test, session 9).
  let isCount = details.errorInstance instanceof CountFailure;
  // Replay the shrunk counterexample once so the transcript is its own.
  ctx.transcript.reset();
  try {
    await predicate(input);
    message += ' (the shrunk counterexample passed when replayed once: timing-dependent)';
    isCount = false;
  } catch (err) {
    message = err instanceof Error ? err.message : String(err);
    isCount = err instanceof CountFailure;
  }
  // fc.commands need their own replay path beside fast-check's: carry both as `path|replayPath`.
  const replayPath = /replayPath="([^"]+)"/.exec(printInput(input))?.[1];
  throw new (isCount ? CountFailure : CaseFailure)(`${message}\n  counterexample: ${printInput(input)}`, {
    input: printInput(input),
    seed: details.seed,
    path: `${details.counterexamplePath ?? ''}${replayPath ? `|${replayPath}` : ''}`,
    numRuns: details.numRuns,
    replay: '',
  });
}
