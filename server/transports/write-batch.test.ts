import type { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { batchWrites, flushWrites, MAX_HOLD_MS } from './write-batch.js';
import { Harness } from '../../test/support/server.js';
import { sessionBehind } from '../session-handle.js';

const h = new Harness();
afterEach(() => h.cleanup());

const nextTick = () => new Promise<void>((r) => process.nextTick(r));

/** A socket's cork count as a Writable keeps it (uncork at 0 does nothing). */
function fakeWs() {
  const sock = {
    writableCorked: 0,
    cork: vi.fn(() => void sock.writableCorked++),
    uncork: vi.fn(() => void (sock.writableCorked = Math.max(0, sock.writableCorked - 1))),
  };
  return { ws: { _socket: sock } as unknown as WebSocket, sock };
}

describe('write batching (issue 7)', () => {
  test('WIRE-1 a burst corks its socket once and uncorks it on the next tick, for each socket', async () => {
    const a = fakeWs();
    const b = fakeWs();
    batchWrites(a.ws);
    batchWrites(a.ws);
    batchWrites(b.ws);
    expect(a.sock.cork).toHaveBeenCalledTimes(1);
    expect(b.sock.cork).toHaveBeenCalledTimes(1);
    expect(a.sock.uncork).not.toHaveBeenCalled();
    await nextTick();
    expect(a.sock.uncork).toHaveBeenCalledTimes(1);
    expect(b.sock.uncork).toHaveBeenCalledTimes(1);
    batchWrites(a.ws); // a new burst corks again
    expect(a.sock.cork).toHaveBeenCalledTimes(2);
    await nextTick();
    expect(a.sock.uncork).toHaveBeenCalledTimes(2);
    batchWrites({} as WebSocket); // no socket (closed, or not ws's): nothing to hold
  });

  test('WIRE-1 a batch holds writes at most MAX_HOLD_MS: a long fan-out tick writes what it held, then batches anew (issue 16)', async () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const a = fakeWs();
      const b = fakeWs();
      batchWrites(a.ws); // the batch starts at 1000
      for (let i = 0; i < 600; i++) batchWrites(a.ws); // within the bound: still one held write
      expect(a.sock.uncork).not.toHaveBeenCalled();
      now += MAX_HOLD_MS + 1;
      for (let i = 0; i < 300; i++) batchWrites(a.ws); // the clock is read every 256 writes: past the bound, out now
      expect(a.sock.uncork).toHaveBeenCalledTimes(1);
      expect(a.sock.cork).toHaveBeenCalledTimes(2); // and the writes after it are held again
      batchWrites(b.ws);
      await nextTick();
      expect(a.sock.uncork).toHaveBeenCalledTimes(2);
      expect(b.sock.uncork).toHaveBeenCalledTimes(1);
    } finally {
      clock.mockRestore();
    }
  });

  test('WIRE-1 flushWrites writes a held burst at once (before a terminate), and the tick does not uncork twice', async () => {
    const a = fakeWs();
    batchWrites(a.ws);
    flushWrites(a.ws);
    expect(a.sock.uncork).toHaveBeenCalledTimes(1);
    await nextTick();
    expect(a.sock.uncork).toHaveBeenCalledTimes(1);
    flushWrites(a.ws); // nothing held: nothing to do
    flushWrites({} as WebSocket);
    expect(a.sock.uncork).toHaveBeenCalledTimes(1);
  });

  test('WIRE-1 SEQ-2 replies to a burst of Messages leave in one write, still one Envelope per WebSocket frame', async () => {
    const srv = await h.server();
    srv.on('message', (session, m) => session.send({ payload: m.payload }));
    const c = await h.session(srv);
    // The server's side of this connection, counted at the stream's write calls.
    const session = sessionBehind(srv.sessions()[0]!) as unknown as { conn: { transport: { ws: { _socket: Socket } } } };
    const sock = session.conn.transport.ws._socket as Socket & { _writev: (c: unknown[], cb: () => void) => void; _write: (c: unknown, e: string, cb: () => void) => void };
    const writes: number[] = [];
    const writev = sock._writev.bind(sock);
    const write = sock._write.bind(sock);
    sock._writev = (chunks, cb) => {
      writes.push(chunks.length);
      writev(chunks, cb);
    };
    sock._write = (chunk, enc, cb) => {
      writes.push(1);
      write(chunk, enc, cb);
    };
    // Five Messages in one TCP write: the server reads them as one chunk.
    c.socket.cork();
    for (let i = 0; i < 5; i++) c.message({ payload: new Uint8Array([i]) });
    c.socket.uncork();
    const echoes = await c.waitForCount('message', 5);
    expect(echoes.map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n, 5n]); // SEQ-2: each its own frame and seq
    expect(echoes.map((m) => m.payload[0])).toEqual([0, 1, 2, 3, 4]);
    // Without batching: one write per echo (5). With it: the burst's echoes share a write.
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.length).toBeLessThan(5);
    expect(writes.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5);
  });

  test('an upgraded socket carries nothing of ours once idle: no batch tag, no admission error listener, not corked (issue 16)', async () => {
    const srv = await h.server();
    srv.on('message', (session, m) => session.send({ payload: m.payload }));
    const c = await h.session(srv);
    c.message({ payload: new Uint8Array([1]) });
    await c.waitForCount('message', 1); // a burst was batched on this socket and released
    const session = sessionBehind(srv.sessions()[0]!) as unknown as { conn: { transport: { ws: { _socket: Socket } } } };
    const sock = session.conn.transport.ws._socket;
    expect(Object.getOwnPropertySymbols(sock).map(String)).not.toContain('Symbol(lifeline.corked)');
    expect(sock.listenerCount('error')).toBe(1); // ws's own: it destroys the socket on an error
    expect(sock.writableCorked).toBe(0);
  });
});
