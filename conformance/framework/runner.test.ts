import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { referenceServerConfig } from '../config.js';
import { computeCoverage, specRules } from './coverage.js';
import { checkCount, CountFailure } from './failure.js';
import { checkProperty } from './property.js';
import { caseSeed } from './random.js';
import { junitXml, renderTable } from './report.js';
import { replayCommand, runSuite, type ModeHarness } from './runner.js';
import type { Case } from './types.js';

const harness: ModeHarness = { mode: 'server', extend: async (base) => base };
const base = { mode: 'server' as const, spec: ['HB-3'], description: 'd' };

async function run(cases: Case[], timeoutMs = 2000) {
  return runSuite({ cases, harnesses: [harness], config: { server: referenceServerConfig }, seed: 42, runs: 5, thorough: false, timeoutMs, replayBase: { server: 'lifeline conformance server ws://x --config c.json' } });
}

describe('runner verdicts', () => {
  test('PASS, FAIL for MUST, WARN for SHOULD, ERROR for a harness fault, N/A for an undeclared feature', async () => {
    const s = await run([
      { ...base, id: 'HB-3/ok', level: 'MUST', run: async () => undefined },
      { ...base, id: 'HB-3/broken', level: 'MUST', run: async () => { throw new CountFailure('no'); } },
      { ...base, id: 'HB-3/should', level: 'SHOULD', run: async () => { throw new CountFailure('meh'); } },
      { ...base, id: 'HB-3/crash', level: 'MUST', run: async () => { throw new TypeError('bug'); } },
      { ...base, id: 'HB-3/needs', level: 'MUST', requires: ['client-token'], run: async () => undefined },
    ]);
    expect(s.results.map((r) => r.verdict)).toEqual(['PASS', 'FAIL', 'WARN', 'ERROR', 'N/A']);
    expect(s.failed).toBe(true);
    expect(s.counts).toEqual({ PASS: 1, FAIL: 1, WARN: 1, 'N/A': 1, ERROR: 1 });
  });

  test('a SHOULD warning or an N/A alone does not fail the run; N/A is never a pass', async () => {
    const s = await run([
      { ...base, id: 'HB-3/should', level: 'SHOULD', run: async () => { throw new CountFailure('meh'); } },
      { ...base, id: 'HB-3/needs', level: 'MUST', requires: ['client-token'], run: async () => undefined },
    ]);
    expect(s.failed).toBe(false);
    expect(s.counts.PASS).toBe(0);
  });

  test('a case over its timeout is an ERROR and its signal is aborted', async () => {
    let aborted = false;
    const s = await run([{ ...base, id: 'HB-3/hangs', level: 'MUST', timeoutMs: 50, run: async (ctx) => { ctx.signal.addEventListener('abort', () => { aborted = true; }); await new Promise(() => undefined); } }]);
    expect(s.results[0]?.verdict).toBe('ERROR');
    expect(s.results[0]?.message).toMatch(/timed out/);
    expect(aborted).toBe(true);
  });

  test('destructive cases run last; cleanups run after each case, last first', async () => {
    const order: string[] = [];
    const mk = (id: string, destructive = false): Case => ({ ...base, id, level: 'MUST', destructive, run: async (ctx) => { order.push(id); ctx.defer(() => order.push(`${id}:a`)); ctx.defer(() => order.push(`${id}:b`)); } });
    await run([mk('HB-3/d', true), mk('HB-3/x')]);
    expect(order).toEqual(['HB-3/x', 'HB-3/x:b', 'HB-3/x:a', 'HB-3/d', 'HB-3/d:b', 'HB-3/d:a']);
  });
});

describe('seeds, replay and counterexamples', () => {
  test('each case gets its own seed from the suite seed and its id', () => {
    expect(caseSeed(1, 'HB-3/a')).toBe(caseSeed(1, 'HB-3/a'));
    expect(caseSeed(1, 'HB-3/a')).not.toBe(caseSeed(1, 'HB-3/b'));
    expect(caseSeed(1, 'HB-3/a')).not.toBe(caseSeed(2, 'HB-3/a'));
  });

  test('replay commands put options before a client command', () => {
    expect(replayCommand('lifeline conformance client --config c -- ./my client', 7, 'RC-2/x')).toBe("lifeline conformance client --config c --seed 7 --case 'RC-2/x' -- ./my client");
    expect(replayCommand('lifeline conformance server ws://h', 7, 'HB-3/x', '1:2')).toBe("lifeline conformance server ws://h --seed 7 --case 'HB-3/x' --path '1:2'");
  });

  test('a failing property is shrunk and replays from its path; the table prints it', async () => {
    const prop: Case = {
      ...base,
      id: 'HB-3/property',
      level: 'MUST',
      property: true,
      run: (ctx) =>
        checkProperty(ctx, fc.array(fc.integer({ min: 0, max: 100 })), async (xs) => {
          ctx.transcript.event('runner', `tries ${xs.length}`);
          checkCount(!xs.some((x) => x > 50), 'saw a value over 50'); // a content check: no runner stall can excuse it (stays FAIL on a busy machine)
        }, { runs: 200 }),
    };
    const s = await run([prop]);
    const r = s.results[0];
    expect(r?.verdict).toBe('FAIL');
    expect(r?.counterexample?.input).toBe('[51]');
    expect(r?.frames?.join('\n')).toContain('tries 1');
    const table = renderTable(s, computeCoverage([prop]), 'lifeline conformance server ws://x --config c.json');
    expect(table).toContain("--path '");
    expect(junitXml(s)).toContain('<failure message="saw a value over 50');
  });
  test('a property\'s content failure stays FAIL when the runner stalled while it ran (shrunk and wrapped, it is still a CountFailure)', async () => {
    const prop: Case = {
      ...base,
      id: 'HB-3/property-stalled',
      level: 'MUST',
      property: true,
      run: (ctx) =>
        checkProperty(ctx, fc.integer({ min: 0, max: 100 }), async (x) => {
          if (x <= 50) return;
          const until = performance.now() + 60; // a stall of the runner's event loop above its 20 ms floor
          while (performance.now() < until) {
            // busy: the stall monitor's next sample is ~60 ms late
          }
          checkCount(false, 'saw a value over 50');
        }, { runs: 50 }),
    };
    const r = (await run([prop])).results[0];
    expect(r?.stallMs).toBeGreaterThanOrEqual(20);
    expect(r?.verdict).toBe('FAIL');
    expect(r?.counterexample?.input).toBe('51');
  });
});

describe('spec coverage', () => {
  test('MUST rules are told apart from SHOULD and MAY', () => {
    const rules = specRules('**AA-1** A server MUST do.\n\n**AA-2** It SHOULD do.\n\n**AA-3** It MAY.\n');
    expect(rules.map((r) => `${r.id}:${r.level}`)).toEqual(['AA-1:MUST', 'AA-2:SHOULD', 'AA-3:MAY']);
    const cov = computeCoverage([{ ...base, id: 'AA-1/x', spec: ['AA-1'], level: 'MUST', run: async () => undefined }], [...rules, { id: 'AA-4', level: 'MUST', text: '' }]);
    expect(cov.covered).toEqual(['AA-1']);
    expect(cov.uncovered).toEqual(['AA-4']);
  });
});
