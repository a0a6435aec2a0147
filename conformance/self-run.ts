/**
 * Test support for the self runs in npm test (conformance-server.test.ts, conformance-client.test.ts,
 * conformance.test.ts): their fixed seed, and what did not pass, one entry per case with its
 * verdict, message and replay line, so a failing assertion names every case and how to rerun it alone.
 */
import type { ConformanceResult } from './run.js';

export const SELF_SEED = 20_260_101;

/** The run's budget in npm test: below vitest's timeout, so the runner reports before vitest gives up. */
export const SELF_RUN_BUDGET_MS = 200_000;
export const SELF_TEST_TIMEOUT_MS = 240_000;

/**
 * What did not pass. `naAllowed`: cases whose N/A is expected on this target (the multi-node cases
 * against one node: they run against two in conformance-multi-node.test.ts).
 */
export function notPassed(r: ConformanceResult, naAllowed: (id: string) => boolean = () => false): string[] {
  return r.summary.results
    .filter((x) => x.verdict !== 'PASS' && !(x.verdict === 'N/A' && naAllowed(x.id)))
    .map((x) => `${x.verdict} ${x.id}: ${x.message ?? ''}${x.notes.length ? `\n  notes: ${x.notes.join('; ')}` : ''}${x.stallMs !== undefined ? `\n  the runner stalled up to ${x.stallMs} ms` : ''}\n  replay: ${x.counterexample?.replay ?? x.replay}`);
}
