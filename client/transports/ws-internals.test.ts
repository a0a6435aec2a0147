import { afterEach, describe, expect, test, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { nodeTransport } from '../node.js';
import type { TransportHandlers, TransportSocket } from '../transport.js';
import { isSenderIdle, mayFrameHere, socketOf } from './ws-internals.js';

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

/** A loopback ws server that records the binary frames it receives, and the Node transport's socket to it, open. */
async function openNodeSocket(): Promise<{ sock: TransportSocket; ws: WebSocket; received: Uint8Array[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const received: Uint8Array[] = [];
  wss.on('connection', (s) => s.on('message', (d: Buffer) => received.push(new Uint8Array(d))));
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const handlers: TransportHandlers = { onOpen: () => opened(), onBinary() {}, onText() {}, onClose() {}, onRefused() {} };
  const sock = nodeTransport({ closeGraceMs: 50 })(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, handlers, { token: undefined });
  closers.push(async () => {
    sock.close(1000, '');
    await new Promise<void>((r) => wss.close(() => r()));
    for (const c of wss.clients) c.terminate();
  });
  await open;
  // the NodeSocket's ws (a private field: this test reaches in on purpose)
  return { sock, ws: (sock as unknown as { ws: WebSocket }).ws, received };
}

describe("the Node client's reads of ws internals (client/transports/ws-internals.ts)", () => {
  test('the installed ws: an open socket without extensions may be framed here; its sender is idle (the shape pinned per field in server/transports/ws-internals.test.ts)', async () => {
    const { ws } = await openNodeSocket();
    expect(ws.extensions, "ws's public extensions with none negotiated").toBe('');
    expect(socketOf(ws), "ws's WebSocket._socket: a net.Socket with write, cork and uncork").toBeDefined();
    expect(isSenderIdle(ws), "ws's Sender._state of an idle socket is the number 0").toBe(true);
    expect(mayFrameHere(ws)).toBe(true);
  });

  test('with the shape ws 8 has, sends of one tick are framed here and written to the socket, not through ws.send (the control)', async () => {
    const { sock, ws, received } = await openNodeSocket();
    const send = vi.spyOn(ws, 'send');
    sock.send(new Uint8Array([1]));
    sock.send(new Uint8Array([2]));
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 5000, interval: 5 });
    expect(send).not.toHaveBeenCalled();
    expect(received.map((b) => b[0])).toEqual([1, 2]);
  });

  test.each([
    ['`_state` renamed', (s: Record<string, unknown>) => ((s._status = s._state), delete s._state)],
    ['`_state` not a number', (s: Record<string, unknown>) => (s._state = '0')],
    ['`_state` non-zero (ws queues)', (s: Record<string, unknown>) => (s._state = 1)],
  ])('%s: every send takes the public ws.send path, in order', async (_what, mutate) => {
    const { sock, ws, received } = await openNodeSocket();
    const internals = ws as unknown as { _sender: Record<string, unknown> };
    const realSender = internals._sender;
    // A stand-in sender with the changed shape in front of ws's own (ws.send is stubbed to hand
    // frames to the real one, so what reaches the server is still real framing, in call order).
    const standIn: Record<string, unknown> = { _state: 0 };
    mutate(standIn);
    internals._sender = standIn;
    let inSend = false;
    let writesAroundWs = 0;
    const raw = socketOf(ws)!;
    const write = raw.write.bind(raw);
    vi.spyOn(raw, 'write').mockImplementation((bytes: Uint8Array) => {
      if (!inSend) writesAroundWs++;
      return write(bytes);
    });
    const send = vi.spyOn(ws, 'send').mockImplementation(((data: Uint8Array) => {
      inSend = true;
      internals._sender = realSender;
      (WebSocket.prototype.send as (d: Uint8Array) => void).call(ws, data);
      internals._sender = standIn;
      inSend = false;
    }) as unknown as WebSocket['send']);
    try {
      for (let i = 1; i <= 3; i++) sock.send(new Uint8Array([i]));
      await vi.waitFor(() => expect(received).toHaveLength(3), { timeout: 5000, interval: 5 });
      expect(writesAroundWs, 'frames written to the socket around ws.send').toBe(0);
      expect(send).toHaveBeenCalledTimes(3);
      expect(received.map((b) => b[0])).toEqual([1, 2, 3]);
    } finally {
      internals._sender = realSender; // ws's close needs its own
    }
  });

  test('mayFrameHere is false for a socket without the net.Socket methods, or with an extension', () => {
    const sock = { write() {}, cork() {}, uncork() {} };
    expect(mayFrameHere({ extensions: '', _socket: sock } as unknown as WebSocket)).toBe(true);
    expect(mayFrameHere({ extensions: 'permessage-deflate', _socket: sock } as unknown as WebSocket)).toBe(false);
    expect(mayFrameHere({ extensions: undefined, _socket: sock } as unknown as WebSocket)).toBe(false);
    expect(mayFrameHere({ extensions: '', _socket: null } as unknown as WebSocket)).toBe(false);
    expect(mayFrameHere({ extensions: '', _socket: { write() {} } } as unknown as WebSocket)).toBe(false);
  });
});
