/**
 * Scenario 1 (issue 7): echo. 100 connections × 16 messages in flight, binary
 * payloads of 64 B and 1 KiB; round trips per second, p50/p99 round-trip time,
 * and server CPU µs per round trip. Lifeline runs with its guarantees on: seq,
 * cumulative acks both ways, replay buffer, heartbeats (5 s interval so a few
 * fall inside each run).
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { WebSocket } from 'ws';
import type { Rpc } from '../lib/child.js';
import type { Child } from '../lib/proc.js';
import { connectIo, connectWs, startIoServer, startWsServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { connectReference, isClientAvailable } from '../contenders/lifeline-client.js';
import { holdWrites } from '../contenders/ws-batched.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, ratio, rotate, Samples, sortedQuantile, table } from '../lib/stats.js';
import {
  LABEL, LOAD_CPU, SERVER_CPU, ioCarrier, launch, placementOf, stopAll, withBatchedWs, type Carrier, type RunContext, type Section,
} from '../lib/scenario.js';

const HEARTBEAT_MS = 5_000;

// ---------------------------------------------------------------------------
// server role
// ---------------------------------------------------------------------------

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const carrier = (cfg['carrier'] as Carrier | undefined) ?? 'websocket';
  let port: number;
  let close: () => Promise<void>;
  if (kind === 'ws') {
    const s = await startWsServer((ws) => ws.on('message', (d, isBinary) => ws.send(d as Buffer, { binary: isBinary })));
    port = s.port;
    close = s.close;
  } else if (kind === 'wsb') {
    // Issue 16: the same echo with Lifeline's cork-per-burst, uncork-next-tick write batching.
    const s = await startWsServer((ws) =>
      ws.on('message', (d, isBinary) => {
        holdWrites(ws);
        ws.send(d as Buffer, { binary: isBinary });
      }),
    );
    port = s.port;
    close = s.close;
  } else if (kind === 'socketio') {
    const s = await startIoServer((sock) => sock.on('m', (b: Buffer) => void sock.emit('m', b)), ioCarrier(carrier));
    port = s.port;
    close = s.close;
  } else {
    const s = await startLifeline({ heartbeatIntervalMs: HEARTBEAT_MS });
    s.srv.on('message', (session, m) => session.send({ payload: m.payload }));
    port = s.port;
    close = () => s.srv.close();
  }
  rpc.on('port', () => port);
  rpc.on('close', () => close());
}

// ---------------------------------------------------------------------------
// load role
// ---------------------------------------------------------------------------

interface Conn {
  send(b: Uint8Array): void;
  close(): void;
}

async function connect(kind: Kind, carrier: Carrier, port: number, onReply: () => void): Promise<Conn> {
  if (kind === 'ws') {
    const ws: WebSocket = await connectWs(port);
    ws.on('message', onReply);
    return { send: (b) => ws.send(b), close: () => ws.terminate() };
  }
  if (kind === 'wsb') {
    // The reference client batches its writes per inbound burst too (client/node.ts WriteBatch).
    const ws: WebSocket = await connectWs(port);
    ws.on('message', () => {
      holdWrites(ws);
      onReply();
    });
    return { send: (b) => ws.send(b), close: () => ws.terminate() };
  }
  if (kind === 'socketio') {
    const s: IoClientSocket = await connectIo(port, ioCarrier(carrier));
    s.on('m', onReply);
    return { send: (b) => void s.emit('m', b), close: () => void s.disconnect() };
  }
  const url = `ws://127.0.0.1:${port}/lifeline`;
  if (carrier === 'http' || (await isClientAvailable())) {
    const c = await connectReference(url, { carrier: carrier === 'http' ? 'http' : 'ws' });
    c.on('message', () => onReply());
    // Fire and forget (no promise per message): the echo is the reply.
    return { send: (b) => void c.post(b), close: () => c.close() };
  }
  const c = await WireClient.connect({ url, onMessage: onReply });
  return { send: (b) => c.send(b), close: () => c.close() };
}

export interface EchoResult {
  readonly roundTrips: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of the load generator over the window, µs. */
  readonly loadCpuUs: number;
}

export async function load(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  const carrier = (cfg['carrier'] as Carrier | undefined) ?? 'websocket';
  rpc.on('run', async (a) => {
    const port = a['port'] as number;
    const conns = a['conns'] as number;
    const inflight = a['inflight'] as number;
    const payload = new Uint8Array(a['payloadBytes'] as number).map((_, i) => i & 0xff);
    const warmupMs = a['warmupMs'] as number;
    const measureMs = a['measureMs'] as number;
    let isMeasuring = false;
    let isStopped = false;
    let count = 0;
    const lat = new Samples();
    const all: Conn[] = [];
    // Replies come back in order per connection: a ring of send times per connection.
    const rings = Array.from({ length: conns }, () => ({ t: new Float64Array(inflight), head: 0, tail: 0 }));
    for (let i = 0; i < conns; i++) {
      const ring = rings[i] as { t: Float64Array; head: number; tail: number };
      const idx = i;
      const c = await connect(kind, carrier, port, () => {
        const sentAt = ring.t[ring.head % inflight] as number;
        ring.head++;
        if (isMeasuring) {
          count++;
          lat.push(performance.now() - sentAt);
        }
        if (!isStopped) {
          ring.t[ring.tail++ % inflight] = performance.now();
          (all[idx] as Conn).send(payload);
        }
      });
      all.push(c);
    }
    for (let i = 0; i < conns; i++) {
      const ring = rings[i] as { t: Float64Array; tail: number };
      for (let k = 0; k < inflight; k++) {
        ring.t[ring.tail++ % inflight] = performance.now();
        (all[i] as Conn).send(payload);
      }
    }
    await new Promise((r) => setTimeout(r, warmupMs));
    rpc.emit({ phase: 'start' });
    isMeasuring = true;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, measureMs));
    isMeasuring = false;
    const c1 = process.cpuUsage(c0);
    const seconds = (performance.now() - t0) / 1000;
    rpc.emit({ phase: 'end' });
    isStopped = true;
    await new Promise((r) => setTimeout(r, 200));
    for (const c of all) c.close();
    const s = lat.sorted();
    const result: EchoResult = {
      roundTrips: count, seconds, p50Ms: sortedQuantile(s, 0.5), p99Ms: sortedQuantile(s, 0.99), loadCpuUs: c1.user + c1.system,
    };
    return result;
  });
}

// ---------------------------------------------------------------------------
// orchestration
// ---------------------------------------------------------------------------

export interface EchoCell {
  readonly rtPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRt: number;
  readonly loadUsPerRt: number;
}

export interface EchoPlan {
  readonly conns: number;
  readonly inflight: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

/** One measured echo run of a server child and its load generator (also the HTTP scenario's, http.ts). */
export async function echoTrial(srv: Child, ld: Child, plan: EchoPlan): Promise<{ cell: EchoCell; result: EchoResult }> {
  const port = await srv.call<number>('port');
  let cpu0 = 0;
  let cpu1 = 0;
  const waits: Promise<void>[] = [];
  const off = ld.onEvent((ev) => {
    const phase = (ev as { phase?: string }).phase;
    if (phase === 'start') waits.push(srv.call<{ cpuUs: number }>('cpu').then((c) => void (cpu0 = c.cpuUs)));
    if (phase === 'end') waits.push(srv.call<{ cpuUs: number }>('cpu').then((c) => void (cpu1 = c.cpuUs)));
  });
  try {
    const res = await ld.call<EchoResult>('run', { port, ...plan }, 120_000);
    await Promise.all(waits);
    const cell: EchoCell = {
      rtPerSec: res.roundTrips / res.seconds,
      p50Ms: res.p50Ms,
      p99Ms: res.p99Ms,
      cpuUsPerRt: res.roundTrips > 0 ? (cpu1 - cpu0) / res.roundTrips : Number.NaN,
      loadUsPerRt: res.roundTrips > 0 ? res.loadCpuUs / res.roundTrips : Number.NaN,
    };
    return { cell, result: res };
  } finally {
    off();
  }
}

export async function runEcho(ctx: RunContext): Promise<Section> {
  const sizes = [64, 1024];
  const reps = ctx.quick ? 1 : 3;
  const kinds = withBatchedWs(ctx.kinds);
  const conns = 100;
  const inflight = 16;
  const warmupMs = ctx.quick ? 700 : 1_200;
  const measureMs = ctx.quick ? 700 : 2_000;
  const servers = new Map<Kind, Awaited<ReturnType<typeof launch>>>();
  const loads = new Map<Kind, Awaited<ReturnType<typeof launch>>>();
  const cells = new Map<string, EchoCell[]>();
  try {
    await Promise.all(
      kinds.map(async (kind) => {
        servers.set(kind, await launch(ctx, { scenario: 'echo', role: 'server', config: { kind }, cpu: SERVER_CPU }));
        loads.set(kind, await launch(ctx, { scenario: 'echo', role: 'load', config: { kind }, cpu: LOAD_CPU }));
      }),
    );
    for (let r = 0; r < reps; r++) {
      for (const size of sizes) {
        for (const kind of rotate(kinds, r)) {
          const srv = servers.get(kind)!;
          const ld = loads.get(kind)!;
          const res = await echoTrial(srv, ld, { conns, inflight, payloadBytes: size, warmupMs, measureMs });
          const key = `${kind}/${size}`;
          const list = cells.get(key) ?? [];
          list.push(res.cell);
          cells.set(key, list);
          ctx.log(`echo ${LABEL[kind]} ${size} B rep ${r + 1}: ${fmt(res.cell.rtPerSec)} rt/s`);
          await srv.call('mem'); // GC between cells so one run's garbage does not bill the next
        }
      }
    }
  } finally {
    await stopAll(ctx, ...servers.values(), ...loads.values());
  }
  const rows: string[][] = [];
  const targets: Section['targets'][number][] = [];
  for (const size of sizes) {
    const med = (kind: Kind, f: (c: EchoCell) => number) => median((cells.get(`${kind}/${size}`) ?? []).map(f));
    const base = med('ws', (c) => c.rtPerSec);
    const baseBatched = med('wsb', (c) => c.rtPerSec);
    const baseCpu = med('ws', (c) => c.cpuUsPerRt);
    const baseCpuBatched = med('wsb', (c) => c.cpuUsPerRt);
    for (const kind of kinds) {
      const rt = med(kind, (c) => c.rtPerSec);
      const cpu = med(kind, (c) => c.cpuUsPerRt);
      rows.push([
        `${size} B`, LABEL[kind], fmt(rt), ratio(rt, base), ratio(rt, baseBatched), fmt(med(kind, (c) => c.p50Ms), 2), fmt(med(kind, (c) => c.p99Ms), 2),
        fmt(cpu, 1), ratio(cpu, baseCpu), ratio(cpu, baseCpuBatched), fmt(med(kind, (c) => c.loadUsPerRt), 1),
      ]);
    }
    const lf = med('lifeline', (c) => c.rtPerSec);
    const hasLf = ctx.kinds.includes('lifeline');
    targets.push(
      { what: `echo ${size} B: Lifeline ≥ 0.85× raw ws round trips/s (issue 7)`, measured: hasLf ? ratio(lf, base) : 'not run', isMet: hasLf ? lf / base >= 0.85 : undefined },
      // Issue 12: the new core (record, store and transport seams, one decision path) keeps the lead.
      { what: `echo ${size} B: Lifeline ≥ 1.0× raw ws round trips/s (issue 12)`, measured: hasLf ? ratio(lf, base) : 'not run', isMet: hasLf ? lf / base >= 1.0 : undefined },
      // Issue 16: against the equally batched ws (what the guarantees cost), and still ahead of plain ws.
      { what: `echo ${size} B: Lifeline ≥ 0.6× raw ws, batched round trips/s (issue 16)`, measured: hasLf ? ratio(lf, baseBatched) : 'not run', isMet: hasLf ? lf / baseBatched >= 0.6 : undefined },
      { what: `echo ${size} B: Lifeline ≥ 1.2× raw ws round trips/s (issue 16)`, measured: hasLf ? ratio(lf, base) : 'not run', isMet: hasLf ? lf / base >= 1.2 : undefined },
    );
  }
  return {
    title: 'Echo (100 connections × 16 in flight)',
    placement: placementOf(ctx),
    table: table(
      ['payload', 'contender', 'round trips/s', '× raw ws', '× batched ws', 'p50 ms', 'p99 ms', 'server CPU µs/rt', '× raw ws', '× batched ws', 'load-gen CPU µs/rt'],
      rows,
    ),
    notes: [
      `${reps} repetition(s) per cell, median; contenders interleaved (rotated order per repetition); ${measureMs} ms measured after ${warmupMs} ms warm-up.`,
      'Each contender uses its own client: ws, socket.io-client (websocket transport), and for Lifeline the reference client (client/node.ts createNodeClient: send() promises resolved by acks, inbound seq/acks, heartbeats) against the reference server (createServer, echo from the message event via session.send).',
      '"raw ws, batched" (issue 16) is raw ws with the write batching Lifeline does on both ends: a socket that sends while handling an inbound message is corked once and uncorked on the next tick (bench/contenders/ws-batched.ts, as server/transports/write-batch.ts and client/node.ts), so a burst leaves in one writev. "raw ws" writes each frame at once. "× batched ws" is the honest ratio for what the guarantees cost; "× raw ws" the one earlier issues used.',
      `Lifeline: heartbeat interval ${HEARTBEAT_MS} ms, default receive window, replay buffer and ack delay.`,
      'Server CPU µs/rt = server process CPU time (user+system) over the measured window ÷ round trips in it; load-gen the same for the client process. A process near 1,000,000 µs/s of CPU is the bottleneck of that row.',
    ],
    targets,
  };
}
