import { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { systemClock } from '../../spec/protocol/clock.js';
import { WsPeer } from './ws.js';
import { isSenderIdle, mayWriteDirect, releaseChunkList, socketOf } from './ws-internals.js';

const nextTick = () => new Promise<void>((r) => process.nextTick(r));

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

/** A loopback pair of real ws sockets: [server side, client side]. */
async function wsPair(perMessageDeflate = false): Promise<[WebSocket, WebSocket]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const accepted = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate });
  closers.push(async () => {
    client.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });
  await new Promise<void>((r, j) => {
    client.once('open', () => r());
    client.once('error', j);
  });
  const server = await accepted;
  server.on('error', () => undefined);
  return [server, client];
}

type Shape = { _socket?: unknown; _sender?: { _state?: unknown } | null; _receiver?: { _buffers?: unknown } | null };
const shape = (ws: WebSocket) => ws as unknown as Shape;

describe('the installed ws has the shape ws-internals.ts reads (a ws upgrade that changes it fails here, naming the field)', () => {
  test('each side: `_socket` is its net.Socket, `_sender._state` is the number 0 while ws queues nothing, `_receiver._buffers` an array, `extensions` empty without deflate', async () => {
    for (const [side, ws] of (await wsPair()).map((w, i) => [i === 0 ? 'server' : 'client', w] as const)) {
      const s = shape(ws);
      expect(s._socket instanceof Socket, `${side}: ws's WebSocket._socket is no longer a net.Socket (server/transports/ws-internals.ts, client/transports/ws-internals.ts write frames to it)`).toBe(true);
      expect(typeof s._sender, `${side}: ws's WebSocket._sender is gone (its Sender; ws-internals.ts reads _sender._state)`).toBe('object');
      expect(typeof s._sender?._state, `${side}: ws's Sender._state is no longer a number (ws-internals.ts reads it as "ws queues frames" unless it is 0)`).toBe('number');
      expect(s._sender?._state, `${side}: ws's Sender._state of an idle sender is no longer 0 (its DEFAULT)`).toBe(0);
      expect(Array.isArray(s._receiver?._buffers), `${side}: ws's Receiver._buffers is no longer an array (server/transports/ws-internals.ts releaseChunkList)`).toBe(true);
      expect(ws.extensions, `${side}: ws's public extensions is no longer '' with none negotiated (client/transports/ws-internals.ts mayFrameHere)`).toBe('');
      expect(mayWriteDirect(ws), `${side}: an idle socket of the installed ws takes the direct write path`).toBe(true);
    }
  });

  test('`_sender._state` is non-zero while ws queues: reading a Blob, and compressing (permessage-deflate)', async () => {
    const [server, client] = await wsPair();
    const got = new Promise((r) => client.once('message', r));
    server.send(new Blob([new Uint8Array([1, 2, 3])]));
    expect(shape(server)._sender?._state, "ws's Sender._state while it reads a Blob (GET_BLOB_DATA): frames sent meanwhile wait in its queue").not.toBe(0);
    expect(isSenderIdle(server)).toBe(false);
    await got;
    expect(shape(server)._sender?._state, "ws's Sender._state once the Blob's frame is out").toBe(0);

    const [dServer, dClient] = await wsPair(true);
    expect(dClient.extensions, 'permessage-deflate negotiated').toContain('permessage-deflate');
    const got2 = new Promise((r) => dClient.once('message', r));
    dServer.send(new Uint8Array(2048).fill(7));
    expect(shape(dServer)._sender?._state, "ws's Sender._state while it compresses (DEFLATING)").not.toBe(0);
    await got2;
    expect(shape(dServer)._sender?._state).toBe(0);
  });
});

/** A stand-in of ws's WebSocket with the given internals, whose public send() records its frames. */
function standIn(internals: Shape) {
  const sock = { destroyed: false, write: vi.fn(() => true), cork: vi.fn(), uncork: vi.fn() };
  const ws = { readyState: 1, OPEN: 1, CONNECTING: 0, CLOSING: 2, CLOSED: 3, bufferedAmount: 0, send: vi.fn(), _socket: sock, _sender: { _state: 0 }, ...internals };
  const peer = new WsPeer(ws as unknown as WebSocket, { maxPayloadBytes: 1 << 20, closeTimeoutMs: 1000, timers: systemClock });
  return { ws, sock, peer };
}

describe('an unknown shape of ws internals takes the public ws.send() path (fails safe)', () => {
  const frame = new Uint8Array([8, 1]);
  test.each([
    ['`_state` renamed', { _sender: { _status: 0 } as unknown as { _state?: unknown } }],
    ['`_state` not a number', { _sender: { _state: '0' } }],
    ['`_sender` missing', { _sender: undefined }],
    ['`_sender` null', { _sender: null }],
    ['`_socket` null', { _socket: null }],
    ['`_socket` missing', { _socket: undefined }],
    ['`_socket` without write', { _socket: { destroyed: false, cork() {}, uncork() {} } }],
  ])('%s: the frame goes through ws.send, nothing is written to the socket directly', async (_what, internals) => {
    const { ws, sock, peer } = standIn(internals);
    expect(mayWriteDirect(ws as unknown as WebSocket)).toBe(false);
    peer.write(frame);
    peer.write(frame);
    await nextTick();
    expect(ws.send).toHaveBeenCalledTimes(2);
    expect(ws.send.mock.calls[0]?.[0]).toBe(frame);
    expect(sock.write).not.toHaveBeenCalled();
  });

  test('the shape ws 8 has: the frames are held and written to the socket on the next tick, not through ws.send (the control)', async () => {
    const { ws, sock, peer } = standIn({});
    peer.write(frame);
    peer.write(frame);
    expect(sock.write).not.toHaveBeenCalled();
    await nextTick();
    expect(sock.write).toHaveBeenCalledTimes(1);
    expect(ws.send).not.toHaveBeenCalled();
  });

  test('socketOf reads only a socket it can write to', () => {
    const ok = { write() {}, cork() {}, uncork() {} };
    expect(socketOf({ _socket: ok } as unknown as WebSocket)).toBe(ok);
    expect(socketOf({ _socket: 'x' } as unknown as WebSocket)).toBeUndefined();
    expect(socketOf({ _socket: { write() {}, cork() {} } } as unknown as WebSocket)).toBeUndefined();
  });

  test('releaseChunkList replaces only an empty array; any other `_buffers` (or receiver) is left as it is', () => {
    const empty: unknown[] = [];
    const a = { _receiver: { _buffers: empty } };
    releaseChunkList(a as unknown as WebSocket);
    expect(a._receiver._buffers).not.toBe(empty);
    expect(a._receiver._buffers).toEqual([]);
    const notArray = { length: 0 };
    const b = { _receiver: { _buffers: notArray } };
    releaseChunkList(b as unknown as WebSocket);
    expect(b._receiver._buffers).toBe(notArray);
    const full = [Buffer.alloc(1)];
    const c = { _receiver: { _buffers: full } };
    releaseChunkList(c as unknown as WebSocket);
    expect(c._receiver._buffers).toBe(full);
    expect(() => releaseChunkList({ _receiver: null } as unknown as WebSocket)).not.toThrow();
    expect(() => releaseChunkList({} as unknown as WebSocket)).not.toThrow();
  });
});
