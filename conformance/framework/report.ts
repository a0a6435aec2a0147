/**
 * Reports: the human table (case, spec ids, verdict, time), the JSON report and
 * JUnit XML for CI systems.
 */
import type { Coverage } from './coverage.js';
import type { RunSummary } from './runner.js';
import type { CaseResult } from './types.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function renderTable(summary: RunSummary, coverage: Coverage, replayBase: string): string {
  const rows = summary.results;
  const w1 = Math.max(4, ...rows.map((r) => r.id.length));
  const w2 = Math.max(8, ...rows.map((r) => r.spec.join(' ').length));
  const out: string[] = [];
  out.push(`${pad('case', w1)}  ${pad('spec ids', w2)}  ${pad('verdict', 7)}  time`);
  out.push(`${'-'.repeat(w1)}  ${'-'.repeat(w2)}  -------  ------`);
  for (const r of rows) out.push(`${pad(r.id, w1)}  ${pad(r.spec.join(' '), w2)}  ${pad(r.verdict, 7)}  ${r.ms} ms${r.knownFailing ? (r.knownFailing.passed ? '  listed as known failing, but passed' : '  known failing') : ''}`);
  out.push('');
  for (const r of rows.filter((x) => x.verdict === 'FAIL' || x.verdict === 'WARN' || x.verdict === 'ERROR')) out.push(...renderFailure(r));
  for (const r of rows.filter((x) => x.knownFailing?.passed)) {
    out.push(`PASS ${r.id}: listed as known failing (${r.knownFailing?.reason ?? ''}) but it passed: take it off the list; this fails the run`, '');
  }
  const c = summary.counts;
  const known = summary.knownFailures > 0 ? `; ${summary.knownFailures} known failing` : '';
  const listed = summary.unexpectedPasses.length > 0 ? `; ${summary.unexpectedPasses.length} listed as known failing but passed` : '';
  out.push(`${rows.length} cases: ${c.PASS} pass, ${c.FAIL} fail, ${c.WARN} warn, ${c['N/A']} n/a, ${c.ERROR} error${known}${listed} in ${(summary.ms / 1000).toFixed(1)} s${summary.jobs > 1 ? ` (${summary.jobs} cases at once)` : ''}`);
  if (summary.worstStallMs > 0) out.push(`the runner's event loop stalled up to ${summary.worstStallMs} ms during a case (timing bounds allow the declared slackMs; a failure during a longer stall is rerun, then reported as ERROR)`);
  out.push(`spec coverage: ${coverage.covered.length}/${coverage.testableMust} testable MUST ids have a case${coverage.uncovered.length ? `; none for ${coverage.uncovered.join(' ')}` : ''}`);
  out.push(`seed ${summary.seed}; replay the run: ${replayBase.includes(' -- ') ? replayBase.replace(' -- ', ` --seed ${summary.seed} -- `) : `${replayBase} --seed ${summary.seed}`}`);
  return out.join('\n');
}

export function renderFailure(r: CaseResult): string[] {
  const out = [`${r.verdict} ${r.id} (${r.spec.join(' ')}): ${r.description}`];
  if (r.knownFailing) out.push(`  known failing (does not fail the run): ${r.knownFailing.reason}`);
  for (const line of (r.message ?? '').split('\n')) out.push(`  ${line}`);
  for (const n of r.notes) out.push(`  note: ${n}`);
  if (r.stallMs !== undefined) out.push(`  note: the runner's event loop stalled up to ${r.stallMs} ms during this case`);
  if (r.counterexample) {
    out.push(`  shrunk counterexample after ${r.counterexample.numRuns} runs, seed ${r.counterexample.seed}, path ${r.counterexample.path}`);
    out.push(`  replay: ${r.counterexample.replay}`);
  } else {
    out.push(`  replay: ${r.replay}`);
  }
  if (r.frames && r.frames.length > 0) {
    out.push('  frames (runner → implementation, ← from it):');
    const frames = r.frames.length > 60 ? [`… ${r.frames.length - 60} earlier lines in the JSON report`, ...r.frames.slice(-60)] : r.frames;
    for (const f of frames) out.push(`    ${f}`);
  }
  out.push('');
  return out;
}

export interface JsonReport {
  readonly tool: 'lifeline-conformance';
  readonly version: 1;
  readonly seed: number;
  readonly ms: number;
  readonly counts: RunSummary['counts'];
  readonly passed: boolean;
  readonly knownFailures: number;
  readonly unexpectedPasses: readonly string[];
  readonly coverage: Coverage;
  readonly cases: readonly CaseResult[];
}

export function jsonReport(summary: RunSummary, coverage: Coverage): JsonReport {
  return {
    tool: 'lifeline-conformance',
    version: 1,
    seed: summary.seed,
    ms: summary.ms,
    counts: summary.counts,
    passed: !summary.failed,
    knownFailures: summary.knownFailures,
    unexpectedPasses: summary.unexpectedPasses,
    coverage,
    cases: summary.results,
  };
}

function xml(s: string): string {
  // XML 1.0 forbids most control characters even escaped.
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function junitXml(summary: RunSummary): string {
  const modes = ['server', 'client'] as const;
  const suites: string[] = [];
  for (const mode of modes) {
    const rs = summary.results.filter((r) => r.mode === mode);
    if (rs.length === 0) continue;
    const failures = rs.filter((r) => (r.verdict === 'FAIL' && !r.knownFailing) || r.knownFailing?.passed).length;
    const errors = rs.filter((r) => r.verdict === 'ERROR' && !r.knownFailing).length;
    const skipped = rs.filter((r) => r.verdict === 'N/A' || (r.knownFailing && !r.knownFailing.passed && r.verdict !== 'PASS')).length;
    const time = rs.reduce((a, r) => a + r.ms, 0) / 1000;
    const cases = rs.map((r) => {
      const head = `    <testcase classname="lifeline.conformance.${mode}" name="${xml(r.id)}" time="${(r.ms / 1000).toFixed(3)}">`;
      const detail = xml([r.message ?? '', `spec: ${r.spec.join(' ')}`, `replay: ${r.counterexample?.replay ?? r.replay}`, ...(r.frames ?? [])].join('\n'));
      let body = '';
      if (r.knownFailing?.passed) body = `\n      <failure message="listed as known failing but passed: take it off the list" type="known-failing">${xml(r.knownFailing.reason)}</failure>`;
      else if (r.knownFailing && r.verdict !== 'PASS') body = `\n      <skipped message="${xml(`known failing: ${r.knownFailing.reason}`)}"/>`;
      else if (r.verdict === 'FAIL') body = `\n      <failure message="${xml((r.message ?? '').split('\n')[0] ?? '')}" type="MUST">${detail}</failure>`;
      else if (r.verdict === 'ERROR') body = `\n      <error message="${xml(r.message ?? '')}">${detail}</error>`;
      else if (r.verdict === 'N/A') body = `\n      <skipped message="${xml(r.message ?? 'not applicable')}"/>`;
      else if (r.verdict === 'WARN') body = `\n      <system-out>WARN (SHOULD): ${detail}</system-out>`;
      return `${head}${body}${body ? '\n    ' : ''}</testcase>`;
    });
    suites.push(
      `  <testsuite name="lifeline-conformance-${mode}" tests="${rs.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">\n` +
        `    <properties><property name="seed" value="${summary.seed}"/></properties>\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="lifeline-conformance">\n${suites.join('\n')}\n</testsuites>\n`;
}
