/**
 * Scenario (issue 16): time to open N connections, N = 10,000 (500 in --quick), 100 attempts in
 * flight, until each is usable: ws `open`, Socket.IO `connect`, Lifeline's Welcome (the reference
 * client's ready(); the lean bench client's Welcome as its own row). Server and load-generator CPU
 * per connection show which side paid. The roles are the memory scenario's (same clients, same server).
 */
import { fmt, median, ratio, rotate, table } from '../lib/stats.js';
import { LOAD_CPU, SERVER_CPU, launch, placementOf, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { memoryContenders } from './memory.js';

interface Cell {
  readonly seconds: number;
  readonly serverUsPerConn: number;
  readonly loadUsPerConn: number;
}

const PARALLEL = 100;

export async function runConnect(ctx: RunContext): Promise<Section> {
  const n = ctx.quick ? 500 : 10_000;
  // Two runs of four rows at 10,000 already take about a minute on an idle 2-core machine.
  const reps = ctx.quick ? 1 : 2;
  const rowsOf = await memoryContenders(ctx);
  const cells = new Map<string, Cell[]>();
  for (let r = 0; r < reps; r++) {
    for (const c of rotate(rowsOf, r)) {
      const [srv, ld] = await Promise.all([
        launch(ctx, { scenario: 'memory', role: 'server', config: { kind: c.kind }, cpu: SERVER_CPU }),
        launch(ctx, { scenario: 'memory', role: 'load', config: { kind: c.kind, client: c.client }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
      ]);
      try {
        const port = await srv.call<number>('port');
        const [s0, l0] = await Promise.all([srv.call<{ cpuUs: number }>('cpu'), ld.call<{ cpuUs: number }>('cpu')]);
        const open = await ld.call<{ seconds: number }>('open', { port, n, parallel: PARALLEL }, 300_000);
        const [s1, l1] = await Promise.all([srv.call<{ cpuUs: number }>('cpu'), ld.call<{ cpuUs: number }>('cpu')]);
        const deadline = performance.now() + 30_000;
        while ((await srv.call<number>('count')) < n && performance.now() < deadline) await sleep(100);
        const list = cells.get(c.key) ?? [];
        list.push({ seconds: open.seconds, serverUsPerConn: (s1.cpuUs - s0.cpuUs) / n, loadUsPerConn: (l1.cpuUs - l0.cpuUs) / n });
        cells.set(c.key, list);
        ctx.log(`connect ${c.label} rep ${r + 1}: ${n} in ${open.seconds.toFixed(2)} s`);
        await ld.call('close');
      } finally {
        await stopAll(ctx, ld, srv);
      }
    }
  }
  const med = (key: string, f: (c: Cell) => number) => median((cells.get(key) ?? []).map(f));
  const base = med('ws', (c) => c.seconds);
  const rows = rowsOf.map((c) => {
    const s = med(c.key, (x) => x.seconds);
    return [c.label, fmt(s, 2), ratio(s, base), fmt(n / s), fmt(med(c.key, (x) => x.serverUsPerConn)), fmt(med(c.key, (x) => x.loadUsPerConn))];
  });
  const ref = rowsOf.find((c) => c.kind === 'lifeline' && c.client === 'reference');
  const refS = ref ? med(ref.key, (c) => c.seconds) : Number.NaN;
  return {
    title: `Connect (time to open ${n.toLocaleString('en-US')} connections)`,
    placement: placementOf(ctx),
    table: table(['contender', 'seconds', '× raw ws', 'connections/s', 'server CPU µs/conn', 'load-gen CPU µs/conn'], rows),
    notes: [
      `From the first attempt until the last connection is usable, ${PARALLEL} attempts in flight from one load-generator process; median of ${reps} run(s), rows in rotated order, fresh processes per run.`,
      'Usable = ws `open`; Socket.IO `connect` (websocket transport, its own Manager per socket); Lifeline the first Welcome (Hello → Welcome; the reference client\'s ready(), `createNodeClient` with its defaults).',
      'CPU µs/conn = each process\'s CPU time (user + system) over the opening ÷ connections; the load generator holding 100 attempts at once is often the bottleneck, so its column says what the client side costs.',
    ],
    targets: [
      {
        what: `time to open ${n.toLocaleString('en-US')} connections: Lifeline reference client ≤ 1.5× raw ws (issue 16)`,
        measured: ref ? `${ratio(refS, base)} (${fmt(refS, 2)} s vs ${fmt(base, 2)} s)` : 'not run',
        isMet: ref ? refS / base <= 1.5 : undefined,
      },
    ],
  };
}
