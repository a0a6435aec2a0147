import { describe, expect, test } from 'vitest';
import type { Transport, TransportHandlers } from '../client/index.js';
import { faultTransport } from './page-faults.js';

/** A transport that records what it is asked to do and lets the test play the network. */
function fakeTransport() {
  const sockets: { handlers: TransportHandlers; sent: Uint8Array[]; closed: [number, string][] }[] = [];
  const transport: Transport = (_url, handlers) => {
    const s = { handlers, sent: [] as Uint8Array[], closed: [] as [number, string][] };
    sockets.push(s);
    return { send: (b) => s.sent.push(b), close: (code, reason) => s.closed.push([code, reason]), bufferedAmount: 0 };
  };
  return { transport, sockets };
}

function recorder() {
  const seen: string[] = [];
  const handlers: TransportHandlers = {
    onOpen: () => seen.push('open'),
    onBinary: (b) => seen.push(`binary:${b.length}`),
    onText: () => seen.push('text'),
    onClose: (code) => seen.push(`close:${code}`),
    onRefused: (status) => seen.push(`refused:${status}`),
  };
  return { seen, handlers };
}

describe('demo page: drop silently', () => {
  test('HB-4 a dropped socket swallows frames both ways and never reports a close', () => {
    const net = fakeTransport();
    const f = faultTransport(net.transport);
    const r = recorder();
    const sock = f.transport('ws://x', r.handlers, { token: undefined });
    const peer = net.sockets[0];
    if (!peer) throw new Error('no socket');
    peer.handlers.onOpen();
    peer.handlers.onBinary(new Uint8Array(3));
    sock.send(new Uint8Array(1));
    expect(r.seen).toEqual(['open', 'binary:3']);
    expect(peer.sent).toHaveLength(1);

    expect(f.dropSilently()).toBe(true);
    expect(f.isDropping).toBe(true);
    peer.handlers.onBinary(new Uint8Array(5));
    peer.handlers.onText();
    peer.handlers.onClose(4200, 'server gave up'); // a black hole delivers no close either
    sock.send(new Uint8Array(2));
    sock.send(new Uint8Array(2));
    expect(r.seen).toEqual(['open', 'binary:3']);
    expect(peer.sent).toHaveLength(1);
    expect(f.swallowed).toEqual({ sent: 2, received: 2 });

    // The client's own timer gives up (HB-4): the close reaches the real socket, to free it.
    sock.close(4200, 'heartbeat timeout');
    expect(peer.closed).toEqual([[4200, 'heartbeat timeout']]);
  });

  test('HB-4 the next socket is healthy: the fault hits only the socket in use when pressed', () => {
    const net = fakeTransport();
    const f = faultTransport(net.transport);
    expect(f.dropSilently()).toBe(false); // nothing to drop yet
    f.transport('ws://x', recorder().handlers, { token: undefined });
    f.dropSilently();
    const r = recorder();
    const second = f.transport('ws://x', r.handlers, { token: undefined });
    expect(f.isDropping).toBe(false);
    net.sockets[1]?.handlers.onOpen();
    net.sockets[1]?.handlers.onBinary(new Uint8Array(1));
    second.send(new Uint8Array(1));
    // A late frame of the dropped socket stays swallowed.
    net.sockets[0]?.handlers.onBinary(new Uint8Array(9));
    expect(r.seen).toEqual(['open', 'binary:1']);
    expect(net.sockets[1]?.sent).toHaveLength(1);
    expect(f.swallowed).toEqual({ sent: 0, received: 1 });
  });

  test('HB-4 issue 15: over either transport the fault hits the session\'s socket, not a WebSocket probe beside it', () => {
    const ws = fakeTransport();
    const http = fakeTransport();
    const f = faultTransport(ws.transport);
    const overHttp = f.wrap(http.transport);
    const r = recorder();
    const session = overHttp('http://x', r.handlers, { token: undefined });
    http.sockets[0]?.handlers.onOpen();
    session.send(new Uint8Array(1)); // its Hello
    // The client probes a WebSocket while on HTTP: opened, closed 1000, nothing sent (§22.7).
    const probe = f.transport('ws://x', recorder().handlers, { token: undefined });
    ws.sockets[0]?.handlers.onOpen();
    expect(f.dropSilently()).toBe(true);
    http.sockets[0]?.handlers.onBinary(new Uint8Array(4));
    session.send(new Uint8Array(1));
    expect(r.seen).toEqual(['open']);
    expect(f.swallowed).toEqual({ sent: 1, received: 1 });
    probe.close(1000, '');
    expect(f.isDropping).toBe(true);
    // The client gives up on the silent connection (HB-4) and opens a healthy one.
    session.close(4200, 'heartbeat timeout');
    expect(f.isDropping).toBe(false);
    expect(f.dropSilently()).toBe(false); // nothing left in use
  });
});
