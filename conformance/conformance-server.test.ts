/**
 * The reference server passes every server case (CONVENTIONS §7), with a fixed seed. Its own file,
 * so vitest runs it beside the client run (conformance-client.test.ts).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { referenceServerConfig } from './config.js';
import { junitXml } from './framework/report.js';
import { runConformance } from './run.js';
import { notPassed, SELF_RUN_BUDGET_MS, SELF_SEED, SELF_TEST_TIMEOUT_MS } from './self-run.js';
import { startReferenceServer, type ServerTarget } from './targets/reference.js';
import { tryConnect } from '../testkit/raw-client.js';

let target: ServerTarget;
beforeAll(async () => {
  target = await startReferenceServer(referenceServerConfig);
});
afterAll(async () => {
  await target.stop();
});

// The run ends with its report within its budget (per-case deadlines, a run budget), before vitest's timeout.
test('the reference server passes every server case', { timeout: SELF_TEST_TIMEOUT_MS }, async () => {
  const r = await runConformance({
    server: { url: target.url, config: target.config, hooks: target.hooks },
    seed: SELF_SEED,
    runs: 5,
    runTimeoutMs: SELF_RUN_BUDGET_MS,
    replayBase: { server: 'npx lifeline conformance self --only server' },
  });
  expect(notPassed(r)).toEqual([]);
  expect(r.summary.results.length).toBeGreaterThan(50);
  expect(r.report.coverage.uncovered.length).toBeLessThan(r.report.coverage.testableMust / 5);
  expect(junitXml(r.summary)).toContain('<testsuite name="lifeline-conformance-server"');
  // The run ended with its drain cases (destructive, last) and reset the server after them: the next
  // client (a replay, a second run) is served, not refused with 503 (issue 18, runner item 7).
  const next = await tryConnect(target.url, { headers: target.config.auth?.upgradeHeaders ?? {} });
  expect(next.ok ? 'upgraded' : `refused with HTTP ${next.refusal.status}`).toBe('upgraded');
  if (next.ok) next.client.terminate();
});
