/**
 * Summarise a V8 .cpuprofile (node --cpu-prof): self time per function, top N,
 * as "file:function  % of samples". Used to report hot spots (issue 7 asks for
 * file:function and % of samples where a target is missed).
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface Hot {
  readonly where: string;
  readonly selfPct: number;
}

export function summariseProfile(path: string, top = 15): Hot[] {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = prof.samples.length || 1;
  const agg = new Map<string, number>();
  for (const [id, c] of counts) {
    const n = byId.get(id);
    if (!n) continue;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/work\/main\//, '');
    const key = `${url || '(native)'}:${n.callFrame.functionName || '(anonymous)'}:${n.callFrame.lineNumber + 1}`;
    agg.set(key, (agg.get(key) ?? 0) + c);
  }
  return [...agg.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, c]) => ({ where, selfPct: (100 * c) / total }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const h of summariseProfile(process.argv[2] as string, Number(process.argv[3] ?? 20))) {
    console.log(`${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}`);
  }
}
