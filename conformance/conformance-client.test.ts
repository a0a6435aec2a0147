/**
 * The reference client passes every client case (CONVENTIONS §7), with a fixed seed, several
 * cases at once (each has its own fake server and client process). Its own file, so vitest runs
 * it beside the server run (conformance-server.test.ts).
 */
import { expect, test } from 'vitest';
import { referenceClientConfig } from './config.js';
import { runConformance, SELF_JOBS } from './run.js';
import { notPassed, SELF_RUN_BUDGET_MS, SELF_SEED, SELF_TEST_TIMEOUT_MS } from './self-run.js';
import { referenceClientCommand } from './targets/reference.js';

// The run ends with its report within its budget (per-case deadlines, a run budget), before vitest's timeout.
test('the reference client passes every client case', { timeout: SELF_TEST_TIMEOUT_MS }, async () => {
  const r = await runConformance({
    client: { command: referenceClientCommand(), config: referenceClientConfig },
    seed: SELF_SEED,
    jobs: SELF_JOBS,
    runTimeoutMs: SELF_RUN_BUDGET_MS,
    replayBase: { client: 'npx lifeline conformance self --only client' },
  });
  expect(notPassed(r)).toEqual([]);
  expect(r.summary.results.length).toBeGreaterThan(40);
});
