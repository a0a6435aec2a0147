import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { citedIds, coveredIds, definedIds } from './traceability.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const spec = readFileSync(new URL('./lifeline.md', import.meta.url), 'utf8');
const defined = definedIds(spec);
// Ids whose test or conformance case is still to be written. Shrinks to empty; a
// test below fails when an id here gets covered, so the list cannot go stale.
const pending: string[] = JSON.parse(readFileSync(new URL('./coverage-pending.json', import.meta.url), 'utf8'));

describe('traceability', () => {
  test('ids are unique in the spec', () => {
    expect(defined.length).toBeGreaterThan(50);
    expect(new Set(defined).size).toBe(defined.length);
  });

  test('nothing cites an id the spec does not define', () => {
    const unknown = [...citedIds(root)].filter(([id]) => !defined.includes(id)).map(([id, f]) => `${id} (${f})`);
    expect(unknown).toEqual([]);
  });

  test('every id has a test or conformance case, or is listed as pending', () => {
    const covered = coveredIds(root);
    const uncovered = defined.filter((id) => !covered.has(id));
    expect(uncovered.filter((id) => !pending.includes(id))).toEqual([]);
    const stale = pending.filter((id) => covered.has(id) || !defined.includes(id));
    expect(stale, 'covered or unknown ids still listed in spec/coverage-pending.json').toEqual([]);
  });
});
