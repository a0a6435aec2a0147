/**
 * Draws a machine as a Mermaid `stateDiagram-v2`: nested states as composites, parallel regions
 * separated by `--`, each transition labelled `event [guard] (SPEC-ID)`, delays as `after(name)`,
 * transitions that only run actions (no target) written inside their state as `↺ event (SPEC-ID)`.
 *
 * Browser-safe (no Node API): the demo page renders the live chart from the machine with it and
 * highlights the current state with `highlightStates`.
 */
import type { AnyStateMachine } from 'xstate';
import { machineToChart, type Chart, type ChartState, type ChartTransition } from './chart.js';

export interface MermaidOptions {
  /** Layout direction of the whole diagram; Mermaid's default (top to bottom) when absent. */
  readonly direction?: 'TB' | 'LR';
}

/** The machine as Mermaid `stateDiagram-v2` source. Pure: same machine, same text. */
export function machineToMermaid(machine: AnyStateMachine, options: MermaidOptions = {}): string {
  return chartToMermaid(machineToChart(machine), options);
}

/** Mermaid node id of a state path: `attached.phase.draining` → `attached_phase_draining`. */
export function mermaidId(path: string): string {
  return path === '' ? 'root' : path.replace(/\./g, '_');
}

export function chartToMermaid(chart: Chart, options: MermaidOptions = {}): string {
  const lines: string[] = ['stateDiagram-v2'];
  if (options.direction) lines.push(`  direction ${options.direction}`);
  declareChildren(chart.root, lines, '  ');
  // Transitions of the machine itself apply in every state: a note on their target says so
  // (Mermaid has no node for the whole machine to draw them from).
  for (const [target, ts] of groupBy(chart.root.transitions.filter((t) => t.targets.length > 0), (t) => t.targets[0] as string)) {
    lines.push(`  note right of ${mermaidId(target)}`, ...ts.map((t) => `    from every state: ${transitionLabel(t)}`), '  end note');
  }
  // Transitions after every state is declared, so each state's parent is fixed by its declaration.
  // One edge per (source, target), its label one line per guard and spec id, so that the 17 ways
  // from handshaking to closed read as a list instead of a fan of 17 arrows.
  const edges = allTransitions(chart.root)
    .filter((t) => t.source !== '')
    .flatMap((t) => t.targets.map((target) => ({ t, key: `${mermaidId(t.source)} --> ${mermaidId(target)}` })));
  for (const [key, group] of groupBy(edges, (e) => e.key)) {
    lines.push(`  ${key}: ${edgeLabel(group.map((e) => e.t))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Lines of a merged edge: events that share a guard and spec id are listed on one line. */
function edgeLabel(ts: readonly ChartTransition[]): string {
  const lines: string[] = [];
  for (const [, same] of groupBy(ts, (t) => `${t.guard ?? ''}|${t.spec ?? ''}`)) {
    const first = same[0] as ChartTransition;
    for (let i = 0; i < same.length; i += EVENTS_PER_LINE) {
      const events = same.slice(i, i + EVENTS_PER_LINE).map((t) => t.event).join(', ');
      lines.push(transitionLabel({ ...first, event: events }));
    }
  }
  return lines.join('<br/>');
}

const EVENTS_PER_LINE = 3;

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** `frame.hello [!isVersionSupported] (HS-11)`. */
export function transitionLabel(t: ChartTransition): string {
  const guard = t.guard !== undefined ? ` [${t.guard}]` : '';
  const spec = t.spec !== undefined ? ` (${t.spec})` : '';
  return clean(`${t.event}${guard}${spec}`);
}

function declareChildren(state: ChartState, lines: string[], indent: string): void {
  const children = state.states;
  if (state.type === 'parallel') {
    children.forEach((region, i) => {
      if (i > 0) lines.push(`${indent}--`);
      declareState(region, lines, indent);
    });
    return;
  }
  const initial = children.find((c) => c.key === state.initial) ?? (state.path === '' ? children[0] : undefined);
  if (initial) lines.push(`${indent}[*] --> ${mermaidId(initial.path)}`);
  for (const child of children) declareState(child, lines, indent);
  for (const child of children) if (child.type === 'final') lines.push(`${indent}${mermaidId(child.path)} --> [*]`);
}

function declareState(state: ChartState, lines: string[], indent: string): void {
  const id = mermaidId(state.path);
  // Always named: a state with a description line would otherwise show only the description.
  lines.push(`${indent}state "${clean(state.key)}" as ${id}`);
  if (state.states.length > 0) {
    lines.push(`${indent}state ${id} {`);
    declareChildren(state, lines, `${indent}  `);
    lines.push(`${indent}}`);
  }
  const internal = state.transitions.filter((t) => t.targets.length === 0);
  if (internal.length === 0) return;
  if (state.states.length > 0) {
    // A composite draws no description text: its internal transitions go in a note beside it.
    lines.push(`${indent}note left of ${id}`);
    for (const t of internal) lines.push(`${indent}  ↺ ${transitionLabel(t)}`);
    lines.push(`${indent}end note`);
  } else {
    for (const t of internal) lines.push(`${indent}${id}: ↺ ${transitionLabel(t)}`);
  }
}

function allTransitions(state: ChartState): ChartTransition[] {
  return [...state.transitions, ...state.states.flatMap(allTransitions)];
}

/** Mermaid reads `;` as a statement end and `#` as an entity start; neither belongs in a label. */
function clean(text: string): string {
  return text.replace(/[;#]/g, ' ').replace(/"/g, "'");
}

/**
 * Mermaid `class` lines that highlight the given state paths (the live state of an actor), for the
 * demo page: append them to the diagram text before rendering.
 */
export function highlightStates(paths: readonly string[], className = 'current'): string {
  if (paths.length === 0) return '';
  return [
    `  classDef ${className} fill:#ffd54f,stroke:#e65100,stroke-width:3px`,
    `  class ${paths.map(mermaidId).join(',')} ${className}`,
  ].join('\n') + '\n';
}

/**
 * The dotted paths of the active leaf states of an actor snapshot's `value` (for highlightStates):
 * `{ attached: { phase: 'draining', flow: 'flowing' } }` → `attached.phase.draining`, `attached.flow.flowing`.
 * Leaves only: highlighting a composite would fill its whole box.
 */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix === '' ? value : `${prefix}.${value}`];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, sub]) =>
    activePaths(sub, prefix === '' ? key : `${prefix}.${key}`),
  );
}
