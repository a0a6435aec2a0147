/**
 * The reference server and client pass the conformance suite inside `npm test`
 * (CONVENTIONS §7), with a fixed seed; and a counterexample found against a
 * mutant replays exactly from its seed and path (issue 6 §3).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceClientConfig, referenceServerConfig } from './config.js';
import { junitXml } from './framework/report.js';
import { startFrameProxy, type FrameProxy } from './mutants/frame-proxy.js';
import { serverMutants } from './mutants/server-mutants.js';
import { runConformance } from './run.js';
import { referenceClientCommand, startReferenceServer, type ServerTarget } from './targets/reference.js';

const SEED = 20_260_101;

describe('conformance suite against the reference implementations', () => {
  let target: ServerTarget;
  beforeAll(async () => {
    target = await startReferenceServer(referenceServerConfig);
  });
  afterAll(async () => {
    await target.stop();
  });

  test('the reference server passes every server case', { timeout: 180_000 }, async () => {
    const r = await runConformance({ server: { url: target.url, config: target.config, hooks: target.hooks }, seed: SEED, runs: 5 });
    const bad = r.summary.results.filter((x) => x.verdict !== 'PASS').map((x) => `${x.verdict} ${x.id}: ${x.message ?? ''}`);
    expect(bad).toEqual([]);
    expect(r.summary.results.length).toBeGreaterThan(50);
    expect(r.report.coverage.uncovered.length).toBeLessThan(r.report.coverage.testableMust / 5);
    expect(junitXml(r.summary)).toContain('<testsuite name="lifeline-conformance-server"');
  });

  test('the reference client passes every client case', { timeout: 300_000 }, async () => {
    const r = await runConformance({ client: { command: referenceClientCommand(), config: referenceClientConfig }, seed: SEED });
    const bad = r.summary.results.filter((x) => x.verdict !== 'PASS').map((x) => `${x.verdict} ${x.id}: ${x.message ?? ''}`);
    expect(bad).toEqual([]);
    expect(r.summary.results.length).toBeGreaterThan(40);
  });
});

describe('counterexamples', () => {
  let target: ServerTarget;
  let proxy: FrameProxy;
  beforeAll(async () => {
    target = await startReferenceServer(referenceServerConfig);
    const skips = serverMutants.find((m) => m.id === 'seq-2-skips-seq');
    proxy = await startFrameProxy(target.url, skips?.proxy ?? {});
  });
  afterAll(async () => {
    await proxy.stop();
    await target.stop();
  });

  test('SEQ-2 a model-based failure is shrunk, printed with its frames, and replays exactly from seed and path', { timeout: 120_000 }, async () => {
    const run = (path?: string) =>
      runConformance({
        server: { url: proxy.url, config: target.config, hooks: target.hooks },
        cases: ['SEQ-2+RS-2/model-based-sequences'],
        seed: SEED,
        runs: 10,
        ...(path ? { path } : {}),
        replayBase: { server: 'lifeline conformance server URL --config F' },
      });
    const first = await run();
    const r = first.summary.results[0];
    expect(r?.verdict).toBe('FAIL');
    const cx = r?.counterexample;
    expect(cx).toBeDefined();
    expect(cx?.replay).toContain(`--seed ${SEED}`);
    expect(cx?.replay).toContain(`--path '${cx?.path}'`);
    expect(r?.frames?.some((f) => f.includes('Message{'))).toBe(true);
    expect(first.table).toContain('shrunk counterexample');
    const again = await run(cx?.path);
    expect(again.summary.results[0]?.counterexample?.input).toBe(cx?.input);
  });
});
