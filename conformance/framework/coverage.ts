/**
 * Spec coverage: which testable MUST ids of spec/lifeline.md have at least one
 * conformance case. An id is testable unless listed here with the reason a
 * black-box suite cannot observe it.
 */
import { readFileSync } from 'node:fs';
import type { Case } from './types.js';

/** MUST ids a suite on the wire cannot check, and why. */
export const UNTESTABLE: Readonly<Record<string, string>> = {
  'SEC-2': 'logging of tokens is not observable on the wire',
  'RC-1': 'a definition of the client states; the cases use the states, the rule has nothing to violate',
  'SEC-1': 'a deployment obligation (when to have an allowlist); HS-2 checks the allowlist itself',
  'SEQ-1': 'a definition of which bodies are sequenced; SEQ-2 checks the numbering',
  'HS-13': 'single-use tickets need the implementation to issue them; covered only when the tickets hook is declared',
  'MN-10': "a channel's history bound is the broker's setting, not declared: a case cannot trim it on purpose",
  'MN-6': 'needs the shared store taken away, which the declaration gives the runner no way to do',
  'MN-7': 'needs a node killed (SIGKILL), which the declaration gives the runner no way to do',
  'MN-8': 'needs the shared store restarted or restored, which the declaration gives the runner no way to do',
  'MN-12': 'needs the shared store taken away, which the declaration gives the runner no way to do',
  'MN-13': "the broker's publish API is the application's, not the wire's; needs the broker taken away",
  'MN-14': 'needs the store taken away; the readiness endpoint is not part of the declaration',
  'MN-18': 'needs a node killed, slowed or cut off from the store, which the declaration gives the runner no way to do',
};

export interface SpecRule {
  readonly id: string;
  readonly level: 'MUST' | 'SHOULD' | 'MAY';
  readonly text: string;
}

/** Rules of the spec with their strongest keyword. */
export function specRules(markdown: string): SpecRule[] {
  const rules: SpecRule[] = [];
  const re = /^\*\*([A-Z]+-\d+)\*\*([\s\S]*?)(?=\n\s*\n|\n\*\*[A-Z]+-\d+\*\*|$)/gm;
  for (const m of markdown.matchAll(re)) {
    const text = (m[2] ?? '').replace(/\s+/g, ' ').trim();
    const level = /\bMUST\b/.test(text) ? 'MUST' : /\bSHOULD\b/.test(text) ? 'SHOULD' : 'MAY';
    rules.push({ id: m[1] as string, level, text });
  }
  return rules;
}

export function readSpecRules(): SpecRule[] {
  return specRules(readFileSync(new URL('../../spec/lifeline.md', import.meta.url), 'utf8'));
}

export interface Coverage {
  readonly testableMust: number;
  readonly covered: readonly string[];
  readonly uncovered: readonly string[];
  readonly untestable: Readonly<Record<string, string>>;
  /** For each covered id, the cases that check it. */
  readonly byId: Readonly<Record<string, readonly string[]>>;
}

export function computeCoverage(cases: readonly Case[], rules: readonly SpecRule[] = readSpecRules()): Coverage {
  const byId: Record<string, string[]> = {};
  for (const c of cases) for (const id of c.spec) (byId[id] ??= []).push(c.id);
  const testable = rules.filter((r) => r.level === 'MUST' && !(r.id in UNTESTABLE) || (r.id in UNTESTABLE && byId[r.id]));
  const covered = testable.filter((r) => byId[r.id]).map((r) => r.id);
  const uncovered = testable.filter((r) => !byId[r.id]).map((r) => r.id);
  const untestable = Object.fromEntries(Object.entries(UNTESTABLE).filter(([id]) => !byId[id]));
  return { testableMust: testable.length, covered, uncovered, untestable, byId };
}
