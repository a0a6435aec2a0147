/**
 * Cheap proof that the bench harness still runs (issue 7): the codec scenario
 * with tiny batches, and the report table. CI runs `npm run bench -- --quick`
 * separately; no test here checks a number against a target.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { codecTable, runCodec } from './codec.bench.js';
import { holdWrites } from './contenders/ws-batched.js';
import { contendersOf, ioCarrier, withBatchedWs, type RunContext } from './lib/scenario.js';
import { ECHO_TARGET_X_POLLING, HTTP_ROWS, httpContenders, httpPlan } from './scenarios/http.js';
import { median, quantile, rotate, table } from './lib/stats.js';

describe('bench harness', () => {
  test('codec scenario produces a row per message and contender, JSON as the ratio baseline', () => {
    const rows = runCodec({ reps: 1, batchMs: 1 });
    const messages = new Set(rows.map((r) => r.message));
    expect(messages).toEqual(new Set(['Heartbeat', 'HeartbeatAck', 'Ack', 'StatePatch (200 B delta)', 'Message (64 B payload)']));
    for (const r of rows) {
      expect(r.nsPerOp).toBeGreaterThan(0);
      expect(r.bytes).toBeGreaterThan(0);
      if (r.contender.startsWith('JSON')) expect(r.nsRatioToJson).toBe(1);
    }
    // Lifeline's codec and protobuf-es write the same bytes (the fast path is byte-identical).
    for (const m of messages) {
      const sizes = rows.filter((r) => r.message === m && !r.contender.startsWith('JSON')).map((r) => r.bytes);
      expect(new Set(sizes).size).toBe(1);
    }
    const md = codecTable(rows);
    expect(md.split('\n')).toHaveLength(rows.length + 2);
  });

  test('statistics helpers: median, quantiles, rotation, Markdown table', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(quantile([], 0.5)).toBeNaN();
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(table(['x', 'n'], [['a', '1']])).toBe('| x | n |\n| --- | ---: |\n| a | 1 |');
  });

  test('issue 16 rows: raw ws, batched after raw ws; Lifeline once per client, the reference client only where it loads', () => {
    expect(withBatchedWs(['ws', 'socketio', 'lifeline'])).toEqual(['ws', 'wsb', 'socketio', 'lifeline']);
    const ctx = { kinds: ['ws', 'socketio', 'lifeline'] } as unknown as RunContext;
    const rows = contendersOf(ctx, { isBatched: true, lifelineClients: ['lean', 'reference'], hasReferenceClient: true });
    expect(rows.map((r) => r.key)).toEqual(['ws', 'wsb', 'socketio', 'lifeline-lean', 'lifeline-reference']);
    expect(new Set(rows.map((r) => r.label)).size).toBe(rows.length);
    const noRef = contendersOf(ctx, { lifelineClients: ['lean', 'reference'], hasReferenceClient: false });
    expect(noRef.map((r) => r.key)).toEqual(['ws', 'socketio', 'lifeline-lean']);
  });

  test('raw ws, batched: a burst is corked once and released on the next tick, every frame intact', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      wss.once('connection', (peer) =>
        peer.on('message', (d) => {
          got.push(String(d));
          if (got.length === 3) resolve();
        }),
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    await new Promise<void>((r) => ws.once('open', () => r()));
    try {
      const sock = (ws as unknown as { _socket: { writableCorked: number } })._socket;
      holdWrites(ws);
      holdWrites(ws); // a second frame of the same burst does not cork again
      for (const m of ['a', 'b', 'c']) ws.send(m);
      expect(sock.writableCorked).toBe(1);
      await new Promise((r) => process.nextTick(r));
      expect(sock.writableCorked).toBe(0);
      await done;
      expect(got).toEqual(['a', 'b', 'c']);
    } finally {
      ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });

  test('issue 15 rows: Lifeline over HTTP, Socket.IO polling only, Lifeline over ws; Socket.IO alone where Lifeline does not load', async () => {
    const all = await httpContenders({ kinds: ['ws', 'socketio', 'lifeline'] } as unknown as RunContext);
    expect(all.map((r) => r.key)).toEqual(['lifeline-http', 'socketio-polling', 'lifeline-ws']);
    expect(all.map((r) => r.carrier)).toEqual(['http', 'http', 'websocket']);
    expect(new Set(all.map((r) => r.label)).size).toBe(3);
    const noLifeline = await httpContenders({ kinds: ['ws', 'socketio'] } as unknown as RunContext);
    expect(noLifeline).toEqual([HTTP_ROWS.polling]);
    expect(ioCarrier('http')).toEqual({ carrier: 'polling' });
    expect(ioCarrier('websocket')).toEqual({ carrier: 'websocket' });
    expect(ECHO_TARGET_X_POLLING).toBe(1.5);
    // --quick stays small (CI keeps the path alive in about 30 s), the full form is bigger.
    const q = httpPlan(true);
    const f = httpPlan(false);
    expect(q.sizes).toEqual([64]);
    expect(f.sizes).toEqual([64, 1024]);
    expect(q.subscribers).toBeLessThan(f.subscribers);
    expect(q.echoReps * (q.warmupMs + q.measureMs)).toBeLessThan(2_000);
  });
});
