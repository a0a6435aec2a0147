/**
 * Writes the golden vectors to conformance/vectors/*.json
 * (`npx tsx conformance/vectors/generate.ts`). vectors.test.ts fails when the
 * files differ from what this would write, so they never go stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildVectorFiles, renderVectorFile } from './catalog.js';

export function writeVectorFiles(dir = fileURLToPath(new URL('.', import.meta.url))): string[] {
  const written: string[] = [];
  for (const f of buildVectorFiles()) {
    writeFileSync(`${dir}/${f.file}`, renderVectorFile(f));
    written.push(f.file);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = writeVectorFiles();
  console.log(`wrote ${files.join(', ')}`);
}
