import { describe, expect, test } from 'vitest';
import { catalogue } from './catalogue.js';
import { readReadme, renderCaseTable, withTable } from './readme.js';

describe('conformance README', () => {
  test('the case table is generated from the catalogue (run npx tsx conformance/readme.ts when this fails)', () => {
    const readme = readReadme();
    expect(readme).toBe(withTable(readme, renderCaseTable()));
  });

  test('case ids are unique, ID/kebab-case, and start with the spec ids they list', () => {
    const ids = catalogue.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of catalogue) {
      expect(c.id).toMatch(/^[A-Z]+-\d+(\+[A-Z]+-\d+)*\/[a-z0-9]+(-[a-z0-9]+)*$/);
      const head = (c.id.split('/')[0] as string).split('+');
      for (const id of head) expect(c.spec, c.id).toContain(id);
    }
  });
});
