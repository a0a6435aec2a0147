/**
 * The reference server passes every server case (CONVENTIONS §7), with a fixed seed. Its own file,
 * so vitest runs it beside the client run (conformance-client.test.ts).
 *
 * Twice: with the default fixed heartbeat interval (HB-10), where the hot paths decide Messages,
 * Acks and the sweep's count; and with the adaptive heartbeat on (HB-11), where every frame and
 * every sweep tick goes through the session machine (issue 12: both paths pass the suite).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { catalogue } from './catalogue.js';
import { referenceServerConfig } from './config.js';
import { junitXml } from './framework/report.js';
import { runConformance } from './run.js';
import { notPassed, SELF_RUN_BUDGET_MS, SELF_SEED, SELF_TEST_TIMEOUT_MS } from './self-run.js';
import { startReferenceServer, type ServerTarget } from './targets/reference.js';
import type { ServerOverride } from './targets/reference-server.js';
import { tryConnect } from '../testkit/raw-client.js';

const multiNode = new Set(catalogue.filter((c) => c.requires?.includes('multi-node')).map((c) => c.id));

/** HB-11: the interval in force may grow to four base intervals (the machine counts every tick and frame). */
const adaptiveHeartbeat: ServerOverride = (o) => ({ ...o, heartbeatIntervalMaxMs: 4 * referenceServerConfig.heartbeatIntervalMs });

describe.each([
  ['', undefined],
  [' with the adaptive heartbeat (HB-11)', adaptiveHeartbeat],
] as const)('self run%s', (name, override) => {
  let target: ServerTarget;
  beforeAll(async () => {
    target = await startReferenceServer(referenceServerConfig, override);
  });
  afterAll(async () => {
    await target.stop();
  });

  // The run ends with its report within its budget (per-case deadlines, a run budget), before vitest's timeout.
  test(`the reference server passes every server case${name}`, { timeout: SELF_TEST_TIMEOUT_MS }, async () => {
    const r = await runConformance({
      server: { url: target.url, config: target.config, hooks: target.hooks },
      seed: SELF_SEED,
      runs: 5,
      runTimeoutMs: SELF_RUN_BUDGET_MS,
      replayBase: { server: 'npx lifeline conformance self --only server' },
    });
    // spec §21: the multi-node cases need a second node; conformance-multi-node.test.ts runs them on two
    expect(notPassed(r, (id) => multiNode.has(id))).toEqual([]);
    expect(r.summary.results.length).toBeGreaterThan(50);
    expect(r.report.coverage.uncovered.length).toBeLessThan(r.report.coverage.testableMust / 5);
    expect(junitXml(r.summary)).toContain('<testsuite name="lifeline-conformance-server"');
    // The run ended with its drain cases (destructive, last) and reset the server after them: the next
    // client (a replay, a second run) is served, not refused with 503 (issue 18, runner item 7).
    const next = await tryConnect(target.url, { headers: target.config.auth?.upgradeHeaders ?? {} });
    expect(next.ok ? 'upgraded' : `refused with HTTP ${next.refusal.status}`).toBe('upgraded');
    if (next.ok) next.client.terminate();
  });
});
