import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { refreshGeneratedBlocks, generatedBlocks } from './spec-tables.js';

const spec = readFileSync(new URL('./lifeline.md', import.meta.url), 'utf8');

describe('generated spec tables', () => {
  test('CC-1 the registry table in the spec is the code\'s registry (run npm run spec:tables)', () => {
    for (const name of Object.keys(generatedBlocks)) {
      expect(spec, `block ${name} missing`).toContain(`<!-- BEGIN generated:${name}`);
    }
    expect(refreshGeneratedBlocks(spec)).toBe(spec);
  });
});
