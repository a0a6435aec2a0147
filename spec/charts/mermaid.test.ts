import { describe, expect, test } from 'vitest';
import { and, assign, fromPromise, not, setup } from 'xstate';
import { serverSessionMachine } from '../machines/server-session.machine.js';
import { chartStates, machineToChart } from './chart.js';
import { activePaths, highlightStates, machineToMermaid, mermaidId, transitionLabel } from './mermaid.js';

// A small machine with every construct the spec's machines use.
const sample = setup({
  types: {} as { context: { n: number }; events: { type: 'go' } | { type: 'stop' } | { type: 'poke' } },
  actors: { fetchToken: fromPromise(async () => 'token') },
  guards: { isReady: () => true, isLate: () => false },
  delays: { retryDelay: 10 },
  actions: { say: (_, _p: { word: string }) => {}, ping: () => {} },
}).createMachine({
  id: 'sample',
  context: { n: 0 },
  initial: 'idle',
  on: { stop: { target: '.done', meta: { spec: 'RC-9' } } },
  states: {
    idle: {
      on: {
        go: [
          { guard: not('isReady'), target: 'idle', reenter: true, meta: { spec: 'RC-1' } },
          { guard: and(['isReady', not('isLate')]), target: 'busy', actions: { type: 'say', params: { word: 'hi' } }, meta: { spec: 'RC-2' } },
        ],
        poke: { actions: 'ping', meta: { spec: 'HB-8' } },
      },
    },
    busy: {
      type: 'parallel',
      on: { poke: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
      states: {
        fetch: {
          initial: 'loading',
          states: {
            loading: {
              invoke: { src: 'fetchToken', onDone: { target: 'loaded', meta: { spec: 'RC-5' } }, onError: { target: '#sample.idle' } },
            },
            loaded: { after: { retryDelay: { target: 'loading', meta: { spec: 'RC-2' } } } },
          },
        },
        beat: { initial: 'waiting', states: { waiting: { always: { guard: 'isReady', target: 'waiting' } } } },
      },
    },
    done: { type: 'final' },
  },
});

describe('machineToChart', () => {
  const chart = machineToChart(sample);

  test('reads nested and parallel states with their types and initial children', () => {
    const byPath = new Map(chartStates(chart).map((s) => [s.path, s]));
    expect(byPath.get('')?.type).toBe('compound');
    expect(byPath.get('')?.initial).toBe('idle');
    expect(byPath.get('busy')?.type).toBe('parallel');
    expect(byPath.get('busy.fetch')?.initial).toBe('loading');
    expect(byPath.get('busy.fetch.loading')?.invoke).toEqual(['fetchToken']);
    expect(byPath.get('done')?.type).toBe('final');
  });

  test('labels events, guards, actions and spec ids as the spec reads them', () => {
    const all = chartStates(chart).flatMap((s) => s.transitions);
    const find = (source: string, event: string) => all.filter((t) => t.source === source && t.event === event);
    expect(find('idle', 'go').map((t) => t.guard)).toEqual(['!isReady', 'isReady && !isLate']);
    expect(find('idle', 'go')[1]?.actions).toEqual(['say(hi)']);
    expect(find('idle', 'go')[0]?.reenter).toBe(true);
    expect(find('idle', 'poke')[0]).toMatchObject({ targets: [], actions: ['ping'], spec: 'HB-8' });
    expect(find('busy', 'poke')[0]?.actions).toEqual(['assign']);
    expect(find('busy.fetch.loading', 'done(fetchToken)')[0]).toMatchObject({ targets: ['busy.fetch.loaded'], spec: 'RC-5' });
    expect(find('busy.fetch.loading', 'error(fetchToken)')[0]?.targets).toEqual(['idle']);
    expect(find('busy.fetch.loaded', 'after(retryDelay)')[0]?.targets).toEqual(['busy.fetch.loading']);
    expect(find('busy.beat.waiting', 'always')[0]?.guard).toBe('isReady');
    expect(find('', 'stop')[0]).toMatchObject({ targets: ['done'], spec: 'RC-9' });
  });

  test('is plain JSON and deterministic', () => {
    const json = JSON.stringify(chart);
    expect(JSON.parse(json)).toEqual(chart);
    expect(JSON.stringify(machineToChart(sample))).toBe(json);
  });
});

describe('machineToMermaid', () => {
  const text = machineToMermaid(sample);
  const lines = text.split('\n');

  test('draws composites, parallel regions, the initial and final pseudo-states', () => {
    expect(lines[0]).toBe('stateDiagram-v2');
    expect(lines).toContain('  [*] --> idle');
    expect(text).toMatch(/state busy \{\n {4}state "fetch" as busy_fetch\n {4}state busy_fetch \{/);
    // Regions of a parallel state are separated by `--`.
    expect(text).toMatch(/\n {4}\}\n {4}--\n {4}state "beat" as busy_beat\n/);
    expect(lines).toContain('  done --> [*]');
  });

  test('labels edges with event, guard and spec id; delays as after(name); merges parallel edges', () => {
    expect(lines).toContain('  idle --> idle: go [!isReady] (RC-1)');
    expect(lines).toContain('  idle --> busy: go [isReady && !isLate] (RC-2)');
    expect(lines).toContain('  busy_fetch_loaded --> busy_fetch_loading: after(retryDelay) (RC-2)');
    expect(lines).toContain('  busy_fetch_loading --> busy_fetch_loaded: done(fetchToken) (RC-5)');
    expect(lines).toContain('  busy_fetch_loading --> idle: error(fetchToken)');
    // Each (source, target) pair is one edge.
    const edges = lines.filter((l) => l.includes(' --> ') && !l.includes('[*]')).map((l) => l.split(':')[0]);
    expect(new Set(edges).size).toBe(edges.length);
  });

  test('writes target-less transitions inside their state and machine-wide ones as a note', () => {
    expect(lines).toContain('  idle: ↺ poke (HB-8)');
    expect(text).toMatch(/note left of busy\n {4}↺ poke\n {2}end note/);
    expect(text).toMatch(/note right of done\n {4}from every state: stop \(RC-9\)\n {2}end note/);
  });

  test('every spec id of the server session machine appears on its chart', () => {
    const chart = machineToChart(serverSessionMachine);
    const ids = new Set(chartStates(chart).flatMap((s) => s.transitions.map((t) => t.spec)).filter((s) => s !== undefined));
    expect(ids.size).toBeGreaterThan(20);
    const mermaid = machineToMermaid(serverSessionMachine);
    for (const id of ids) expect(mermaid).toContain(`(${id})`);
    // Labels never carry characters Mermaid reads as syntax.
    for (const line of mermaid.split('\n').filter((l) => l.includes(' --> '))) expect(line).not.toMatch(/[;#"]/);
  });

  test('is deterministic', () => {
    expect(machineToMermaid(sample)).toBe(text);
    expect(machineToMermaid(serverSessionMachine, { direction: 'LR' })).toMatch(/^stateDiagram-v2\n {2}direction LR\n/);
  });
});

describe('live highlighting', () => {
  test('activePaths lists the active leaves of a snapshot value', () => {
    expect(activePaths('idle')).toEqual(['idle']);
    expect(activePaths({ attached: { phase: 'draining', liveness: 'alive', flow: 'flowing' } })).toEqual([
      'attached.phase.draining',
      'attached.liveness.alive',
      'attached.flow.flowing',
    ]);
  });

  test('highlightStates adds a class on the Mermaid ids of those states', () => {
    const extra = highlightStates(['attached.phase.draining', 'handshaking']);
    expect(extra).toContain('classDef current ');
    expect(extra).toContain('  class attached_phase_draining,handshaking current\n');
    expect(highlightStates([])).toBe('');
    expect(mermaidId('')).toBe('root');
    expect(transitionLabel({ event: 'a;b#c', source: 'x', targets: [], actions: [] })).toBe('a b c');
  });
});
