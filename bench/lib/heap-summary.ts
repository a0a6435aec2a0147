/**
 * Summarise a V8 .heapsnapshot: self size and count per constructor / type,
 * to say what a session is made of (issue 7: report what in server/ is heavy).
 * `npx tsx bench/lib/heap-summary.ts <file> [top] [divideBy]`
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapRow {
  readonly name: string;
  readonly count: number;
  readonly selfBytes: number;
}

export function summariseHeap(path: string, top = 25): HeapRow[] {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const agg = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] as number] ?? '?';
    const rawName = snap.strings[snap.nodes[i + iName] as number] ?? '?';
    // Objects by constructor; strings, closures, arrays, code by type.
    const name = type === 'object' || type === 'native' ? rawName : type === 'closure' ? `closure ${rawName}` : `(${type})`;
    const a = agg.get(name) ?? { count: 0, bytes: 0 };
    a.count++;
    a.bytes += snap.nodes[i + iSize] as number;
    agg.set(name, a);
  }
  return [...agg.entries()]
    .map(([name, a]) => ({ name, count: a.count, selfBytes: a.bytes }))
    .sort((x, y) => y.selfBytes - x.selfBytes)
    .slice(0, top);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const per = Number(process.argv[4] ?? 1);
  for (const r of summariseHeap(process.argv[2] as string, Number(process.argv[3] ?? 30))) {
    console.log(`${(r.selfBytes / per).toFixed(0).padStart(9)} B  ${(r.count / per).toFixed(1).padStart(7)}×  ${r.name}`);
  }
}
