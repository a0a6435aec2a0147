import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { buildGraph, findCycles, importSpecifiers } from './check-cycles.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('check-cycles', () => {
  test('finds a two-file and a three-file loop, one report each, and no false one', () => {
    const graph = new Map<string, string[]>([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts', 'c.ts']],
      ['c.ts', ['d.ts']],
      ['d.ts', ['e.ts']],
      ['e.ts', ['c.ts', 'f.ts']],
      ['f.ts', []],
    ]);
    const cycles = findCycles(graph);
    expect(cycles.map((c) => c.path)).toEqual([
      ['a.ts', 'b.ts', 'a.ts'],
      ['c.ts', 'd.ts', 'e.ts', 'c.ts'],
    ]);
  });

  test('a file importing itself is a cycle; a diamond is not', () => {
    expect(findCycles(new Map([['a.ts', ['a.ts']]]))).toHaveLength(1);
    const diamond = new Map([['a.ts', ['b.ts', 'c.ts']], ['b.ts', ['d.ts']], ['c.ts', ['d.ts']], ['d.ts', []]]);
    expect(findCycles(diamond)).toEqual([]);
  });

  test('type-only imports and re-exports count; dynamic import() does not', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B } from './b.js';",
      "export type { C } from './c.js';",
      "export * from './d.js';",
      "import 'node:fs';",
      "const lazy = () => import('./e.js');",
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual(['./a.js', './b.js', './c.js', './d.js', 'node:fs']);
    expect(importSpecifiers('x.ts', `${text}\ntype M = typeof import('./f.js');`, true)).toEqual(['./e.js', './f.js', './a.js', './b.js', './c.js', './d.js', 'node:fs']);
  });

  test('boundaries (issue 12): library code never imports demo/, bench/ or test/, not even lazily; server/types.ts imports no server module', () => {
    const graph = buildGraph(root, ['server', 'client', 'spec', 'conformance'], { dynamic: true });
    const library = [...graph.entries()].filter(([file]) => /^(server|client|spec|conformance)\//.test(file) && !file.endsWith('.test.ts'));
    const outward = library.flatMap(([file, targets]) => targets.filter((t) => /^(demo|bench|test|e2e)\//.test(t)).map((t) => `${file} → ${t}`));
    expect(outward).toEqual([]);
    expect(graph.get('server/types.ts')?.filter((t) => t.startsWith('server/'))).toEqual([]);
  });
});
