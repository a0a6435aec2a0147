/**
 * The server suite over the HTTP carrier (spec §22, issue 15): the reference server passes every
 * transport-neutral server case with the runner's peers on HTTP (`--transport http`), with a fixed
 * seed. Its own file, so vitest runs it beside the WebSocket run (conformance-server.test.ts), which
 * runs the HT-* cases themselves. The whole suite, not a subset: over HTTP it takes about 25-35 s on
 * the 2-core machine (the WebSocket-only cases are N/A at once), less than the WebSocket run.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { catalogue } from './catalogue.js';
import { referenceServerConfig } from './config.js';
import { runConformance } from './run.js';
import { notPassed, SELF_RUN_BUDGET_MS, SELF_SEED, SELF_TEST_TIMEOUT_MS } from './self-run.js';
import { startReferenceServer, type ServerTarget } from './targets/reference.js';

/**
 * N/A expected over HTTP: the multi-node cases (one node here), the cases that test a carrier itself
 * (the upgrade, the HT-* cases), and the ones that use what only a WebSocket has (pings, text and raw
 * frames, the subprotocol: the HTTP peer makes them N/A saying so).
 */
const carrierBound = new Set(catalogue.filter((c) => c.carrier !== undefined || c.requires?.includes('multi-node')).map((c) => c.id));
const WS_ONLY = /WebSocket|protocol-level ping|text frame/;

let target: ServerTarget;
beforeAll(async () => {
  target = await startReferenceServer(referenceServerConfig);
});
afterAll(async () => {
  await target.stop();
});

test('HT-18 the reference server passes every transport-neutral server case over the HTTP carrier', { timeout: SELF_TEST_TIMEOUT_MS }, async () => {
  const r = await runConformance({
    server: { url: target.url, config: target.config, hooks: target.hooks, transport: 'http' },
    seed: SELF_SEED,
    runs: 5,
    runTimeoutMs: SELF_RUN_BUDGET_MS,
    replayBase: { server: 'npx lifeline conformance self --only server --transport http' },
  });
  const naAllowed = (id: string) => carrierBound.has(id) || WS_ONLY.test(r.summary.results.find((x) => x.id === id)?.message ?? '');
  expect(notPassed(r, naAllowed)).toEqual([]);
  // most of the suite really ran over HTTP: N/A is the exception
  expect(r.summary.counts.PASS).toBeGreaterThan(70);
});
