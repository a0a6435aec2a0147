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

const IDLE = new Set(['(idle)', '(program)']);

function fileOf(n: Node): string {
  return n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/work\/main\//, '') || '(native)';
}

/** Package or top directory a frame belongs to: 'xstate', 'ws', 'server', 'spec', 'node:internal', … */
function groupOf(file: string): string {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (m) return m[1] as string;
  if (file.startsWith('node:')) return 'node internals';
  if (file === '(native)') return 'native (GC, syscalls)';
  return file.split('/')[0] ?? file;
}

function load(path: string) {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let busy = 0;
  for (const [id, c] of counts) if (!IDLE.has(byId.get(id)?.callFrame.functionName ?? '')) busy += c;
  return { byId, counts, busy: busy || 1 };
}

/** Self time per function, as % of the busy (non-idle) samples. */
export function summariseProfile(path: string, top = 15): Hot[] {
  const { byId, counts, busy } = load(path);
  const agg = new Map<string, number>();
  for (const [id, c] of counts) {
    const n = byId.get(id);
    if (!n || IDLE.has(n.callFrame.functionName)) continue;
    const key = `${fileOf(n)}:${n.callFrame.functionName || '(anonymous)'}`;
    agg.set(key, (agg.get(key) ?? 0) + c);
  }
  return [...agg.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, c]) => ({ where, selfPct: (100 * c) / busy }));
}

/** Self time per package / top directory, as % of the busy samples. */
export function summariseByGroup(path: string): Hot[] {
  const { byId, counts, busy } = load(path);
  const agg = new Map<string, number>();
  for (const [id, c] of counts) {
    const n = byId.get(id);
    if (!n || IDLE.has(n.callFrame.functionName)) continue;
    const g = groupOf(fileOf(n));
    agg.set(g, (agg.get(g) ?? 0) + c);
  }
  return [...agg.entries()].sort((a, b) => b[1] - a[1]).map(([where, c]) => ({ where, selfPct: (100 * c) / busy }));
}

/**
 * Inclusive time of functions whose name matches, as % of busy samples: a sample
 * counts once if any frame on its stack matches (e.g. 'actor.send' cost).
 */
export function inclusiveShare(path: string, match: (fileAndFn: string) => boolean): number {
  const { byId, counts, busy } = load(path);
  const parent = new Map<number, number>();
  for (const n of byId.values()) for (const c of n.children ?? []) parent.set(c, n.id);
  let hit = 0;
  for (const [id, c] of counts) {
    const leaf = byId.get(id);
    if (!leaf || IDLE.has(leaf.callFrame.functionName)) continue;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n && match(`${fileOf(n)}:${n.callFrame.functionName}`)) {
        hit += c;
        break;
      }
    }
  }
  return (100 * hit) / busy;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] as string;
  console.log('self time by package / directory (% of busy samples):');
  for (const h of summariseByGroup(file)) console.log(`${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}`);
  console.log('\nself time by function:');
  for (const h of summariseProfile(file, Number(process.argv[3] ?? 25))) console.log(`${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}`);
  for (const pat of process.argv.slice(4)) {
    console.log(`inclusive ${pat}: ${inclusiveShare(file, (s) => s.includes(pat)).toFixed(1)}%`);
  }
}
