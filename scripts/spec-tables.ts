// Rewrites the generated tables in spec/lifeline.md (npm run spec:tables).
import { readFileSync, writeFileSync } from 'node:fs';
import { refreshGeneratedBlocks } from '../spec/spec-tables.js';

const path = new URL('../spec/lifeline.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = refreshGeneratedBlocks(before);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? 'spec tables already current' : 'spec tables rewritten');
