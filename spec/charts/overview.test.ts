import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { clientConnectionMachine } from '../machines/client-connection.machine.js';
import { machineToChart } from './chart.js';
import { childrenLine, compressEvents, machineOverviewToMermaid, overviewEdges, overviewFootnotes, topLevelStates } from './overview.js';

// A small machine: a compound and a parallel state, a guard that splits one event two ways,
// a transition from inside a compound state, and one of the machine itself.
const sample = setup({
  types: {} as { events: { type: 'go' } | { type: 'fail' } | { type: 'stop' } | { type: 'tick' } | { type: 'socket.closed' } | { type: 'socket.refused' } },
  guards: { isLast: () => false },
}).createMachine({
  id: 'sample',
  initial: 'idle',
  on: { stop: { target: '.done', meta: { spec: 'RC-9' } } },
  states: {
    idle: { on: { go: { target: 'busy', meta: { spec: 'RC-1' } } } },
    busy: {
      initial: 'loading',
      on: {
        fail: [
          { guard: 'isLast', target: 'given', meta: { spec: 'RC-3' } },
          { target: 'idle', meta: { spec: 'CC-2' } },
        ],
        'socket.closed': { target: 'idle', meta: { spec: 'CC-2' } },
        'socket.refused': { target: 'idle', meta: { spec: 'CC-2' } },
      },
      states: {
        loading: { on: { tick: 'loaded' } },
        loaded: { on: { tick: { target: '#sample.live', meta: { spec: 'HS-8' } } } },
      },
    },
    live: { type: 'parallel', states: { a: { initial: 'x', states: { x: {} } }, b: { initial: 'y', states: { y: {} } } } },
    given: {},
    done: { type: 'final' },
  },
});

describe('machine overview (top-level states only)', () => {
  const chart = machineToChart(sample);

  test('one node per top-level state; children listed under compound and parallel states', () => {
    const text = machineOverviewToMermaid(sample);
    for (const s of ['idle', 'busy', 'live', 'given', 'done']) expect(text).toContain(`state "${s}" as ${s}\n`);
    expect(text).not.toMatch(/state "(loading|loaded|a|b|x|y)"/);
    expect(text).toContain('busy: loading → loaded');
    expect(text).toContain('live: a ∥ b');
    expect(text).toContain('done: ← stop (RC-9) from every state');
    expect(text).toContain('done --> [*]');
    expect(text).not.toContain('note'); // Mermaid placed the note so that it pushed its state out of the drawing
  });

  test('edges are lifted to top-level states, merged, and keep out transitions inside one state', () => {
    const edges = overviewEdges(chart);
    expect(edges.map((e) => `${e.source}>${e.target}`)).toEqual(['idle>busy', 'busy>given', 'busy>idle', 'busy>live']);
    const back = edges.find((e) => e.target === 'idle' && e.source === 'busy');
    expect(back?.text).toBe('fail, socket.closed/refused');
    expect(back?.specs).toEqual(['CC-2']);
    // `fail` also leads to idle without a guard: the guard alone names this edge.
    expect(edges.find((e) => e.target === 'given')?.label).toBe('[isLast]');
    expect(edges.find((e) => e.target === 'live')).toMatchObject({ text: 'tick', label: 'tick', specs: ['HS-8'] });
  });

  test('a label longer than maxLabelChars becomes a footnote mark, listed with its spec ids', () => {
    const edges = overviewEdges(chart, { maxLabelChars: 10 });
    const back = edges.find((e) => e.target === 'idle' && e.source === 'busy');
    expect(back).toMatchObject({ label: '(1)', mark: '(1)' });
    expect(overviewFootnotes(edges)).toEqual(['(1) busy → idle: fail, socket.closed/refused (CC-2)']);
    expect(machineOverviewToMermaid(sample, { maxLabelChars: 10 })).toContain('busy --> idle: (1)');
  });

  test('a guarded edge whose events do not all lead elsewhere keeps its events', () => {
    const m = setup({ guards: { isOk: () => true } }).createMachine({
      initial: 'a',
      states: { a: { on: { go: { guard: 'isOk', target: 'b' } } }, b: {} },
    });
    expect(overviewEdges(machineToChart(m))[0]?.label).toBe('go [isOk]');
  });

  test('the client machine: every top-level state, connected titled with its regions, closed reached from everywhere', () => {
    const text = machineOverviewToMermaid(clientConnectionMachine);
    for (const s of ['idle', 'connecting', 'handshaking', 'connected', 'reconnecting', 'suspended', 'failed', 'closed']) {
      expect(text).toContain(`state "${s}" as ${s}\n`);
    }
    expect(text).toContain('connected: heartbeat ∥ probe ∥ liveness');
    expect(text).toContain('closed: ← app.close (RC-9) from every state');
    // Every drawn label is short; the long ones are footnotes that name every event.
    const edges = overviewEdges(machineToChart(clientConnectionMachine));
    for (const e of edges) expect(e.label.length).toBeLessThanOrEqual(24);
    const notes = overviewFootnotes(edges).join('\n');
    expect(notes).toContain('connected → reconnecting: socket.closed, frame.invalid, after(deadPeer) (CC-2, HB-4)');
  });

  test('helpers', () => {
    expect(compressEvents(['socket.closed', 'frame.invalid', 'socket.refused', 'after(x)'])).toEqual(['socket.closed/refused', 'frame.invalid', 'after(x)']);
    expect(topLevelStates({ connected: { heartbeat: 'waiting', liveness: 'alive' } })).toEqual(['connected']);
    expect(topLevelStates('idle')).toEqual(['idle']);
    expect(topLevelStates(undefined)).toEqual([]);
    const busy = machineToChart(sample).root.states.find((s) => s.key === 'busy');
    expect(busy && childrenLine(busy)).toBe('loading → loaded');
  });
});
