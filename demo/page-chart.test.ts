import { describe, expect, test } from 'vitest';
import { clientConnectionMachine } from '../spec/machines/client-connection.machine.js';
import { machineToMermaid } from '../spec/charts/mermaid.js';
import { machineOverviewToMermaid } from '../spec/charts/overview.js';
import { LiveChart, type LiveChartOptions } from './page-chart.js';

/** A render the test completes by hand, to see what is drawn while a render is in progress. */
function manualRender() {
  const calls: { source: string; resolve: (svg: string) => void; reject: (err: Error) => void }[] = [];
  const render = (_id: string, source: string) => new Promise<string>((resolve, reject) => calls.push({ source, resolve, reject }));
  return { calls, render };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const connected = { connected: { heartbeat: 'waiting', liveness: 'alive' } };
const CONNECTED_LEAVES = ['connected.heartbeat.waiting', 'connected.liveness.alive'];

/** A chart whose SVG is a fake: restyle records what it highlighted. */
function recorder(extra: Partial<LiveChartOptions> = {}) {
  const rendered: (readonly string[])[] = [];
  const restyled: (readonly string[])[] = [];
  const shown: { paths: readonly string[]; leaves: readonly string[] }[] = [];
  let canRestyle = true;
  const chart = new LiveChart({
    machine: clientConnectionMachine,
    render: async () => '<svg/>',
    onRendered: (_svg, p) => rendered.push(p),
    restyle: (p) => {
      if (canRestyle) restyled.push(p);
      return canRestyle;
    },
    onShown: (paths, leaves) => shown.push({ paths, leaves }),
    ...extra,
  });
  return { chart, rendered, restyled, shown, setRestyle: (v: boolean) => (canRestyle = v) };
}

describe('demo page: live chart', () => {
  test('draws the overview of the machine with the current top-level state highlighted', async () => {
    const r = recorder();
    expect(r.chart.source).toBe(machineOverviewToMermaid(clientConnectionMachine));
    r.chart.show(connected);
    await r.chart.idle();
    expect(r.rendered).toEqual([['connected']]);
    expect(r.shown).toEqual([{ paths: ['connected'], leaves: CONNECTED_LEAVES }]);
    expect(r.chart.sourceFor(['connected'])).toContain('class connected current');
  });

  test('the full view highlights the leaves', async () => {
    const r = recorder({ view: 'full' });
    expect(r.chart.source).toBe(machineToMermaid(clientConnectionMachine));
    r.chart.show(connected);
    await r.chart.idle();
    expect(r.rendered).toEqual([CONNECTED_LEAVES]);
  });

  test('once drawn, each state is highlighted before show() returns: no queue, no hold, no render', async () => {
    const r = recorder();
    r.chart.show('idle');
    await r.chart.idle();
    for (const v of ['reconnecting', { connecting: 'opening' }, 'handshaking', connected]) {
      r.chart.show(v);
      expect(r.chart.shownPaths).toEqual([typeof v === 'string' ? v : Object.keys(v)[0]]); // same tick
    }
    expect(r.restyled).toEqual([['reconnecting'], ['connecting'], ['handshaking'], ['connected']]);
    expect([r.chart.renderCount, r.chart.restyleCount]).toEqual([1, 4]);
    // Every state reaches onShown, in order: the page's trail shows the path the protocol took.
    expect(r.shown.map((s) => s.paths[0])).toEqual(['idle', 'reconnecting', 'connecting', 'handshaking', 'connected']);
  });

  test('a leaf that moves inside the highlighted state is named without restyling', async () => {
    const r = recorder();
    r.chart.show({ connecting: 'authorizing' });
    await r.chart.idle();
    r.chart.show({ connecting: 'opening' });
    r.chart.show({ connecting: 'opening' }); // a context-only snapshot
    expect(r.restyled).toEqual([]);
    expect(r.shown.map((s) => s.leaves)).toEqual([['connecting.authorizing'], ['connecting.opening']]);
  });

  test('states that arrive during the first render are not played back: the render ends on the newest', async () => {
    const m = manualRender();
    const r = recorder({ render: m.render });
    r.chart.show('idle');
    await tick();
    r.chart.show({ connecting: 'opening' });
    r.chart.show('handshaking');
    expect(m.calls).toHaveLength(1); // one render at a time
    m.calls[0]?.resolve('<svg/>');
    await r.chart.idle();
    expect(m.calls[0]?.source).toContain('class idle current');
    expect(r.restyled).toEqual([['handshaking']]);
    expect(r.chart.shownPaths).toEqual(['handshaking']);
    expect(r.shown.map((s) => s.paths[0])).toEqual(['idle', 'handshaking']);
  });

  test('a failed restyle renders again; a failing render is reported once and the next state tries again', async () => {
    const m = manualRender();
    const errors: unknown[] = [];
    const r = recorder({ render: m.render, onError: (e) => errors.push(e) });
    r.chart.show('idle');
    await tick();
    m.calls[0]?.reject(new Error('boom'));
    await r.chart.idle();
    expect(errors).toHaveLength(1);
    expect(r.chart.shownPaths).toBeUndefined();
    r.chart.show('reconnecting');
    await tick();
    m.calls[1]?.resolve('<svg/>');
    await r.chart.idle();
    expect(r.chart.shownPaths).toEqual(['reconnecting']);
    r.setRestyle(false);
    r.chart.show('closed');
    await tick();
    expect(m.calls[2]?.source).toContain('class closed current');
    m.calls[2]?.resolve('<svg/>');
    await r.chart.idle();
    expect(r.rendered).toEqual([['reconnecting'], ['closed']]);
  });
});
