/**
 * `npm run check:cycles`: fails on any import cycle among the TypeScript modules of the library
 * folders (issue 12, deliverable 6). Read with TypeScript's own parser, so nothing to install;
 * type-only imports count (`import type`, `export type … from`): a type cycle is still a knot a
 * reader has to untie, and it turns into a load-order cycle the day someone drops a `type`.
 * Dynamic `import()` does not count: it is how a module loads another lazily, at call time.
 *
 *   npx tsx scripts/check-cycles.ts [folder ...]   (default: server client spec conformance)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export type ImportGraph = ReadonlyMap<string, readonly string[]>;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_FOLDERS = ['server', 'client', 'spec', 'conformance'];
const SKIP_DIRS = new Set(['node_modules', 'dist', '.bench-build', '.git']);

/**
 * Static import and re-export specifiers of one file, type-only ones included; with `dynamic`, also
 * `import('…')` with a literal path (a boundary holds for lazy loads too; a cycle does not).
 */
export function importSpecifiers(fileName: string, text: string, dynamic = false): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, dynamic, ts.ScriptKind.TS);
  const out: string[] = [];
  if (dynamic) {
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        if (arg && ts.isStringLiteralLike(arg)) out.push(arg.text);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        out.push(node.argument.literal.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  for (const st of source.statements) {
    if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      out.push(st.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(st) && ts.isExternalModuleReference(st.moduleReference) && ts.isStringLiteral(st.moduleReference.expression)) {
      out.push(st.moduleReference.expression.text);
    }
  }
  return out;
}

/** A relative specifier as the file it names (`./x.js` → `x.ts`, `./dir` → `dir/index.ts`); undefined for packages. */
function resolveSpecifier(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), spec);
  const stem = base.replace(/\.(c|m)?(j|t)sx?$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, 'index.ts')];
  return candidates.find((c) => /\.(m|c)?tsx?$/.test(c) && existsSync(c) && statSync(c).isFile());
}

function tsFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (/\.(m|c)?tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * The import graph of the given folders, followed wherever their imports lead (a cycle through
 * another folder still counts). Keys and targets are paths relative to `root`, with '/'. With
 * `dynamic`, lazy `import()`s are edges too (for boundary checks, not for cycles).
 */
export function buildGraph(root: string, folders: readonly string[], opts: { readonly dynamic?: boolean } = {}): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const rel = (p: string) => relative(root, p).split(sep).join('/');
  const todo = folders.flatMap((f) => tsFiles(join(root, f)));
  while (todo.length > 0) {
    const file = todo.pop()!;
    const key = rel(file);
    if (graph.has(key)) continue;
    const targets = new Set<string>();
    for (const spec of importSpecifiers(file, readFileSync(file, 'utf8'), opts.dynamic)) {
      const target = resolveSpecifier(file, spec);
      if (target === undefined) continue;
      targets.add(rel(target));
      todo.push(target);
    }
    graph.set(key, [...targets].sort());
  }
  return graph;
}

/**
 * Every import cycle, one per strongly connected component (Tarjan), each given as one closed
 * path through it (`a → b → a`) so the message names a loop to cut, and the component's files.
 */
export function findCycles(graph: ImportGraph): { readonly path: readonly string[]; readonly members: readonly string[] }[] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const start of [...graph.keys()].sort()) {
    if (idx.has(start)) continue;
    const frames: { node: string; next: number }[] = [{ node: start, next: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.next < edges.length) {
        const to = edges[frame.next++]!;
        if (!idx.has(to)) {
          idx.set(to, index);
          low.set(to, index++);
          stack.push(to);
          onStack.add(to);
          frames.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, idx.get(to)!));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === idx.get(frame.node)) {
        const comp: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          comp.push(n);
        } while (n !== frame.node);
        const selfLoop = comp.length === 1 && (graph.get(comp[0]!) ?? []).includes(comp[0]!);
        if (comp.length > 1 || selfLoop) components.push(comp.sort());
      }
    }
  }
  components.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return components.map((comp) => ({ path: closedPath(graph, new Set(comp), comp[0]!), members: comp }));
}

/** The shortest path from `start` back to itself inside one component (breadth first). */
function closedPath(graph: ImportGraph, comp: ReadonlySet<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i]!;
    for (const to of graph.get(n) ?? []) {
      if (!comp.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let m: string | undefined = n; m !== undefined && m !== start; m = prev.get(m)) path.splice(1, 0, m);
        return [...path, start];
      }
      if (!prev.has(to)) {
        prev.set(to, n);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

function main(argv: readonly string[]): number {
  const folders = argv.length > 0 ? argv : DEFAULT_FOLDERS;
  const graph = buildGraph(ROOT, folders);
  const cycles = findCycles(graph);
  if (cycles.length === 0) {
    console.log(`check:cycles: no import cycle among ${graph.size} modules (${folders.join(', ')} and what they import)`);
    return 0;
  }
  console.error(`check:cycles: ${cycles.length} import cycle(s) (type-only imports count):`);
  for (const c of cycles) {
    console.error(`  ${c.path.join(' → ')}`);
    if (c.members.length > c.path.length - 1) console.error(`    (${c.members.length} files in this knot: ${c.members.join(', ')})`);
  }
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
