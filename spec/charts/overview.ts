/**
 * A compact chart of a machine: its top-level states only, for a live view that must stay legible
 * at the size of a page (the demo, issue 17). The full chart of the client machine
 * (`machineToMermaid`: every leaf, every transition) is 3018 × 1799 px; fitted to a 1300 px wide
 * page its labels were 6.9 px high. Here:
 *
 * - each top-level state is one node, named; a compound state's children are listed under its
 *   name (`authorizing → opening`, parallel regions as `heartbeat ∥ liveness`), so a live view
 *   names the active leaf beside the chart instead of drawing it;
 * - a transition between top-level states is one edge per (source, target), standing for every
 *   transition that leaves the source or a state inside it for the target or a state inside it;
 *   transitions that stay inside one top-level state are left out (the full chart has them);
 * - an edge is labelled by its events (`socket.closed/refused` for events of one source), with
 *   the guard when there is one; an edge whose events all also lead elsewhere without a guard is
 *   labelled by its guard alone (`[isLastAttempt]`: the guard is what tells the two apart); a
 *   label longer than `maxLabelChars` becomes a footnote mark (`(1)`) listed by `overviewFootnotes`;
 * - a transition of the machine itself (`app.close` from every state) is written under its
 *   target's name instead of in a note (Mermaid placed the full chart's note so that it pushed
 *   `closed` out of the drawing).
 *
 * Pure and browser-safe, like mermaid.ts: the demo page draws it from the machine at run time.
 */
import type { AnyStateMachine } from 'xstate';
import { machineToChart, type Chart, type ChartState, type ChartTransition } from './chart.js';
import { mermaidId, transitionLabel, type MermaidOptions } from './mermaid.js';

export interface OverviewOptions extends MermaidOptions {
  /** Longest edge label drawn on the edge; a longer one becomes a footnote mark. Default 24. */
  readonly maxLabelChars?: number;
}

/** One edge of the overview. */
export interface OverviewEdge {
  /** Top-level state paths. */
  readonly source: string;
  readonly target: string;
  /** Every event of the edge, grouped by guard: `socket.closed/refused, error(getToken) [isLastAttempt]`. */
  readonly text: string;
  /** What the chart writes on the edge: `text`, the guard alone, or a footnote mark. */
  readonly label: string;
  /** The footnote mark (`(1)`) when `text` is too long for the edge. */
  readonly mark?: string;
  /** Spec ids of the transitions the edge stands for, each once, in machine order. */
  readonly specs: readonly string[];
}

interface EdgeGroup {
  readonly source: string;
  readonly target: string;
  /** Guard ('' for none) → events, in machine order. */
  readonly byGuard: Map<string, string[]>;
  readonly specs: string[];
}


/** The edges between top-level states, in the order their first transition appears in the machine. */
export function overviewEdges(chart: Chart, options: OverviewOptions = {}): OverviewEdge[] {
  const groups = new Map<string, EdgeGroup>();
  for (const t of allTransitions(chart.root)) {
    const source = topOf(t.source);
    if (source === '') continue; // the machine's own transitions: written under their target
    for (const target of new Set(t.targets.map(topOf))) {
      if (target === source || target === '') continue; // inside one top-level state
      const key = `${source}>${target}`;
      const g = groups.get(key) ?? { source, target, byGuard: new Map<string, string[]>(), specs: [] };
      const events = g.byGuard.get(t.guard ?? '') ?? [];
      for (const e of t.event.split(', ')) if (!events.includes(e)) events.push(e);
      g.byGuard.set(t.guard ?? '', events);
      if (t.spec !== undefined && !g.specs.includes(t.spec)) g.specs.push(t.spec);
      groups.set(key, g);
    }
  }
  const maxChars = options.maxLabelChars ?? 24;
  let marks = 0;
  return [...groups.values()].map((g) => {
    const text = [...g.byGuard].map(([guard, events]) => `${compressEvents(events).join(', ')}${guard === '' ? '' : ` [${guard}]`}`).join('; ');
    const short = guardOnly(g, groups) ?? text;
    if (short.length <= maxChars) return { source: g.source, target: g.target, text, label: short, specs: g.specs };
    // `(1)`, not `①`: the circled digits are drawn at half the height of the text around them.
    const mark = `(${++marks})`;
    return { source: g.source, target: g.target, text, label: mark, mark, specs: g.specs };
  });
}

/**
 * `[guard]` when the edge is taken under one guard only, for events that all also leave the same
 * source without a guard (to another target): the guard alone tells the two edges apart.
 */
function guardOnly(g: EdgeGroup, groups: ReadonlyMap<string, EdgeGroup>): string | undefined {
  if (g.byGuard.size !== 1 || g.byGuard.has('')) return undefined;
  const [guard, events] = [...g.byGuard][0] as [string, string[]];
  const unguarded = new Set([...groups.values()].filter((o) => o.source === g.source && o !== g).flatMap((o) => o.byGuard.get('') ?? []));
  return events.every((e) => unguarded.has(e)) ? `[${guard}]` : undefined;
}

/** The footnotes of the marked edges: `(1) connecting → reconnecting: socket.closed/refused, … (CC-2, RC-5)`. */
export function overviewFootnotes(edges: readonly OverviewEdge[]): string[] {
  return edges
    .filter((e) => e.mark !== undefined)
    .map((e) => `${e.mark} ${e.source} → ${e.target}: ${e.text}${e.specs.length > 0 ? ` (${e.specs.join(', ')})` : ''}`);
}

/** `socket.closed`, `socket.refused` → `socket.closed/refused`: events of one source share their prefix. */
export function compressEvents(events: readonly string[]): string[] {
  const out: { prefix: string; names: string[] }[] = [];
  for (const e of events) {
    const m = /^([A-Za-z]+)\.([A-Za-z]+)$/.exec(e);
    const same = m ? out.find((o) => o.prefix === m[1]) : undefined;
    if (m && same) same.names.push(m[2] as string);
    else if (m) out.push({ prefix: m[1] as string, names: [m[2] as string] });
    else out.push({ prefix: '', names: [e] });
  }
  return out.map((o) => (o.prefix === '' ? (o.names[0] as string) : `${o.prefix}.${o.names.join('/')}`));
}

/** The machine's top-level states as Mermaid `stateDiagram-v2` source. Pure: same machine, same text. */
export function machineOverviewToMermaid(machine: AnyStateMachine, options: OverviewOptions = {}): string {
  return chartOverviewToMermaid(machineToChart(machine), options);
}

export function chartOverviewToMermaid(chart: Chart, options: OverviewOptions = {}): string {
  const lines: string[] = ['stateDiagram-v2'];
  if (options.direction) lines.push(`  direction ${options.direction}`);
  const root = chart.root;
  const initial = root.states.find((s) => s.key === root.initial) ?? root.states[0];
  if (initial) lines.push(`  [*] --> ${mermaidId(initial.path)}`);
  const fromEverywhere = root.transitions.filter((t) => t.targets.length > 0);
  for (const s of root.states) {
    const id = mermaidId(s.path);
    lines.push(`  state "${clean(s.key)}" as ${id}`);
    const inside = childrenLine(s);
    if (inside !== undefined) lines.push(`  ${id}: ${inside}`);
    for (const t of fromEverywhere) if (t.targets.map(topOf).includes(s.path)) lines.push(`  ${id}: ← ${transitionLabel(t)} from every state`);
  }
  for (const s of root.states) if (s.type === 'final') lines.push(`  ${mermaidId(s.path)} --> [*]`);
  for (const e of overviewEdges(chart, options)) lines.push(`  ${mermaidId(e.source)} --> ${mermaidId(e.target)}: ${clean(e.label)}`);
  return `${lines.join('\n')}\n`;
}

/** `authorizing → opening` for a compound state (initial first), `heartbeat ∥ liveness` for a parallel one. */
export function childrenLine(s: ChartState): string | undefined {
  if (s.states.length === 0) return undefined;
  if (s.type === 'parallel') return clean(s.states.map((r) => r.key).join(' ∥ '));
  const first = s.states.find((c) => c.key === s.initial);
  const rest = s.states.filter((c) => c !== first);
  return clean([...(first ? [first] : []), ...rest].map((c) => c.key).join(' → '));
}

/**
 * The top-level states of an actor snapshot's `value`: `{ connected: {…} }` → `['connected']`.
 * What the overview highlights.
 */
export function topLevelStates(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value);
}

function topOf(path: string): string {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

function allTransitions(state: ChartState): ChartTransition[] {
  return [...state.transitions, ...state.states.flatMap(allTransitions)];
}

/** Mermaid reads `;` as a statement end and `#` as an entity start; neither belongs in a label. */
function clean(text: string): string {
  return text.replace(/[;#]/g, ' ').replace(/"/g, "'");
}
