import { describe, expect, test } from 'vitest';
import { clientConnectionMachine } from '../spec/machines/client-connection.machine.js';
import { machineToMermaid } from '../spec/charts/mermaid.js';
import { LiveChart } from './page-chart.js';

/** A render the test completes by hand, to see what is drawn while a render is in progress. */
function manualRender() {
  const calls: { source: string; resolve: (svg: string) => void; reject: (err: Error) => void }[] = [];
  const render = (_id: string, source: string) => new Promise<string>((resolve, reject) => calls.push({ source, resolve, reject }));
  return { calls, render };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('demo page: live chart', () => {
  test('draws the machine with the active leaf states highlighted', async () => {
    const drawn: (readonly string[])[] = [];
    const chart = new LiveChart({ machine: clientConnectionMachine, render: async (_id, s) => `<svg>${s.length}</svg>`, onRendered: (_svg, paths) => drawn.push(paths) });
    expect(chart.source).toBe(machineToMermaid(clientConnectionMachine));
    chart.show({ connected: { heartbeat: 'waiting', liveness: 'alive' } });
    await chart.idle();
    expect(drawn).toEqual([['connected.heartbeat.waiting', 'connected.liveness.alive']]);
    expect(chart.sourceFor(drawn[0] ?? [])).toContain('class connected_heartbeat_waiting,connected_liveness_alive current');
  });

  test('renders are serialized and coalesced: the newest state is drawn last, repeats are skipped', async () => {
    const r = manualRender();
    const drawn: string[] = [];
    const chart = new LiveChart({ machine: clientConnectionMachine, render: r.render, onRendered: (svg) => drawn.push(svg) });
    chart.show('reconnecting');
    await tick();
    chart.show({ connecting: 'opening' });
    chart.show('handshaking');
    chart.show({ connected: { heartbeat: 'waiting', liveness: 'alive' } });
    expect(r.calls).toHaveLength(1); // one render at a time
    r.calls[0]?.resolve('reconnecting');
    await tick();
    expect(r.calls).toHaveLength(2); // the intermediate states were skipped
    expect(r.calls[1]?.source).toContain('class connected_heartbeat_waiting,connected_liveness_alive current');
    chart.show({ connected: { heartbeat: 'waiting', liveness: 'alive' } }); // same state again
    r.calls[1]?.resolve('connected');
    await chart.idle();
    expect(drawn).toEqual(['reconnecting', 'connected']);
    expect(chart.renderCount).toBe(2);
    expect(chart.shownPaths).toEqual(['connected.heartbeat.waiting', 'connected.liveness.alive']);
  });

  test('a failing render is reported once and the chart keeps working', async () => {
    const r = manualRender();
    const errors: unknown[] = [];
    const chart = new LiveChart({ machine: clientConnectionMachine, render: r.render, onRendered: () => {}, onError: (e) => errors.push(e) });
    chart.show('idle');
    await tick();
    r.calls[0]?.reject(new Error('boom'));
    await chart.idle();
    expect(errors).toHaveLength(1);
    chart.show('closed');
    await tick();
    r.calls[1]?.resolve('<svg/>');
    await chart.idle();
    expect(chart.shownPaths).toEqual(['closed']);
  });
});
