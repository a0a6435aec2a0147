import { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { ClientEvent, LifelineClient, TokenContext } from './create-client.js';
import { createClient } from './create-client.js';
import { createNodeClient, parseRetryAfterMs } from './node.js';
import { bodies, env, FakeServer } from '../test/support/client.js';
import type { WebSocketConstructorLike } from './transport.js';

let server: FakeServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

const wait = { timeout: 5000, interval: 5 };

describe('client over real loopback sockets', () => {
  test('HS-3 HS-8 SEQ-5 the browser transport (ws as WebSocket) offers lifeline.v1, says Hello, sends and is acked', async () => {
    server = await FakeServer.start();
    client = createClient({ url: server.url, WebSocket: WebSocket as unknown as WebSocketConstructorLike, channels: ['a'] });
    const conn = await server.conn(0);
    expect(conn.req.headers['sec-websocket-protocol']).toBe('lifeline.v1');
    const hello = await conn.hello();
    expect(hello.channels).toEqual(['a']);
    conn.welcome({ sessionId: 'S', heartbeatIntervalMs: 10_000 });
    await vi.waitFor(() => expect(client?.state).toBe('connected'), wait);
    const sent = client.send('hello');
    const m = await conn.waitFor((f) => bodies(f, 'message')[0]);
    expect(new TextDecoder().decode(m.payload)).toBe('hello');
    conn.send(env.ack(m.seq));
    await sent;
    conn.send(env.message(1n, 'from server'));
    const ack = await conn.waitFor((f) => bodies(f, 'ack')[0]);
    expect(ack.seq).toBe(1n);
  });

  test('HB-4 a server that stops answering is closed with HEARTBEAT_TIMEOUT within interval × (missed + 1)', async () => {
    server = await FakeServer.start();
    const events: ClientEvent<Uint8Array>[] = [];
    client = createNodeClient({ url: server.url, reconnectBaseMs: 5_000 });
    client.onEvent((e) => events.push(e));
    const conn = await server.conn(0);
    await conn.hello();
    const t0 = Date.now();
    conn.welcome({ heartbeatIntervalMs: 30, heartbeatMissedMax: 1 });
    const closed = await conn.closed;
    const took = Date.now() - t0;
    expect(closed.code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(took).toBeGreaterThanOrEqual(55); // 30 × 2, less timer granularity
    expect(took).toBeLessThan(2000);
    expect(bodies(conn.frames, 'heartbeat').length).toBeGreaterThanOrEqual(1); // HB-5
    expect(client.state).toBe('reconnecting');
  });

  test('HS-6 RC-8 an HTTP 503 refusal is seen with its Retry-After and waited out', async () => {
    server = await FakeServer.start({ refuse: () => ({ status: 503, headers: { 'Retry-After': '2' } }) });
    const events: ClientEvent<Uint8Array>[] = [];
    client = createNodeClient({ url: server.url });
    client.onEvent((e) => events.push(e));
    await vi.waitFor(() => expect(client?.state).toBe('reconnecting'), wait);
    expect(events.find((e) => e.type === 'refused')).toMatchObject({ status: 503, retryAfterMs: 2000 });
    expect(client.reconnectInfo.delayMs).toBe(2000);
  });

  test('HS-4 RC-5 an HTTP 401 refusal makes the next getToken a forced refresh; tokens may go in upgrade headers', async () => {
    let refusals = 1;
    const auth: (string | undefined)[] = [];
    server = await FakeServer.start({
      refuse: (req) => {
        auth.push(req.headers.authorization);
        return refusals-- > 0 ? { status: 401 } : undefined;
      },
    });
    const tokens: TokenContext[] = [];
    client = createNodeClient({
      url: server.url,
      reconnectBaseMs: 20,
      getToken: (ctx) => {
        tokens.push(ctx);
        return `t${tokens.length}`;
      },
      headers: (token) => ({ authorization: `Bearer ${token}` }),
    });
    const conn = await server.conn(0);
    expect((await conn.hello()).token).toBe('t2');
    expect(tokens.map((t) => t.forceRefresh)).toEqual([false, true]);
    expect(auth).toEqual(['Bearer t1', 'Bearer t2']);
  });

  test('RC-6 HS-2 an HTTP 403 refusal (advice none) ends in failed', async () => {
    server = await FakeServer.start({ refuse: () => ({ status: 403 }) });
    client = createNodeClient({ url: server.url });
    await vi.waitFor(() => expect(client?.state).toBe('failed'), wait);
  });

  test('RC-8 Retry-After parses seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('3')).toBe(3000);
    expect(parseRetryAfterMs(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
  });
});

describe('write batching (issue 7)', () => {
  test('WIRE-1 SEQ-2 sends made while handling a burst of frames leave in one write, one Envelope per frame', async () => {
    server = await FakeServer.start();
    const c = createNodeClient({ url: server.url });
    client = c;
    const conn = await server.conn(0);
    await conn.hello();
    conn.welcome({ sessionId: 'S', heartbeatIntervalMs: 10_000 });
    await vi.waitFor(() => expect(c.state).toBe('connected'), wait);
    c.onEvent((e) => {
      if (e.type === 'message') void c.send(e.payload).catch(() => undefined); // reply to each
    });
    // The client's socket is the one whose local port the server saw as the peer's.
    const clientPort = conn.req.socket.remotePort;
    const writes: number[] = [];
    type Writes = { _writev(c: unknown[], cb: () => void): void; _write(c: unknown, e: string, cb: () => void): void };
    const proto = Socket.prototype as unknown as Writes;
    const writev = proto._writev;
    const write = proto._write;
    const spyV = vi.spyOn(proto, '_writev').mockImplementation(function (this: Socket, chunks, cb) {
      if (this.localPort === clientPort) writes.push(chunks.length);
      writev.call(this, chunks, cb);
    });
    const spyW = vi.spyOn(proto, '_write').mockImplementation(function (this: Socket, chunk, enc, cb) {
      if (this.localPort === clientPort) writes.push(1);
      write.call(this, chunk, enc, cb);
    });
    try {
      // Five Messages in one TCP write: the client reads them as one chunk.
      const serverSock = (conn.ws as unknown as { _socket: Socket })._socket;
      serverSock.cork();
      for (let i = 1; i <= 5; i++) conn.send(env.message(BigInt(i), `m${i}`));
      serverSock.uncork();
      const replies = await conn.waitFor((f) => {
        const ms = bodies(f, 'message');
        return ms.length >= 5 ? ms : undefined;
      });
      expect(replies.map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n, 5n]); // SEQ-2: each its own frame and seq
      expect(replies.map((m) => new TextDecoder().decode(m.payload))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
      // Without batching: one write per reply (5). With it: the burst's replies share a write.
      expect(writes.length).toBeGreaterThan(0);
      expect(writes.length).toBeLessThan(5);
    } finally {
      spyV.mockRestore();
      spyW.mockRestore();
    }
  });
});
