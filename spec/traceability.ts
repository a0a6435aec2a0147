/**
 * Traceability (CONVENTIONS §4): the ids the spec defines, the ids code and tests
 * cite, and which ids a test or conformance case names first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ID_PATTERN = /\b(?:WIRE|HS|SEQ|HB|RS|SD|BP|CH|DR|CC|RC|SEC|MN|HT)-\d+\b/g;

export function definedIds(specMarkdown: string): string[] {
  return [...specMarkdown.matchAll(/^\*\*((?:[A-Z]+)-\d+)\*\*/gm)].map((m) => m[1] as string);
}

const SOURCE_DIRS = ['spec', 'server', 'client', 'conformance', 'bench', 'scripts', 'proto', 'testkit', 'e2e', 'demo'];

export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e === 'node_modules' || e.startsWith('.')) continue;
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|proto|json|md)$/.test(e)) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return out;
}

/** Every id cited anywhere in code, proto, tests and docs, with one place it is cited. */
export function citedIds(root: string): Map<string, string> {
  const cited = new Map<string, string>();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(ID_PATTERN)) {
      if (!cited.has(m[0])) cited.set(m[0], relative(root, file));
    }
  }
  return cited;
}

/** Ids that start a test title (`test('HB-3 …'`) or a conformance case id (`HB-3/…`). */
export function coveredIds(root: string): Set<string> {
  const covered = new Set<string>();
  const title = /\b(?:test|it)(?:\.\w+)?\(\s*(?:'|"|`)((?:[A-Z]+-\d+[ ,]*)+)/g;
  const caseId = /\bid:\s*'((?:[A-Z]+-\d+)(?:\+[A-Z]+-\d+)*)\//g;
  for (const file of sourceFiles(root)) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.test.ts')) {
      for (const m of text.matchAll(title)) for (const id of (m[1] as string).match(ID_PATTERN) ?? []) covered.add(id);
    }
    if (file.includes(`${'conformance'}/cases`)) {
      for (const m of text.matchAll(caseId)) for (const id of (m[1] as string).split('+')) covered.add(id);
    }
  }
  return covered;
}
