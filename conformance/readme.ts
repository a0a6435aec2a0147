/**
 * The case table of conformance/README.md, generated from the catalogue
 * (`npx tsx conformance/readme.ts` rewrites it; readme.test.ts fails when stale).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogue } from './catalogue.js';
import { computeCoverage } from './framework/coverage.js';
import type { Case, CaseContext } from './framework/types.js';

const BEGIN = '<!-- BEGIN generated:cases (npx tsx conformance/readme.ts) -->';
const END = '<!-- END generated:cases -->';
const README = fileURLToPath(new URL('./README.md', import.meta.url));

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderCaseTable(cases: readonly Case<CaseContext>[] = catalogue): string {
  const cov = computeCoverage(cases);
  const rows = cases.map((c) => `| \`${c.id}\` | ${c.mode} | ${c.level} | ${c.spec.join(' ')} | ${c.requires?.join(', ') ?? ''} | ${cell(c.description)} |`);
  return [
    BEGIN,
    `${cases.length} cases (${cases.filter((c) => c.mode === 'server').length} server, ${cases.filter((c) => c.mode === 'client').length} client). ` +
      `Spec coverage: ${cov.covered.length}/${cov.testableMust} testable MUST ids have a case` +
      (cov.uncovered.length ? `; none yet for ${cov.uncovered.join(', ')}.` : '.'),
    '',
    '| Case | Mode | Level | Spec ids | Needs | What it checks |',
    '|---|---|---|---|---|---|',
    ...rows,
    END,
  ].join('\n');
}

export function withTable(readme: string, table = renderCaseTable()): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < 0) throw new Error('README.md has no generated:cases markers');
  return readme.slice(0, a) + table + readme.slice(b + END.length);
}

export function readReadme(): string {
  return readFileSync(README, 'utf8');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, withTable(readReadme()));
  console.log('conformance/README.md case table rewritten');
}
