/**
 * The multi-node cases (spec §21) against two reference nodes on one shared in-process store and
 * broker (MemorySessionStore shared, MemoryHub), with a fixed seed: npm test covers them beside the
 * single-node self run (conformance-server.test.ts), where they are N/A.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { referenceServerConfig } from './config.js';
import { runConformance } from './run.js';
import { notPassed, SELF_RUN_BUDGET_MS, SELF_SEED, SELF_TEST_TIMEOUT_MS } from './self-run.js';
import { startReferenceCluster, type ClusterTarget } from './targets/reference-cluster.js';

let cluster: ClusterTarget;
beforeAll(async () => {
  cluster = await startReferenceCluster(referenceServerConfig);
});
afterAll(async () => {
  await cluster.stop();
});

test('MN-3 MN-4 MN-5 MN-9 MN-11 two reference nodes on one store pass every multi-node case', { timeout: SELF_TEST_TIMEOUT_MS }, async () => {
  const r = await runConformance({
    server: { url: cluster.url, config: cluster.config, hooks: cluster.hooks, peer: cluster.peer },
    cases: ['MN-*'],
    seed: SELF_SEED,
    runs: 5,
    runTimeoutMs: SELF_RUN_BUDGET_MS,
    replayBase: { server: 'npx lifeline conformance self --only server --multi-node' },
  });
  expect(notPassed(r)).toEqual([]);
  expect(r.summary.results.map((x) => x.id).sort()).toEqual([
    'MN-11+MN-3/drain-to-other-node',
    'MN-3+MN-1+MN-2/resume-on-other-node',
    'MN-4/takeover-across-nodes-4002',
    'MN-5/message-dedupe-across-nodes',
    'MN-9/fan-out-order-across-nodes',
  ]);
});
