/**
 * The case catalogue: every case of both modes, in report order. The README
 * table, `lifeline conformance list` and spec coverage are all computed from it.
 */
import { clientCases } from './cases/client/index.js';
import { serverCases } from './cases/server/index.js';
import type { Case, CaseContext } from './framework/types.js';

export const catalogue: readonly Case<CaseContext>[] = [
  ...(serverCases as readonly Case<never>[] as readonly Case<CaseContext>[]),
  ...(clientCases as readonly Case<never>[] as readonly Case<CaseContext>[]),
];

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/**
 * Cases selected by `--case` patterns: a case id, a glob over ids
 * (`HB-*`, `BP-*drop*`), or a spec id (`HB-3`: every case that checks it).
 */
export function selectCases(patterns: readonly string[], cases: readonly Case<CaseContext>[] = catalogue): Case<CaseContext>[] {
  if (patterns.length === 0) return [...cases];
  const res = patterns.flatMap((p) => p.split(',')).filter(Boolean).map((p) => ({ p, re: globToRegExp(p) }));
  return cases.filter((c) => res.some(({ p, re }) => re.test(c.id) || c.spec.includes(p)));
}
