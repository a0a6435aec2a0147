/**
 * Fuzzing in the suite (issue 13): generated client frames (valid envelopes mutated: bit flips,
 * truncation, varint overflow, wrong wire types, huge lengths, appended garbage; text, empty,
 * fragmented, oversized and malformed WebSocket frames) and generated upgrade requests (headers,
 * versions, origins, subprotocols, paths, HTTP versions, over raw TCP) against one reference
 * server. Every case gets the status or close code the spec's rules give it (testkit/fuzz/*-cases.ts
 * compute them without asking the server), the process never throws, a canary session on the same
 * server keeps its ordered stream at a normal latency (compared with itself before the run), the
 * heap returns near its baseline, and no session survives a protocol-error close.
 *
 * 10,000 cases here; `npm run soak` (LIFELINE_THOROUGH=1) runs 100,000 with a random seed.
 * LIFELINE_FUZZ_SEED replays one run.
 */
import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import type { LifelineServer } from '../server/server.js';
import { rawHttp } from '../testkit/raw-http.js';
import { connectionPlan, type ConnectionPlan } from '../testkit/fuzz/frame-cases.js';
import { ALLOWED_ORIGIN, Canary, FUZZ_CASES, heapAfterGc, isThorough, limits, pool, quantile, startFuzzServer } from '../testkit/fuzz/rig.js';
import { runFramePlan } from '../testkit/fuzz/run-frames.js';
import { expectedAnswer, requestText, upgradeCase, type UpgradeCase } from '../testkit/fuzz/upgrade-cases.js';

const SEED = process.env.LIFELINE_FUZZ_SEED ? Number(process.env.LIFELINE_FUZZ_SEED) : isThorough ? Date.now() % 2 ** 31 : 13_013;
/** Share of the cases that are upgrade requests; the rest are frames. */
const UPGRADE_SHARE = 0.3;
const MB = 1024 * 1024;

let srv: LifelineServer | undefined;
let canary: Canary | undefined;
afterEach(async () => {
  canary?.stop();
  canary = undefined;
  await srv?.close();
  srv = undefined;
});

/** Lazily generated values of an arbitrary (fast-check's sample, in chunks, one seed per chunk). */
function* generate<T>(arb: fc.Arbitrary<T>, seed: number): Generator<T> {
  for (let chunk = 0; ; chunk++) for (const v of fc.sample(arb, { numRuns: 500, seed: seed + chunk })) yield v;
}

interface Counts {
  cases: number;
  frameCases: number;
  upgradeCases: number;
  connections: number;
  unexpected: string[];
  crashes: number;
  resetSurvivors: number;
  wsFaultSurvivors: number;
  wsFaultCloses: number;
  byStatus: Record<string, number>;
}

describe('fuzz (issue 13)', () => {
  test(
    'SEC-4 WIRE-1 WIRE-2 WIRE-3 WIRE-5 WIRE-7 HS-8 SEQ-4 SEQ-6 HS-1 HS-2 HS-3 HS-17 HS-18 SEC-9 fuzzed frames and upgrades get their specified answers; the canary, the heap and the sessions stay bounded',
    async () => {
      const crashes: unknown[] = [];
      const onCrash = (err: unknown) => crashes.push(err);
      process.on('uncaughtException', onCrash);
      process.on('unhandledRejection', onCrash);
      try {
        srv = await startFuzzServer();
        const server = srv;
        const { port, address } = server.httpServer.address() as AddressInfo;
        canary = await Canary.start(server);
        await new Promise((r) => setTimeout(r, 1000)); // the canary's baseline, on a quiet server
        const baseline = canary.takeLatencies();
        const heapBefore = heapAfterGc();
        const t0 = performance.now();

        const c: Counts = { cases: 0, frameCases: 0, upgradeCases: 0, connections: 0, unexpected: [], crashes: 0, resetSurvivors: 0, wsFaultSurvivors: 0, wsFaultCloses: 0, byStatus: {} };
        const upgradeBudget = Math.round(FUZZ_CASES * UPGRADE_SHARE);
        const frameBudget = FUZZ_CASES - upgradeBudget;

        const upgrades = (function* () {
          let n = 0;
          for (const u of generate(upgradeCase(ALLOWED_ORIGIN), SEED)) {
            if (n++ >= upgradeBudget) return;
            yield u;
          }
        })();
        const plans = (function* () {
          let n = 0;
          for (const p of generate(connectionPlan(limits, { withWsFaults: true }), SEED + 1_000_000)) {
            if (n >= frameBudget) return;
            n += (p.hello ? 1 : 0) + p.frames.length;
            yield p;
          }
        })();

        let resetCloses = 0;
        await Promise.all([
          pool<UpgradeCase>(upgrades, 16, async (u) => {
            const want = expectedAnswer(u, [ALLOWED_ORIGIN]);
            const got = await rawHttp(address, port, requestText(u, `${address}:${port}`), { timeoutMs: 10_000 });
            c.upgradeCases++;
            c.byStatus[got.status] = (c.byStatus[got.status] ?? 0) + 1;
            if (got.status !== want.status) c.unexpected.push(`upgrade ${JSON.stringify(u)}: HTTP ${got.status}, expected ${want.status} (${want.rule})`);
            else if (want.rule === 'HS-17' && got.headers['sec-websocket-version'] !== '13') c.unexpected.push(`upgrade ${JSON.stringify(u)}: 426 without Sec-WebSocket-Version: 13 (HS-17)`);
          }),
          pool<ConnectionPlan>(plans, 16, async (p) => {
            const r = await runFramePlan(server, p, limits, { checkResume: resetCloses++ % 10 === 0 });
            c.connections++;
            if (isThorough && c.connections % 1000 === 0) {
              const mem = process.memoryUsage();
              console.log(`  … ${c.frameCases + c.upgradeCases} cases, ${((performance.now() - t0) / 1000).toFixed(0)} s, heap ${(mem.heapUsed / MB).toFixed(0)} MB, sessions ${server.stats().sessions}, connections ${server.stats().connections}, unexpected ${c.unexpected.length}`);
            }
            c.frameCases += r.cases;
            if (r.unexpected) c.unexpected.push(r.unexpected);
            if (r.isWsFault) c.wsFaultCloses++;
            if (r.survivedReset) {
              if (r.isWsFault) c.wsFaultSurvivors++;
              else c.resetSurvivors++;
            }
          }),
        ]);
        const fuzzMs = performance.now() - t0;
        const during = canary.takeLatencies();
        c.cases = c.frameCases + c.upgradeCases;
        c.crashes = crashes.length;

        // The canary: same session, ordered and gap-free, latency normal for this machine.
        expect(canary.isOpen).toBe(true);
        expect(canary.isOrdered()).toBe(true);
        const [b50, d50, d99] = [quantile(baseline, 0.5), quantile(during, 0.5), quantile(during, 0.99)];

        // Every fuzz connection gone: only the canary's session is left (nothing else held).
        canary.stop();
        for (let i = 0; i < 200 && server.stats().connections > 0; i++) await new Promise((r) => setTimeout(r, 25));
        const heapAfter = heapAfterGc();
        const summary =
          `fuzz seed ${SEED}: ${c.cases} cases (${c.frameCases} frames on ${c.connections} connections, ${c.upgradeCases} upgrades) in ${(fuzzMs / 1000).toFixed(1)} s; ` +
          `crashes ${c.crashes}, unexpected codes ${c.unexpected.length}, sessions surviving a protocol-error close ${c.resetSurvivors} ` +
          `(+${c.wsFaultSurvivors} of ${c.wsFaultCloses} closed by ws itself: issue 13 defect 2); statuses ${JSON.stringify(c.byStatus)}; ` +
          `canary p50 ${b50.toFixed(1)} → ${d50.toFixed(1)} ms, p99 ${d99.toFixed(1)} ms over ${during.length} messages; ` +
          `heap after GC ${(heapBefore / MB).toFixed(1)} → ${(heapAfter / MB).toFixed(1)} MB; sessions left ${server.stats().sessions}`;
        console.log(summary);
        for (const u of c.unexpected.slice(0, 10)) console.log(`  unexpected: ${u}`);

        expect(c.crashes).toBe(0);
        expect(c.unexpected).toEqual([]);
        expect(c.cases).toBeGreaterThanOrEqual(FUZZ_CASES - 10);
        expect(c.resetSurvivors).toBe(0); // the registry's reset rule (CC-2) after Lifeline's own closes
        // Generous: the fuzzer runs in the same process and competes for the same two cores.
        expect(d50).toBeLessThan(Math.max(20 * b50, b50 + 250));
        expect(d99).toBeLessThan(5000);
        // Memory returns near its baseline: what is left is bounded memory (expired-id list, pools).
        expect(heapAfter - heapBefore).toBeLessThan(48 * MB);
        // Only detached sessions from ws-level closes may remain (issue 13 defect 2); nothing else.
        expect(server.stats().sessions).toBeLessThanOrEqual(c.wsFaultSurvivors);
      } finally {
        process.off('uncaughtException', onCrash);
        process.off('unhandledRejection', onCrash);
      }
    },
    isThorough ? 3_600_000 : 120_000,
  );

  // Issue 13, defect 2: closes raised by `ws` itself (RSV bits, unmasked frames, invalid UTF-8 text,
  // frames over max payload) once left the session resumable (70 of 71 survived); CC-11 ends them.
  test('CC-11 WIRE-4 RS-1 no session survives a protocol-error close raised by ws itself', async () => {
    srv = await startFuzzServer();
    const plans = fc.sample(
      connectionPlan(limits, { withWsFaults: true }).filter((p) => p.hello !== undefined && p.frames.some((f) => f.wire.kind === 'raw' || (f.wire.kind === 'binary' && f.wire.bytes.byteLength > limits.maxPayloadBytes))),
      { numRuns: 40, seed: SEED },
    );
    let survivors = 0;
    let closes = 0;
    for (const p of plans) {
      const r = await runFramePlan(srv, p, limits, { checkResume: true });
      expect(r.unexpected).toBeUndefined();
      if (r.isWsFault) closes++;
      if (r.survivedReset) survivors++;
    }
    console.log(`ws-level protocol-error closes: ${closes}; sessions that survived them: ${survivors} (CC-11)`);
    expect(closes).toBeGreaterThan(0);
    expect(survivors).toBe(0);
  }, 60_000);
});
