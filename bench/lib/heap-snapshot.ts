/**
 * Read a V8 .heapsnapshot without JSON.parse of the whole file (a server with 10,000 sessions writes
 * hundreds of MB, past V8's longest string), and say what its objects are and who holds them.
 *
 * Two groupings per snapshot (diffed by bench/probes/session-heap.ts against a baseline):
 * - `byClass`: self bytes by constructor (objects), function name (closures) or V8 type;
 * - `byOwner`: self bytes by the path from the nearest named owner, e.g.
 *   `LiveSession.inbound → ClientInbound` or `WebSocket._receiver._events → Object`, found on the
 *   shortest retaining path from the GC roots (weak edges ignored), so a Map's backing store or a
 *   closure's context is charged to the field that holds it.
 * - `byPart`: self bytes by the nearest named object (`LiveSession`, `WebSocket`, …), a partition.
 * And `retainedByClass`: the dominator-tree retained size of every instance of a named class.
 */
import { readFileSync } from 'node:fs';

interface Meta {
  readonly node_fields: string[];
  readonly node_types: [string[], ...unknown[]];
  readonly edge_fields: string[];
  readonly edge_types: [string[], ...unknown[]];
}

export interface Snapshot {
  readonly nodeFields: number;
  readonly edgeFields: number;
  readonly nodes: Uint32Array;
  readonly edges: Uint32Array;
  readonly strings: string[];
  readonly nodeTypes: string[];
  readonly edgeTypes: string[];
  readonly iType: number;
  readonly iName: number;
  readonly iSize: number;
  readonly iEdgeCount: number;
  readonly iEdgeType: number;
  readonly iEdgeName: number;
  readonly iEdgeTo: number;
  /** Source line (1-based) of each closure, by node number, from the snapshot's `locations`. */
  readonly lineOf: Map<number, number>;
  /** Index of each node's first edge (in edges, already × edgeFields). */
  readonly firstEdge: Uint32Array;
  readonly nodeCount: number;
}

/** Parse the unsigned integers of the array that follows `key` (e.g. `"nodes":[`); `count` of them, or all. */
function readInts(buf: Buffer, key: string, count?: number): Uint32Array {
  let i = buf.indexOf(key);
  if (i < 0) {
    if (count === undefined) return new Uint32Array(0);
    throw new Error(`heap snapshot: no ${key}`);
  }
  i += key.length;
  let out = new Uint32Array(count ?? 1024);
  let n = 0;
  let v = 0;
  let inNum = false;
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      inNum = true;
    } else {
      if (inNum) {
        if (n === out.length) {
          const grown = new Uint32Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[n++] = v;
        v = 0;
        inNum = false;
      }
      if (c === 93) break; // ']'
    }
  }
  if (count !== undefined && n !== count) throw new Error(`heap snapshot: ${key} has ${n} numbers, expected ${count}`);
  return out.subarray(0, n);
}

export function readSnapshot(path: string): Snapshot {
  const buf = readFileSync(path);
  const nodesAt = buf.indexOf('"nodes":[');
  const head = JSON.parse(`${buf.toString('utf8', 0, nodesAt).trim().replace(/,$/, '')}}`) as {
    snapshot: { meta: Meta; node_count: number; edge_count: number };
  };
  const meta = head.snapshot.meta;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const nodes = readInts(buf, '"nodes":[', head.snapshot.node_count * nodeFields);
  const edges = readInts(buf, '"edges":[', head.snapshot.edge_count * edgeFields);
  const stringsAt = buf.indexOf('"strings":[');
  const strings = JSON.parse(buf.toString('utf8', stringsAt + '"strings":'.length, buf.lastIndexOf(']') + 1)) as string[];
  const nodeCount = head.snapshot.node_count;
  const locationFields = (head.snapshot.meta as Meta & { location_fields?: string[] }).location_fields?.length ?? 4;
  const locations = readInts(buf, '"locations":[');
  const lineOf = new Map<number, number>();
  for (let i = 0; i + locationFields <= locations.length; i += locationFields) {
    lineOf.set((locations[i] as number) / nodeFields, (locations[i + 2] as number) + 1);
  }
  const iEdgeCount = meta.node_fields.indexOf('edge_count');
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let n = 0, e = 0; n < nodeCount; n++) {
    firstEdge[n] = e;
    e += (nodes[n * nodeFields + iEdgeCount] as number) * edgeFields;
    firstEdge[n + 1] = e;
  }
  return {
    nodeFields,
    edgeFields,
    nodes,
    edges,
    strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    iType: meta.node_fields.indexOf('type'),
    iName: meta.node_fields.indexOf('name'),
    iSize: meta.node_fields.indexOf('self_size'),
    iEdgeCount,
    iEdgeType: meta.edge_fields.indexOf('type'),
    iEdgeName: meta.edge_fields.indexOf('name_or_index'),
    iEdgeTo: meta.edge_fields.indexOf('to_node'),
    firstEdge,
    nodeCount,
    lineOf,
  };
}

/** Constructors and V8 types that say nothing about who allocated them: never an owner. */
const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', 'Promise', 'WeakMap', 'WeakSet', 'Function', 'system / Context']);

function typeOf(s: Snapshot, n: number): string {
  return s.nodeTypes[s.nodes[n * s.nodeFields + s.iType] as number] ?? '?';
}

function rawName(s: Snapshot, n: number): string {
  return s.strings[s.nodes[n * s.nodeFields + s.iName] as number] ?? '?';
}

/** What a node is: its constructor, `closure f`, or its V8 type (with the internal name of arrays and hidden objects). */
export function classOf(s: Snapshot, n: number): string {
  const type = typeOf(s, n);
  const name = rawName(s, n);
  switch (type) {
    case 'object':
    case 'native':
      return name.length > 60 ? `${name.slice(0, 57)}…` : name;
    case 'closure':
      return `closure ${name || '(anonymous)'} ${whereIs(s, n)}`;
    case 'array':
    case 'hidden':
    case 'synthetic':
      return `(${type}) ${name.replace(/\s*\/\s*\d+$/, '')}`.slice(0, 60);
    default:
      return `(${type})`;
  }
}

/** The node an edge named `name` of `n` points to, or -1. */
function follow(s: Snapshot, n: number, name: string): number {
  for (let e = s.firstEdge[n] as number; e < (s.firstEdge[n + 1] as number); e += s.edgeFields) {
    const type = s.edgeTypes[s.edges[e + s.iEdgeType] as number];
    if (type === 'element' || type === 'hidden') continue;
    if (s.strings[s.edges[e + s.iEdgeName] as number] === name) return (s.edges[e + s.iEdgeTo] as number) / s.nodeFields;
  }
  return -1;
}

const scriptNames = new WeakMap<Snapshot, Map<number, string>>();

/** `file:line` of a closure (closure → shared → script_or_debug_info → name), so anonymous closures can be told apart. */
function whereIs(s: Snapshot, n: number): string {
  const shared = follow(s, n, 'shared');
  let script = shared < 0 ? -1 : follow(s, shared, 'script_or_debug_info');
  if (script >= 0 && follow(s, script, 'name') < 0) script = follow(s, script, 'script'); // a DebugInfo: its script
  let names = scriptNames.get(s);
  if (!names) scriptNames.set(s, (names = new Map()));
  let file = names.get(script);
  if (file === undefined) {
    const name = script < 0 ? -1 : follow(s, script, 'name');
    const full = name < 0 ? '?' : rawName(s, name);
    // The repository-relative path (server/session.js), else node's own module name.
    file = full.replace(/^.*\/(?:\.bench-build\/)?(?=(?:server|spec|bench|gen|client|testkit)\/)/, '').replace(/^.*node_modules\//, '');
    names.set(script, file);
  }
  const line = s.lineOf.get(n);
  return `(${file}${line === undefined ? '' : `:${line}`})`;
}

function isOwner(s: Snapshot, n: number): boolean {
  const type = typeOf(s, n);
  if (type === 'closure') return true;
  if (type !== 'object') return false;
  const name = rawName(s, n);
  return !GENERIC.has(name) && !name.startsWith('system /') && !name.startsWith('(');
}

function edgeLabel(s: Snapshot, e: number): string {
  const type = s.edgeTypes[s.edges[e + s.iEdgeType] as number];
  const v = s.edges[e + s.iEdgeName] as number;
  if (type === 'element' || type === 'hidden') return '[]';
  const name = s.strings[v] ?? String(v);
  // A hash table's slots ("297", "17 / part of key … pair in WeakMap"): one label for all of them.
  return /^\d+(?: \/ |$)/.test(name) ? '[]' : name;
}

/** Edges a retaining path may use: not weak, not DevTools' shortcuts. */
function isStrong(s: Snapshot, e: number): boolean {
  const type = s.edgeTypes[s.edges[e + s.iEdgeType] as number];
  return type !== 'weak' && type !== 'shortcut';
}

export interface Group {
  count: number;
  bytes: number;
}

export interface Summary {
  readonly totalBytes: number;
  readonly byClass: Map<string, Group>;
  readonly byOwner: Map<string, Group>;
  /**
   * Self bytes by part: the class of the nearest named object (not a closure) on the shortest
   * retaining path, the node itself included. A partition: the parts add up to the total.
   */
  readonly byPart: Map<string, Group>;
  /** Retained bytes (dominator tree) summed over the instances of each owner class. */
  readonly retainedByClass: Map<string, Group>;
}

function add(m: Map<string, Group>, k: string, bytes: number): void {
  const g = m.get(k);
  if (g) {
    g.count++;
    g.bytes += bytes;
  } else m.set(k, { count: 1, bytes });
}

/** BFS from the root (node 0): each node's parent and the edge that reached it, on a shortest strong path. */
function shortestParents(s: Snapshot): { parent: Int32Array; via: Int32Array; order: Int32Array } {
  const parent = new Int32Array(s.nodeCount).fill(-1);
  const via = new Int32Array(s.nodeCount).fill(-1);
  const order = new Int32Array(s.nodeCount);
  let head = 0;
  let tail = 0;
  order[tail++] = 0;
  parent[0] = 0;
  while (head < tail) {
    const n = order[head++] as number;
    for (let e = s.firstEdge[n] as number; e < (s.firstEdge[n + 1] as number); e += s.edgeFields) {
      if (!isStrong(s, e)) continue;
      const to = (s.edges[e + s.iEdgeTo] as number) / s.nodeFields;
      if (parent[to] !== -1) continue;
      parent[to] = n;
      via[to] = e;
      order[tail++] = to;
    }
  }
  return { parent, via, order: order.subarray(0, tail) };
}

/**
 * Immediate dominators (Cooper, Harvey & Kennedy, "A Simple, Fast Dominance Algorithm") over the
 * strong edges, in reverse post-order from the root; unreachable nodes keep -1.
 */
function dominators(s: Snapshot): { idom: Int32Array; postOrder: Int32Array } {
  const N = s.nodeCount;
  // Post-order by an explicit DFS stack.
  const post = new Int32Array(N).fill(-1);
  const postOrder = new Int32Array(N);
  const visited = new Uint8Array(N);
  const stackNode = new Int32Array(N);
  const stackEdge = new Int32Array(N);
  let sp = 0;
  let count = 0;
  stackNode[sp] = 0;
  stackEdge[sp] = s.firstEdge[0] as number;
  sp++;
  visited[0] = 1;
  while (sp > 0) {
    const n = stackNode[sp - 1] as number;
    const e = stackEdge[sp - 1] as number;
    if (e < (s.firstEdge[n + 1] as number)) {
      stackEdge[sp - 1] = e + s.edgeFields;
      if (!isStrong(s, e)) continue;
      const to = (s.edges[e + s.iEdgeTo] as number) / s.nodeFields;
      if (visited[to]) continue;
      visited[to] = 1;
      stackNode[sp] = to;
      stackEdge[sp] = s.firstEdge[to] as number;
      sp++;
    } else {
      sp--;
      post[n] = count;
      postOrder[count++] = n;
    }
  }
  // Predecessors (strong edges between reachable nodes), as CSR.
  const predCount = new Uint32Array(N + 1);
  for (let n = 0; n < N; n++) {
    if (!visited[n]) continue;
    for (let e = s.firstEdge[n] as number; e < (s.firstEdge[n + 1] as number); e += s.edgeFields) {
      if (!isStrong(s, e)) continue;
      predCount[((s.edges[e + s.iEdgeTo] as number) / s.nodeFields) + 1]!++;
    }
  }
  for (let i = 0; i < N; i++) predCount[i + 1]! += predCount[i] as number;
  const preds = new Int32Array(predCount[N] as number);
  const fill = predCount.slice(0, N);
  for (let n = 0; n < N; n++) {
    if (!visited[n]) continue;
    for (let e = s.firstEdge[n] as number; e < (s.firstEdge[n + 1] as number); e += s.edgeFields) {
      if (!isStrong(s, e)) continue;
      const to = (s.edges[e + s.iEdgeTo] as number) / s.nodeFields;
      preds[fill[to]!++] = n;
    }
  }
  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while ((post[a] as number) < (post[b] as number)) a = idom[a] as number;
      while ((post[b] as number) < (post[a] as number)) b = idom[b] as number;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = count - 2; i >= 0; i--) {
      const n = postOrder[i] as number;
      let d = -1;
      for (let p = predCount[n] as number; p < (predCount[n + 1] as number); p++) {
        const pr = preds[p] as number;
        if (idom[pr] === -1) continue;
        d = d === -1 ? pr : intersect(pr, d);
      }
      if (d !== -1 && idom[n] !== d) {
        idom[n] = d;
        changed = true;
      }
    }
  }
  return { idom, postOrder: postOrder.subarray(0, count) };
}

export function summarise(s: Snapshot, opts: { readonly ownerDepth?: number; readonly retained?: boolean } = {}): Summary {
  const depth = opts.ownerDepth ?? 4;
  const { parent, via, order } = shortestParents(s);
  // Part of each reachable node, parents first (BFS order).
  const partOf = new Array<string>(s.nodeCount);
  for (const n of order) {
    partOf[n] = n === 0 ? '(root)' : isOwner(s, n) && typeOf(s, n) === 'object' ? classOf(s, n) : (partOf[parent[n] as number] ?? '(root)');
  }
  const byPart = new Map<string, Group>();
  const byClass = new Map<string, Group>();
  const byOwner = new Map<string, Group>();
  let totalBytes = 0;
  for (let n = 0; n < s.nodeCount; n++) {
    const bytes = s.nodes[n * s.nodeFields + s.iSize] as number;
    totalBytes += bytes;
    const cls = classOf(s, n);
    add(byClass, cls, bytes);
    // The path from the nearest named owner (at most `depth` fields up), then what this node is.
    const path: string[] = [];
    let at = n;
    let owner = 'unreachable';
    for (let d = 0; d < depth; d++) {
      const p = parent[at] as number;
      if (p < 0 || at === 0) break;
      path.unshift(edgeLabel(s, via[at] as number));
      if (p === 0) {
        owner = '(root)';
        break;
      }
      owner = classOf(s, p);
      if (isOwner(s, p)) break;
      at = p;
    }
    add(byOwner, `${owner}.${path.join('.')} → ${cls}`, bytes);
    add(byPart, partOf[n] ?? 'unreachable', bytes);
  }
  const retainedByClass = new Map<string, Group>();
  if (opts.retained ?? true) {
    const { idom, postOrder } = dominators(s);
    const retained = new Float64Array(s.nodeCount);
    for (let n = 0; n < s.nodeCount; n++) retained[n] = s.nodes[n * s.nodeFields + s.iSize] as number;
    for (const n of postOrder) {
      const d = idom[n] as number;
      if (n !== 0 && d >= 0) retained[d]! += retained[n] as number;
    }
    for (const n of postOrder) if (isOwner(s, n) && typeOf(s, n) === 'object') add(retainedByClass, classOf(s, n), retained[n] as number);
  }
  return { totalBytes, byClass, byOwner, byPart, retainedByClass };
}

export interface DiffRow {
  readonly name: string;
  /** Per unit (session): count and bytes, after minus before. */
  readonly count: number;
  readonly bytes: number;
}

/** `after − before`, divided by `per`, largest first. */
export function diff(before: Map<string, Group>, after: Map<string, Group>, per: number): DiffRow[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  const rows: DiffRow[] = [];
  for (const k of keys) {
    const a = after.get(k) ?? { count: 0, bytes: 0 };
    const b = before.get(k) ?? { count: 0, bytes: 0 };
    rows.push({ name: k, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
