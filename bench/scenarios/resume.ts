/**
 * Scenario 6 (issue 7): resume. 1,000 clients lose their connection, 1,000
 * messages each are published while they are away, then they reconnect: time
 * until every client has caught up, and replay throughput.
 *
 * Lifeline: sessions resume (Hello.session_id + last_server_seq → RESUMED) and
 * the server sends what the detached sessions queued. Socket.IO: connection
 * state recovery (the transport is closed under the client, broadcasts are
 * kept, socket.connect() recovers). raw ws has nothing to compare.
 */
import type { Socket as IoClientSocket } from 'socket.io-client';
import type { Rpc } from '../lib/child.js';
import { connectIo, startIoServer, type Kind } from '../contenders/baselines.js';
import { startLifeline } from '../contenders/lifeline.js';
import { WireClient } from '../contenders/lifeline-wire.js';
import { fmt, median, table } from '../lib/stats.js';
import { LABEL, LOAD_CPU, SERVER_CPU, launch, placementOf, sleep, stopAll, type RunContext, type Section } from '../lib/scenario.js';
import { openMany } from './memory.js';

const CHANNEL = 'bench.resume';

export async function server(cfg: Record<string, unknown>, rpc: Rpc): Promise<void> {
  const kind = cfg['kind'] as Kind;
  let port: number;
  let publish: (b: Uint8Array) => void;
  let connected: () => number;
  if (kind === 'socketio') {
    const s = await startIoServer(() => undefined, { recoveryMs: 120_000 });
    port = s.port;
    publish = (b) => void s.io.emit('m', b);
    connected = () => s.io.engine.clientsCount;
  } else {
    const s = await startLifeline({ resumeTtlMs: 120_000 });
    port = s.port;
    publish = (b) => void s.srv.publish(CHANNEL, { payload: b });
    connected = () => s.srv.stats().connections;
  }
  rpc.on('port', () => port);
  rpc.on('connected', () => connected());
  rpc.on('publish', (a) => {
    const n = a['n'] as number;
    const bytes = a['payloadBytes'] as number;
    for (let i = 0; i < n; i++) publish(new Uint8Array(bytes).fill(i & 0xff));
    return n;
  });
}

export function load(cfg: Record<string, unknown>, rpc: Rpc): void {
  const kind = cfg['kind'] as Kind;
  let port = 0;
  let received: Int32Array = new Int32Array(0);
  let lifeline: WireClient[] = [];
  let io: IoClientSocket[] = [];
  let recovered = 0;
  const onMsg = (i: number) => {
    received[i] = (received[i] as number) + 1;
  };
  rpc.on('open', async (a) => {
    port = a['port'] as number;
    const n = a['n'] as number;
    received = new Int32Array(n);
    if (kind === 'socketio') {
      io = await openMany(n, 100, async (i) => {
        const s = await connectIo(port);
        s.on('m', () => onMsg(i));
        return s;
      });
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      lifeline = await openMany(n, 100, (i) => WireClient.connect({ url, channels: [CHANNEL], ackDelayMs: 50, onMessage: () => onMsg(i) }));
    }
    return n;
  });
  rpc.on('drop', () => {
    // The network goes: no close handshake, the server keeps the session (RS-1 / CSR).
    if (kind === 'socketio') for (const s of io) (s.io as unknown as { engine: { close(): void } }).engine.close();
    else for (const c of lifeline) c.drop();
    received.fill(0);
  });
  rpc.on('reconnect', async (a) => {
    const want = a['want'] as number;
    const t0 = performance.now();
    recovered = 0;
    if (kind === 'socketio') {
      for (const s of io) {
        s.once('connect', () => {
          if (s.recovered) recovered++;
        });
        s.connect();
      }
    } else {
      const url = `ws://127.0.0.1:${port}/lifeline`;
      lifeline = await openMany(lifeline.length, 100, (i) => {
        const old = lifeline[i] as WireClient;
        return WireClient.connect({
          url, channels: [CHANNEL], ackDelayMs: 50, onMessage: () => onMsg(i),
          resume: { sessionId: old.sessionId, lastServerSeq: old.lastSeq },
        }).then((c) => {
          if (c.welcome?.resume?.outcome === 2) recovered++; // RESUMED
          return c;
        });
      });
    }
    const deadline = performance.now() + 60_000;
    let caughtUp = 0;
    while (performance.now() < deadline) {
      caughtUp = 0;
      for (const r of received) if (r >= want) caughtUp++;
      if (caughtUp === received.length) break;
      await sleep(5);
    }
    const seconds = (performance.now() - t0) / 1000;
    let total = 0;
    for (const r of received) total += r;
    return { seconds, caughtUp, recovered, total };
  });
}

interface Cell {
  readonly seconds: number;
  readonly throughput: number;
  readonly caughtUp: number;
  readonly recovered: number;
}

export async function runResume(ctx: RunContext): Promise<Section> {
  const clients = ctx.quick ? 200 : 1_000;
  const missed = ctx.quick ? 200 : 1_000;
  const payloadBytes = 64;
  const reps = ctx.quick ? 1 : 2;
  const kinds = ctx.kinds.filter((k) => k !== 'ws');
  const cells = new Map<Kind, Cell[]>();
  for (let r = 0; r < reps; r++) {
    for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
      const [srv, ld] = await Promise.all([
        launch(ctx, { scenario: 'resume', role: 'server', config: { kind }, cpu: SERVER_CPU, maxOldSpaceMb: 4096 }),
        launch(ctx, { scenario: 'resume', role: 'load', config: { kind }, cpu: LOAD_CPU, maxOldSpaceMb: 4096 }),
      ]);
      try {
        const port = await srv.call<number>('port');
        await ld.call('open', { port, n: clients }, 120_000);
        // One message before the drop: Socket.IO recovers only from an offset it has seen
        // (without one, recovered=false: socket.io#5538, PRIOR-ART §3.1).
        await srv.call('publish', { n: 1, payloadBytes });
        await sleep(500);
        await ld.call('drop');
        const until = performance.now() + 30_000;
        while ((await srv.call<number>('connected')) > 0 && performance.now() < until) await sleep(50);
        await srv.call('publish', { n: missed, payloadBytes }, 120_000);
        const res = await ld.call<{ seconds: number; caughtUp: number; recovered: number; total: number }>('reconnect', { want: missed }, 120_000);
        const list = cells.get(kind) ?? [];
        list.push({ seconds: res.seconds, throughput: res.total / res.seconds, caughtUp: res.caughtUp, recovered: res.recovered });
        cells.set(kind, list);
        ctx.log(`resume ${LABEL[kind]} rep ${r + 1}: ${res.caughtUp}/${clients} caught up in ${res.seconds.toFixed(2)} s (${res.recovered} recovered)`);
      } finally {
        await stopAll(ctx, ld, srv);
      }
    }
  }
  const med = (kind: Kind, f: (c: Cell) => number) => median((cells.get(kind) ?? []).map(f));
  const rows = kinds.map((kind) => [
    LABEL[kind], fmt(med(kind, (c) => c.seconds), 2), fmt(med(kind, (c) => c.throughput)),
    `${fmt(med(kind, (c) => c.caughtUp))} / ${clients}`, `${fmt(med(kind, (c) => c.recovered))} / ${clients}`,
  ]);
  return {
    placement: placementOf(ctx),
    title: `Resume (${clients.toLocaleString('en-US')} clients × ${missed.toLocaleString('en-US')} missed messages)`,
    table: table(['contender', 'time until all caught up, s', 'replayed messages/s', 'caught up', 'resumed / recovered'], rows),
    notes: [
      `Clients subscribed, then every connection dropped without a close handshake; ${missed} × ${payloadBytes}-byte messages published to all while they were away; then all reconnect at once. Time from the first reconnect to the last client holding all ${missed}. Median of ${reps} run(s), fresh processes each.`,
      'Lifeline: bench wire client resuming with Hello.session_id and last_server_seq (RESUMED); the server sends what the detached sessions queued (the queue limit, 1,024, holds 1,000). The reference client does the same on its own after a drop; the wire client lets the bench choose the moment.',
      'Socket.IO: connectionStateRecovery (maxDisconnectionDuration 120 s); the drop closes the engine.io transport under the client, socket.connect() then recovers the missed broadcasts. One message is published to everybody before the drop, because Socket.IO recovers only from an offset the client has seen (socket.io#5538). raw ws has no resume.',
    ],
    targets: [],
  };
}
