import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CHARTS_ANCHOR, chartedMachines, refreshChartsBlock, renderChartFiles, renderChartsBlock } from './export.js';

const HINT = 'stale: run `npx tsx scripts/export-charts.ts` (npm run charts) and commit spec/charts and spec/lifeline.md';
const chartsDir = new URL('./', import.meta.url);
const specText = () => readFileSync(new URL('../lifeline.md', import.meta.url), 'utf8');

describe('generated state charts', () => {
  test('every machine of the spec is charted', () => {
    const machines = readdirSync(new URL('../machines/', import.meta.url))
      .filter((f) => f.endsWith('.machine.ts'))
      .map((f) => f.replace(/\.machine\.ts$/, ''))
      .sort();
    expect(chartedMachines.map((m) => m.name).sort()).toEqual(machines);
  });

  test('spec/charts/*.mmd and *.json are the machines of today', () => {
    const expected = renderChartFiles();
    const present = readdirSync(chartsDir).filter((f) => /\.(mmd|json)$/.test(f)).sort();
    expect(present, HINT).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) expect(readFileSync(new URL(name, chartsDir), 'utf8'), `${name} ${HINT}`).toBe(text);
  });

  test('spec/lifeline.md embeds the current charts, right before §18', () => {
    const spec = specText();
    const block = renderChartsBlock();
    expect(spec.includes(block), HINT).toBe(true);
    expect(spec.indexOf(block) + block.length).toBe(spec.indexOf(`\n\n${CHARTS_ANCHOR}\n`));
    expect(refreshChartsBlock(spec)).toBe(spec);
  });
});

describe('refreshChartsBlock', () => {
  const doc = '# T\n\n## 17. Defaults\n\ntext\n\n## 18. Conformance\n\nmore\n';

  test('inserts the block before §18 once, then only replaces it', () => {
    const once = refreshChartsBlock(doc);
    expect(once).toContain(`text\n\n${renderChartsBlock()}\n\n## 18. Conformance\n\nmore\n`);
    expect(refreshChartsBlock(once)).toBe(once);
    const stale = once.replace('stateDiagram-v2', 'stateDiagram-v2\n  old --> older');
    expect(refreshChartsBlock(stale)).toBe(once);
  });

  test('refuses a document without §18', () => {
    expect(() => refreshChartsBlock('# no anchor\n')).toThrow(/18\. Conformance/);
  });
});
