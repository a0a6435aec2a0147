// Exports the spec's machines to spec/charts/*.mmd and *.json and rewrites the charts block of
// spec/lifeline.md (npm run charts). spec/charts/charts.test.ts fails when they are stale.
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { refreshChartsBlock, renderChartFiles } from '../spec/charts/export.js';

const dir = new URL('../spec/charts/', import.meta.url);
const files = renderChartFiles();
let changed = 0;
for (const [name, text] of files) {
  const url = new URL(name, dir);
  let before: string | undefined;
  try {
    before = readFileSync(url, 'utf8');
  } catch {
    before = undefined;
  }
  if (before !== text) {
    writeFileSync(url, text);
    changed++;
  }
}
// A machine that left the list leaves no chart behind.
for (const name of readdirSync(dir)) {
  if (/\.(mmd|json)$/.test(name) && !files.has(name)) {
    unlinkSync(new URL(name, dir));
    changed++;
  }
}

const spec = new URL('../spec/lifeline.md', import.meta.url);
// Read right before writing: other edits to the prose may have landed meanwhile.
const before = readFileSync(spec, 'utf8');
const after = refreshChartsBlock(before);
if (after !== before) {
  writeFileSync(spec, after);
  changed++;
}
console.log(changed === 0 ? 'charts already current' : `charts: ${changed} file(s) rewritten`);
