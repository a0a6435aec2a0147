/**
 * What `scripts/export-charts.ts` writes: `spec/charts/<name>.mmd` and `<name>.json` for each
 * machine of the spec, and the generated charts block of spec/lifeline.md. Pure (no file access),
 * so charts.test.ts compares the same output with the files and fails when they are stale.
 */
import type { AnyStateMachine } from 'xstate';
import { clientConnectionMachine } from '../machines/client-connection.machine.js';
import { serverSessionMachine } from '../machines/server-session.machine.js';
import { machineToChart } from './chart.js';
import { machineToMermaid } from './mermaid.js';

export interface ChartedMachine {
  /** File stem under spec/charts/, and the machine file's stem under spec/machines/. */
  readonly name: string;
  readonly title: string;
  readonly machine: AnyStateMachine;
}

/** Every machine of the spec, in the order the spec shows them. */
export const chartedMachines: readonly ChartedMachine[] = [
  { name: 'server-session', title: 'Server session (§5–§13)', machine: serverSessionMachine },
  { name: 'client-connection', title: 'Client connection (§15)', machine: clientConnectionMachine },
];

/** File name (relative to spec/charts/) → content. */
export function renderChartFiles(machines: readonly ChartedMachine[] = chartedMachines): Map<string, string> {
  const files = new Map<string, string>();
  for (const { name, machine } of machines) {
    files.set(`${name}.mmd`, machineToMermaid(machine));
    files.set(`${name}.json`, `${JSON.stringify(machineToChart(machine), null, 2)}\n`);
  }
  return files;
}

const BEGIN = '<!-- BEGIN generated:charts (from spec/machines/*.machine.ts; npm run charts) -->';
const END = '<!-- END generated:charts -->';
const BLOCK = /<!-- BEGIN generated:charts[^>]*-->[\s\S]*?<!-- END generated:charts -->/;
/** The block sits right before this heading. */
export const CHARTS_ANCHOR = '## 18. Conformance';

/** The charts block of spec/lifeline.md, markers included. */
export function renderChartsBlock(machines: readonly ChartedMachine[] = chartedMachines): string {
  const parts = [
    BEGIN,
    '## State charts',
    '',
    'Generated from the machines in `spec/machines/`, which are part of this specification. Each edge',
    'reads `event [guard] (rule)`; `after(name)` is a named delay whose value comes from the options',
    '(§17); `done(actor)` / `error(actor)` end an invoked actor; `↺` marks a transition that runs',
    'actions without leaving the state. The JSON beside each diagram in `spec/charts/` lists every',
    'transition with its actions.',
  ];
  for (const { name, title, machine } of machines) {
    parts.push('', `### ${title}: \`spec/machines/${name}.machine.ts\``, '', '```mermaid', machineToMermaid(machine).trimEnd(), '```');
  }
  parts.push(END);
  return parts.join('\n');
}

/** Replaces the charts block, or inserts it right before §18 when there is none yet. */
export function refreshChartsBlock(markdown: string, machines: readonly ChartedMachine[] = chartedMachines): string {
  const block = renderChartsBlock(machines);
  if (BLOCK.test(markdown)) return markdown.replace(BLOCK, () => block);
  const at = markdown.indexOf(`\n${CHARTS_ANCHOR}\n`);
  if (at < 0) throw new Error(`spec/lifeline.md has no "${CHARTS_ANCHOR}" heading to put the charts before`);
  return `${markdown.slice(0, at + 1)}${block}\n\n${markdown.slice(at + 1)}`;
}
