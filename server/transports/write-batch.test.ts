import type { Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, test, vi } from 'vitest';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import { COPY_MAX_BYTES, holdFrame, heldBytes, MAX_HOLD_MS, writeHeld, type BatchedPeer, type HeldFrames } from './write-batch.js';
import { Harness } from '../../test/support/server.js';
import { sessionBehind } from '../session-handle.js';

const h = new Harness();
afterEach(() => h.cleanup());

const nextTick = () => new Promise<void>((r) => process.nextTick(r));

/** ws's own framing (lib/sender.js), the reference the held frames must match byte for byte. */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, o: Record<string, unknown>): Buffer[] } }).Sender;
function wsFramed(payload: Uint8Array): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(payload), { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false }));
}

/** A peer over a fake socket that records its writes (chunks per write call, corked or not). */
function fakePeer(readyState = 1) {
  const writes: Buffer[][] = [];
  let corked = 0;
  let batch: Buffer[] = [];
  const sock = {
    destroyed: false,
    cork: vi.fn(() => void corked++),
    uncork: vi.fn(() => {
      if (--corked === 0 && batch.length > 0) {
        writes.push(batch);
        batch = [];
      }
    }),
    write: vi.fn((chunk: Uint8Array, cb?: () => void) => {
      const b = Buffer.from(chunk);
      if (corked > 0) batch.push(b);
      else writes.push([b]);
      if (cb) process.nextTick(cb);
      return true;
    }),
  };
  const ws = { _socket: sock as unknown as Socket, _sender: { _state: 0 }, readyState } as unknown as WebSocket;
  const peer: BatchedPeer = { ws, held: undefined as HeldFrames | undefined };
  return { peer, sock, writes, wire: () => Buffer.concat(writes.flat()) };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('write batching (issue 7, issue 16)', () => {
  test('WIRE-1 a burst of frames leaves in one write on the next tick, for each socket, each its own WebSocket frame', async () => {
    const a = fakePeer();
    const b = fakePeer();
    const f1 = bytes(3);
    const f2 = bytes(200, 2);
    expect(holdFrame(a.peer, f1)).toBe(true);
    expect(holdFrame(a.peer, f2)).toBe(true);
    expect(holdFrame(b.peer, f1)).toBe(true);
    expect(a.sock.write).not.toHaveBeenCalled();
    expect(heldBytes(a.peer)).toBe(2 + 3 + 4 + 200); // BP-4: counted as buffered while held, headers included
    await nextTick();
    expect(a.writes).toHaveLength(1);
    expect(a.wire()).toEqual(Buffer.concat([wsFramed(f1), wsFramed(f2)]));
    expect(b.wire()).toEqual(wsFramed(f1));
    expect(heldBytes(a.peer)).toBe(0);
    holdFrame(a.peer, f1); // a new burst is held again
    await nextTick();
    expect(a.writes).toHaveLength(2);
  });

  test('WIRE-1 the bytes written are exactly ws\'s own framing of each frame, in order, for any sizes (large frames written without a copy)', async () => {
    const size = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
      { weight: 1, arbitrary: fc.constantFrom(125, 126, 127, 65_535, 65_536, COPY_MAX_BYTES, COPY_MAX_BYTES + 1, 70_000) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(size, { minLength: 1, maxLength: 12 }), async (sizes) => {
        const a = fakePeer();
        const frames = sizes.map((n, i) => bytes(n, i));
        for (const f of frames) holdFrame(a.peer, f);
        expect(heldBytes(a.peer)).toBe(frames.reduce((s, f) => s + wsFramed(f).byteLength, 0));
        await nextTick();
        expect(a.writes).toHaveLength(1); // one write, or one corked writev with large frames
        expect(a.wire().equals(Buffer.concat(frames.map(wsFramed)))).toBe(true); // not toEqual: element by element, slow at 64 KiB
      }),
      { numRuns: 150 },
    );
  });

  test('BP-4 a frame\'s callback runs once the socket has written it, and a closed socket\'s held frames are not written but called back', async () => {
    const a = fakePeer();
    const done: string[] = [];
    holdFrame(a.peer, bytes(10));
    holdFrame(a.peer, bytes(10), () => done.push('one'));
    holdFrame(a.peer, bytes(10), () => done.push('two'));
    await nextTick();
    await vi.waitFor(() => expect(done).toEqual(['one', 'two']));
    const closed = fakePeer(2); // CLOSING: ws sent a close frame of its own (CC-11)
    holdFrame(closed.peer, bytes(10), () => done.push('closed'));
    await nextTick();
    await vi.waitFor(() => expect(done).toContain('closed'));
    expect(closed.sock.write).not.toHaveBeenCalled(); // RFC 6455 §5.5.1: no data after a Close frame
  });

  test('WIRE-1 a batch holds writes at most MAX_HOLD_MS: a long fan-out tick writes what it held, then batches anew (issue 16)', async () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const a = fakePeer();
      const b = fakePeer();
      holdFrame(a.peer, bytes(1)); // the batch starts at 1000
      for (let i = 0; i < 600; i++) holdFrame(a.peer, bytes(1)); // within the bound: still held
      expect(a.sock.write).not.toHaveBeenCalled();
      now += MAX_HOLD_MS + 1;
      for (let i = 0; i < 300; i++) holdFrame(a.peer, bytes(1)); // the clock is read every 256 frames: past the bound, out now
      expect(a.writes).toHaveLength(1);
      expect(heldBytes(a.peer)).toBeGreaterThan(0); // and the frames after it are held again
      holdFrame(b.peer, bytes(1));
      await nextTick();
      expect(a.writes).toHaveLength(2);
      expect(b.writes).toHaveLength(1);
      expect(a.wire().byteLength).toBe(901 * 3);
    } finally {
      clock.mockRestore();
    }
  });

  test('WIRE-1 writeHeld writes a held burst at once (before a close or terminate), and the tick does not write it twice', async () => {
    const a = fakePeer();
    holdFrame(a.peer, bytes(5));
    writeHeld(a.peer);
    expect(a.writes).toHaveLength(1);
    await nextTick();
    expect(a.writes).toHaveLength(1);
    writeHeld(a.peer); // nothing held: nothing to do
    expect(a.writes).toHaveLength(1);
  });

  test('WIRE-1 a ws without a net.Socket, or one queueing frames itself, is not held: the caller sends with ws.send()', () => {
    const peer: BatchedPeer = { ws: {} as WebSocket, held: undefined };
    expect(holdFrame(peer, bytes(1))).toBe(false);
    const a = fakePeer();
    (a.peer.ws as unknown as { _sender: { _state: number } })._sender._state = 1; // ws deflating or reading a Blob
    expect(holdFrame(a.peer, bytes(1))).toBe(false);
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
