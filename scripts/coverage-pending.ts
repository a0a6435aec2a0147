// Removes from spec/coverage-pending.json every id that now has a test or case
// (npm run spec:pending). It never adds an id: debt only shrinks.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { coveredIds } from '../spec/traceability.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const file = new URL('../spec/coverage-pending.json', import.meta.url);
const pending: string[] = JSON.parse(readFileSync(file, 'utf8'));
const covered = coveredIds(root);
const left = pending.filter((id) => !covered.has(id));
writeFileSync(file, `${JSON.stringify(left)}\n`);
console.log(`coverage pending: ${pending.length} → ${left.length}; now covered: ${pending.filter((id) => covered.has(id)).join(' ') || 'none'}`);
