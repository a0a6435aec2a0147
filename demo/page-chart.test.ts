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

  test('states are drawn in order, one render at a time, each held for minDwellMs; repeats are skipped', async () => {
    const r = manualRender();
    const drawn: string[] = [];
    const waits: number[] = [];
    const chart = new LiveChart({
      machine: clientConnectionMachine,
      render: r.render,
      onRendered: (svg) => drawn.push(svg),
      minDwellMs: 400,
      delay: async (ms) => {
        waits.push(ms);
      },
    });
    const connected = { connected: { heartbeat: 'waiting', liveness: 'alive' } };
    chart.show(connected);
    chart.show(connected); // the same state again (a context-only snapshot)
    await tick();
    chart.show('reconnecting');
    chart.show({ connecting: 'opening' });
    chart.show('handshaking');
    chart.show(connected);
    expect(r.calls).toHaveLength(1); // one render at a time
    for (const name of ['connected', 'reconnecting', 'opening', 'handshaking', 'connected']) {
      r.calls.at(-1)?.resolve(name);
      await tick();
    }
    await chart.idle();
    expect(drawn).toEqual(['connected', 'reconnecting', 'opening', 'handshaking', 'connected']);
    expect(r.calls[2]?.source).toContain('class connecting_opening current');
    expect(waits).toEqual([400, 400, 400, 400]); // a hold between states, none after the last
    expect(chart.renderCount).toBe(5);
    expect(chart.shownPaths).toEqual(['connected.heartbeat.waiting', 'connected.liveness.alive']);
  });

  test('the backlog is bounded: the oldest waiting states go, the newest is always drawn last', async () => {
    const drawn: (readonly string[])[] = [];
    const chart = new LiveChart({ machine: clientConnectionMachine, render: async () => '<svg/>', onRendered: (_s, p) => drawn.push(p), maxBacklog: 2 });
    for (const v of ['idle', 'reconnecting', 'suspended', 'failed', 'closed']) chart.show(v);
    await chart.idle();
    expect(drawn.at(-1)).toEqual(['closed']);
    expect(drawn.length).toBeLessThanOrEqual(3);
  });

  test('a state shown while another is being drawn is drawn after it, even if it equals the one before', async () => {
    const r = manualRender();
    const drawn: string[] = [];
    const chart = new LiveChart({ machine: clientConnectionMachine, render: r.render, onRendered: (svg) => drawn.push(svg) });
    chart.show('idle');
    await tick();
    r.calls[0]?.resolve('idle');
    await chart.idle();
    chart.show('reconnecting');
    await tick();
    chart.show('idle'); // back where the screen still is, while 'reconnecting' is in flight
    r.calls[1]?.resolve('reconnecting');
    await tick();
    r.calls[2]?.resolve('idle');
    await chart.idle();
    expect(drawn).toEqual(['idle', 'reconnecting', 'idle']);
  });

  test('after the first render, states are restyled on the SVG on screen; a failed restyle renders again', async () => {
    const rendered: (readonly string[])[] = [];
    const shown: (readonly string[])[] = [];
    let canRestyle = true;
    const restyled: (readonly string[])[] = [];
    const chart = new LiveChart({
      machine: clientConnectionMachine,
      render: async () => '<svg/>',
      onRendered: (_svg, p) => rendered.push(p),
      onShown: (p) => shown.push(p),
      restyle: (p) => {
        if (canRestyle) restyled.push(p);
        return canRestyle;
      },
    });
    chart.show('idle');
    await chart.idle();
    chart.show('reconnecting');
    await chart.idle();
    canRestyle = false;
    chart.show('closed');
    await chart.idle();
    expect(rendered).toEqual([['idle'], ['closed']]);
    expect(restyled).toEqual([['reconnecting']]);
    expect(shown).toEqual([['idle'], ['reconnecting'], ['closed']]);
    expect([chart.renderCount, chart.restyleCount]).toEqual([2, 1]);
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
