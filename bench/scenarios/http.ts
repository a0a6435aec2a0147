/**
 * Scenario (issue 15): the same session over HTTP when WebSockets are blocked. Echo round trips/s and
 * fan-out p99 side by side in one run for three rows:
 *  - Lifeline over HTTP: the reference client over the HTTP carrier (spec §22) against the reference
 *    server, same port and path as its WebSocket endpoint;
 *  - Socket.IO 4 with Engine.IO long-polling only on both ends (no upgrade): the fallback users know;
 *  - Lifeline over ws: the same client and server over a WebSocket, the ratio's other end.
 * Every trial starts fresh server and load-generator processes (an HTTP connection leaves keep-alive
 * sockets and parked receives behind; a fresh pair measures one contender only). The roles and the
 * measuring loops are the echo and fan-out scenarios' (echo.ts echoTrial, fanout.ts measureFanout),
 * with `carrier: 'http'` in their config.
 */
import { fmt, median, ratio, rotate, table } from '../lib/stats.js';
import { LOAD_CPU, SERVER_CPU, launch, placementOf, stopAll, type Contender, type RunContext, type Section, type Target } from '../lib/scenario.js';
import { isClientAvailable } from '../contenders/lifeline-client.js';
import { echoTrial, type EchoCell } from './echo.js';
import { measureFanout, type FanoutCell } from './fanout.js';

/** Issue 15's target: Lifeline over HTTP at least this many times Socket.IO polling's echo round trips/s. */
export const ECHO_TARGET_X_POLLING = 1.5;

export const HTTP_ROWS = {
  lifelineHttp: { kind: 'lifeline', client: 'reference', carrier: 'http', key: 'lifeline-http', label: 'Lifeline over HTTP (reference client)' },
  polling: { kind: 'socketio', client: 'own', carrier: 'http', key: 'socketio-polling', label: 'Socket.IO 4, polling only' },
  lifelineWs: { kind: 'lifeline', client: 'reference', carrier: 'websocket', key: 'lifeline-ws', label: 'Lifeline over ws (reference client)' },
} as const satisfies Record<string, Contender>;

/** The rows of this run: the Socket.IO one always, the Lifeline ones where server/ and client/ load. */
export async function httpContenders(ctx: RunContext): Promise<Contender[]> {
  const hasLifeline = ctx.kinds.includes('lifeline') && (await isClientAvailable());
  return hasLifeline ? [HTTP_ROWS.lifelineHttp, HTTP_ROWS.polling, HTTP_ROWS.lifelineWs] : [HTTP_ROWS.polling];
}

/** The shape of both halves, full (`npm run bench`) and small (`--quick`, CI keeps the path alive in ~30 s). */
export function httpPlan(quick: boolean) {
  return {
    sizes: quick ? [64] : [64, 1024],
    echoReps: quick ? 1 : 3,
    conns: quick ? 50 : 100,
    inflight: 16,
    warmupMs: quick ? 400 : 1_200,
    measureMs: quick ? 600 : 2_000,
    subscribers: quick ? 50 : 1_000,
    rate: 20,
    fanoutSeconds: quick ? 1.5 : 2.5,
    fanoutReps: quick ? 1 : 2,
    payloadBytes: 64,
  };
}

export async function runHttp(ctx: RunContext): Promise<Section> {
  const p = httpPlan(ctx.quick);
  const rowsOf = await httpContenders(ctx);
  const echo = new Map<string, EchoCell[]>();
  const failures: string[] = [];
  for (let r = 0; r < p.echoReps; r++) {
    for (const size of p.sizes) {
      for (const c of rotate(rowsOf, r)) {
        try {
          const cell = await freshEchoTrial(ctx, c, { conns: p.conns, inflight: p.inflight, payloadBytes: size, warmupMs: p.warmupMs, measureMs: p.measureMs });
          const key = `${c.key}/${size}`;
          echo.set(key, [...(echo.get(key) ?? []), cell]);
          ctx.log(`http echo ${c.label} ${size} B rep ${r + 1}: ${fmt(cell.rtPerSec)} rt/s`);
        } catch (err) {
          const why = firstLine(err);
          failures.push(`echo ${c.label} ${size} B rep ${r + 1} did not finish: ${why}`);
          ctx.log(`http echo ${c.label} ${size} B rep ${r + 1} FAILED: ${why}`);
        }
      }
    }
  }
  const fan = new Map<string, FanoutCell[]>();
  const total = Math.round(p.rate * p.fanoutSeconds);
  for (let r = 0; r < p.fanoutReps; r++) {
    for (const c of rotate(rowsOf, r)) {
      // One row, one publish run: measureFanout starts its server and subscribers afresh and stops them.
      try {
        const failed = await measureFanout(
          ctx,
          { name: 'http fan-out', rowsOf: [c], subscribers: p.subscribers, rate: p.rate, total, payloadBytes: p.payloadBytes, reps: 1, tailMs: 5_000 },
          fan,
        );
        for (const [label, why] of failed) failures.push(`fan-out ${label} rep ${r + 1} did not finish: ${why}`);
      } catch (err) {
        // Opening the subscribers failed (measureFanout reports only publish failures by row).
        const why = firstLine(err);
        failures.push(`fan-out ${c.label} rep ${r + 1} did not start: ${why}`);
        ctx.log(`http fan-out ${c.label} rep ${r + 1} FAILED: ${why}`);
      }
    }
  }
  return httpSection(ctx, rowsOf, echo, fan, failures);
}

function firstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

async function freshEchoTrial(ctx: RunContext, c: Contender, plan: Parameters<typeof echoTrial>[2]): Promise<EchoCell> {
  const config = { kind: c.kind, carrier: c.carrier };
  const [srv, ld] = await Promise.all([
    launch(ctx, { scenario: 'echo', role: 'server', config, cpu: SERVER_CPU }),
    launch(ctx, { scenario: 'echo', role: 'load', config, cpu: LOAD_CPU }),
  ]);
  try {
    return (await echoTrial(srv, ld, plan)).cell;
  } finally {
    await stopAll(ctx, srv, ld);
  }
}

function httpSection(
  ctx: RunContext, rowsOf: readonly Contender[], echo: Map<string, EchoCell[]>, fan: Map<string, FanoutCell[]>, failures: readonly string[],
): Section {
  const p = httpPlan(ctx.quick);
  const { lifelineHttp: lh, polling: io, lifelineWs: lw } = HTTP_ROWS;
  const hasLifeline = rowsOf.some((c) => c.key === lh.key);
  const echoRows: string[][] = [];
  const targets: Target[] = [];
  const ratioLines: string[] = [];
  for (const size of p.sizes) {
    const med = (key: string, f: (c: EchoCell) => number) => median((echo.get(`${key}/${size}`) ?? []).map(f));
    const ioRt = med(io.key, (c) => c.rtPerSec);
    const wsRt = med(lw.key, (c) => c.rtPerSec);
    for (const c of rowsOf) {
      const rt = med(c.key, (x) => x.rtPerSec);
      echoRows.push([
        `${size} B`, c.label, fmt(rt), ratio(rt, ioRt), ratio(rt, wsRt), fmt(med(c.key, (x) => x.p50Ms), 2), fmt(med(c.key, (x) => x.p99Ms), 2),
        fmt(med(c.key, (x) => x.cpuUsPerRt), 1), fmt(med(c.key, (x) => x.loadUsPerRt), 1),
      ]);
    }
    const lhRt = med(lh.key, (c) => c.rtPerSec);
    const isMeasured = hasLifeline && Number.isFinite(lhRt) && Number.isFinite(ioRt);
    targets.push({
      what: `echo ${size} B over HTTP: Lifeline ≥ ${ECHO_TARGET_X_POLLING}× Socket.IO polling round trips/s (issue 15)`,
      measured: isMeasured ? `${ratio(lhRt, ioRt)} (${fmt(lhRt)} vs ${fmt(ioRt)}); ${ratio(lhRt, wsRt)} Lifeline over ws` : 'not run',
      isMet: isMeasured ? lhRt / ioRt >= ECHO_TARGET_X_POLLING : undefined,
    });
    ratioLines.push(`echo ${size} B: Lifeline-HTTP / Socket.IO polling ${ratio(lhRt, ioRt)}, Lifeline-HTTP / Lifeline-ws ${ratio(lhRt, wsRt)}`);
  }
  const fmed = (key: string, f: (c: FanoutCell) => number) => median((fan.get(key) ?? []).map(f));
  const io99 = fmed(io.key, (c) => c.p99Ms);
  const ws99 = fmed(lw.key, (c) => c.p99Ms);
  const fanRows = rowsOf.map((c) => {
    const p99 = fmed(c.key, (x) => x.p99Ms);
    return [
      c.label, fmt(fmed(c.key, (x) => x.p50Ms), 1), fmt(p99, 1), ratio(p99, io99), ratio(p99, ws99), fmt(fmed(c.key, (x) => x.p99SentMs), 1),
      fmt(fmed(c.key, (x) => x.maxLagMs), 1), `${fmt(fmed(c.key, (x) => x.lossPct), 2)} %`, fmt(fmed(c.key, (x) => x.cpuUsPerDelivery), 2),
      `${fmt(100 * fmed(c.key, (x) => x.loadCpuShare))} %`,
    ];
  });
  const lh99 = fmed(lh.key, (c) => c.p99Ms);
  ratioLines.push(`fan-out ${fmt(p.subscribers)} p99: Lifeline-HTTP / Socket.IO polling ${ratio(lh99, io99)}, Lifeline-HTTP / Lifeline-ws ${ratio(lh99, ws99)} (lower is better)`);
  const total = Math.round(p.rate * p.fanoutSeconds);
  return {
    title: 'Over HTTP (issue 15: WebSockets blocked)',
    placement: placementOf(ctx),
    table: [
      `### Echo over HTTP (${p.conns} connections × ${p.inflight} in flight)`,
      '',
      table(['payload', 'contender', 'round trips/s', '× Socket.IO polling', '× Lifeline ws', 'p50 ms', 'p99 ms', 'server CPU µs/rt', 'load-gen CPU µs/rt'], echoRows),
      '',
      `### Fan-out over HTTP (${fmt(p.subscribers)} subscribers, one channel, ${p.rate}/s × ${p.payloadBytes} B for ${p.fanoutSeconds} s)`,
      '',
      table(
        ['contender', 'p50 ms', 'p99 ms', 'p99 × Socket.IO polling', 'p99 × Lifeline ws', 'p99 from send ms', 'publisher max lag ms', 'lost', 'server CPU µs/delivery', 'load-gen CPU'],
        fanRows,
      ),
    ].join('\n'),
    notes: [
      ...ratioLines,
      process.env['BENCH_HTTP_CLIENT'] === 'bench'
        ? 'Lifeline over HTTP: the reference client over the bench\'s own node:http carrier client (BENCH_HTTP_CLIENT=bench, bench/contenders/lifeline-http.ts) against the reference server on the same port and path as its WebSocket endpoint (spec §22).'
        : 'Lifeline over HTTP: the reference client forced onto its HTTP transport (`createNodeClient({ transports: [\'http\'] })`, client/transports/http.ts over node:http with keep-alive agents, client/transports/node-fetch.ts) against the reference server on the same port and path as its WebSocket endpoint: one streamed receive response per connection, re-requested with its Ack when the server ends it, sends as serial POSTs of record batches (spec §22).',
      'Socket.IO 4: `transports: [\'polling\']` on both ends, no upgrade, compression off; the Node client (engine.io-client over xmlhttprequest-ssl) with a keep-alive agent, as a browser keeps its connections (its default opens a TCP connection per request).',
      'Lifeline over ws: the same reference client and server over a WebSocket (as the Echo section\'s Lifeline row).',
      `Fresh server and load-generator processes for every trial; rows interleaved (rotated order per repetition); median of ${p.echoReps} echo trial(s) per cell (${p.measureMs} ms measured after ${p.warmupMs} ms warm-up) and ${p.fanoutReps} fan-out trial(s) per row (${fmt(p.subscribers * total)} deliveries each, latency from each message's scheduled send time; "lost" = missing 5 s after the last publish).`,
      'Server CPU µs per round trip or delivery = the server process\'s CPU time (user + system) over the window ÷ the count; load-gen CPU the same for the clients\' process (÷ wall time in the fan-out: near 100 % the clients set the latency).',
      ...failures,
    ],
    targets,
  };
}
