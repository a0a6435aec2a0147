/**
 * A counterexample found against a mutant replays exactly from its seed and path (issue 6 §3).
 * The reference server and client pass the suite in conformance-server.test.ts and
 * conformance-client.test.ts: two files, so vitest's two workers run them side by side.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceServerConfig } from './config.js';
import { startFrameProxy, type FrameProxy } from './mutants/frame-proxy.js';
import { serverMutants } from './mutants/server-mutants.js';
import { runConformance } from './run.js';
import { SELF_SEED as SEED } from './self-run.js';
import { startReferenceServer, type ServerTarget } from './targets/reference.js';

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
        runTimeoutMs: 100_000,
        ...(path ? { path } : {}),
        replayBase: { server: 'npx lifeline conformance server URL --config F' },
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
