/**
 * The spec defines what the machines name (issue 18, question 1): every guard, action, delay and
 * actor in a machine's `setup` has a row in §18.7 of spec/lifeline.md, under that machine, with its
 * kind; and every row names something the machine has. The §4.2 role table is normative prose too:
 * the codec must agree with it cell by cell.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { EnvelopeSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { clientConnectionMachine } from './machines/client-connection.machine.js';
import { serverSessionMachine } from './machines/server-session.machine.js';
import { decode, type Role } from './protocol/codec.js';

const spec = readFileSync(new URL('./lifeline.md', import.meta.url), 'utf8');

/** The text of one `####` subsection of §18.7, found by the machine file it names. */
function vocabularySection(file: string): string {
  const start = spec.indexOf('### 18.7 Machine vocabulary');
  expect(start, '§18.7 Machine vocabulary is missing').toBeGreaterThan(0);
  const end = spec.indexOf('\n## ', start);
  const section = spec.slice(start, end);
  const parts = section.split('\n#### ');
  const part = parts.find((p) => p.split('\n')[0]?.includes(file));
  expect(part, `no §18.7 subsection for ${file}`).toBeDefined();
  return part as string;
}

/** `kind name` for every table row `| kind | \`name\` | meaning |` with a non-empty meaning. */
function rowsOf(section: string): Set<string> {
  const out = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^\| (guard|action|delay|actor|event) \| `([^`]+)` \| (.+) \|$/.exec(line);
    if (m && (m[3] ?? '').trim().length > 10) out.add(`${m[1]} ${m[2]}`);
  }
  return out;
}

/** `kind name` for everything the machine's setup names. */
function namedBy(machine: AnyStateMachine): Set<string> {
  const i = machine.implementations;
  const out = new Set<string>();
  for (const [kind, table] of [['guard', i.guards], ['action', i.actions], ['delay', i.delays], ['actor', i.actors]] as const) {
    for (const name of Object.keys(table ?? {})) out.add(`${kind} ${name}`);
  }
  return out;
}

describe('machine vocabulary (§18.7)', () => {
  for (const [file, machine] of [
    ['client-connection.machine.ts', clientConnectionMachine],
    ['server-session.machine.ts', serverSessionMachine],
  ] as const) {
    test(`RC-1 every guard, action, delay and actor of ${file} is defined in the spec, and nothing more`, () => {
      const defined = rowsOf(vocabularySection(file));
      const named = namedBy(machine as AnyStateMachine);
      expect(named.size).toBeGreaterThan(10);
      expect([...named].filter((n) => !defined.has(n)), 'named by the machine, not defined in §18.7').toEqual([]);
      const extra = [...defined].filter((d) => !d.startsWith('event ') && !named.has(d));
      expect(extra, 'defined in §18.7, not named by the machine').toEqual([]);
    });
  }

  test('RC-1 every event the client machine raises itself is defined in the spec', () => {
    const src = readFileSync(new URL('./machines/client-connection.machine.ts', import.meta.url), 'utf8');
    const raised = [...src.matchAll(/raise\(\{ type: '([^']+)' \}/g)].map((m) => `event ${m[1]}`);
    expect(raised.length).toBeGreaterThan(0);
    const defined = rowsOf(vocabularySection('client-connection.machine.ts'));
    expect(raised.filter((e) => !defined.has(e))).toEqual([]);
  });
});

describe('the §4.2 role table', () => {
  const table = spec.slice(spec.indexOf('### 4.2 Who may send what'), spec.indexOf('### 4.3'));
  const rows = table.split('\n').filter((l) => /^\| `[A-Z]/.test(l));

  test('WIRE-7 the codec refuses exactly the bodies the table gives no ✓ for that role', () => {
    expect(rows.length).toBeGreaterThanOrEqual(11);
    let checked = 0;
    for (const row of rows) {
      const cells = row.split('|').map((c) => c.trim());
      const bodies = [...(cells[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] as string);
      const allowed: Record<Role, boolean> = { client: cells[2] === '✓', server: cells[3] === '✓' };
      for (const body of bodies) {
        const field = EnvelopeSchema.fields.find((f) => f.oneof?.name === 'body' && f.message?.name === body);
        expect(field, `no Envelope body ${body}`).toBeDefined();
        // An empty body of that field: out of range for some bodies (WIRE-5), which the codec checks
        // after the role (§4.4 step 5 before step 6), so only a role refusal cites WIRE-7.
        const bytes = new Uint8Array([((field?.number ?? 0) << 3) | 2, 0]);
        for (const role of ['client', 'server'] as const) {
          const r = decode(bytes, { from: role });
          const isRoleRefusal = !r.ok && r.error.spec === 'WIRE-7';
          expect(isRoleRefusal, `${body} from ${role}`).toBe(!allowed[role]);
          checked++;
        }
      }
    }
    // Every body of every row, once per role: the table must name each body the schema has.
    const bodyCount = EnvelopeSchema.fields.filter((f) => f.oneof?.name === 'body').length;
    expect(checked).toBe(bodyCount * 2);
  });
});
