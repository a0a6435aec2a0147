import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { embedExamples, README } from './readme-examples.js';

describe("README 'Use it in your app'", () => {
  const readme = readFileSync(README, 'utf8');

  test('its code blocks are the files in examples/, which the packaging test runs', () => {
    const { text, files } = embedExamples(readme);
    // On failure: npx tsx scripts/readme-examples.ts (bundle.js is the ignored output of the browser example's build)
    expect(text).toBe(readme);
    expect(files.sort()).toEqual(readdirSync(new URL('../examples/', import.meta.url)).filter((f) => f !== 'bundle.js').map((f) => `examples/${f}`).sort());
  });

  test('a block that differs from its file is found', () => {
    const { text } = embedExamples(readme, (p) => `// changed\n${readFileSync(new URL(`../${p}`, import.meta.url), 'utf8')}`);
    expect(text).not.toBe(readme);
  });
});
