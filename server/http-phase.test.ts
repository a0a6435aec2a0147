/**
 * The HTTP phase under hostile peers (issue 13, defect 4; spec §5.6): header
 * trickles and silent connections are cut by the declared header timeout
 * (HS-15), half-finished upgrades are bounded by the pending caps (HS-16,
 * counted on the server, not timed), and an upgrade its authentication never
 * answers gets 503 within the handshake timeout.
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { rawHttp, upgradeRequest } from '../testkit/raw-http.js';
import { lifelineHttpServerOptions } from './options.js';
import { createServer, type LifelineServer } from './server.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h.cleanup();
});

/** Allowance for a loaded 2-core machine on top of declared bounds (timers and the event loop run late). */
const ALLOWANCE_MS = 1500;

function addr(srv: LifelineServer): { host: string; port: number } {
  const a = srv.httpServer.address() as AddressInfo;
  return { host: a.address, port: a.port };
}

const held = (srv: LifelineServer) => new Promise<number>((r) => srv.httpServer.getConnections((_e, n) => r(n)));

/** A TCP connection that sends `text` and then nothing; `closed` flips when the server closes it. */
function halfUpgrade(srv: LifelineServer, localAddress = '127.0.0.1'): { socket: Socket; state: { isClosed: boolean } } {
  const { host, port } = addr(srv);
  const state = { isClosed: false };
  const socket = connect({ host, port, localAddress });
  sockets.push(socket);
  socket.on('error', () => undefined);
  socket.resume(); // read the server's answer, so its close reaches us
  socket.on('connect', () => socket.write(`GET ${srv.opts.path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`));
  socket.on('close', () => (state.isClosed = true));
  return { socket, state };
}

describe('HTTP phase: timeouts (HS-15)', () => {
  test('HS-15 a 1-byte header trickle and a silent connection are cut within headersTimeoutMs + check interval', async () => {
    const srv = await h.server({ headersTimeoutMs: 300, requestTimeoutMs: 600, heartbeatIntervalMs: 30_000 }); // the bystander sends no Heartbeats (HB-7)
    const bystander = await h.session(srv);
    const { host, port } = addr(srv);
    const bound = srv.opts.headersTimeoutMs + srv.opts.httpCheckIntervalMs + ALLOWANCE_MS;
    const full = upgradeRequest(srv.opts.path, `${host}:${port}`, { 'X-Pad': 'a'.repeat(2000) });
    const t0 = performance.now();
    const trickle = connect({ host, port });
    const silent = connect({ host, port });
    sockets.push(trickle, silent);
    const closedAt = (s: Socket) =>
      new Promise<number>((resolve) => {
        s.on('error', () => undefined);
        s.resume();
        s.on('close', () => resolve(performance.now() - t0));
      });
    const [trickleMs, silentMs] = await Promise.all([
      closedAt(trickle),
      closedAt(silent),
      (async () => {
        // One byte every 20 ms: never the end of the head, always "active".
        for (let i = 0; i < full.length && !trickle.destroyed; i++) {
          trickle.write(full[i]!);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    ]);
    expect(trickleMs).toBeLessThan(bound);
    expect(silentMs).toBeLessThan(bound);
    // Not cut long before the declared timeout (a timeout of the wrong unit would be).
    expect(trickleMs).toBeGreaterThanOrEqual(srv.opts.headersTimeoutMs * 0.9);
    const id = bystander.heartbeat();
    await bystander.waitForBody('heartbeatAck', 5000, (a) => a.id === id); // SEC-4
  });

  test('HS-15 the timeouts default to the handshake timeout, and the created HTTP server carries them', () => {
    const o = lifelineHttpServerOptions({ handshakeTimeoutMs: 4000 });
    expect(o).toMatchObject({ headersTimeout: 4000, requestTimeout: 8000, connectionsCheckingInterval: 1000 });
    expect(lifelineHttpServerOptions()).toMatchObject({ headersTimeout: 5000, requestTimeout: 10_000 });
    expect(() => lifelineHttpServerOptions({ headersTimeoutMs: 500, requestTimeoutMs: 100 })).toThrow(RangeError);
    const srv = createServer({ headersTimeoutMs: 700 });
    expect(srv.httpServer.headersTimeout).toBe(700);
    expect(srv.httpServer.requestTimeout).toBe(1400);
    void srv.close();
  });

  test('HS-15 a shared HTTP server with looser timeouts gets a warning; one made with lifelineHttpServerOptions() does not', async () => {
    let logs = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((logs += c.toString()), cb()) });
    const loose = createHttpServer();
    const a = createServer({ httpServer: loose, logger: pino({ level: 'warn' }, sink) });
    expect(logs).toContain('HS-15');
    logs = '';
    const tight = createHttpServer(lifelineHttpServerOptions({ handshakeTimeoutMs: 2000 }));
    const b = createServer({ httpServer: tight, handshakeTimeoutMs: 2000, logger: pino({ level: 'warn' }, sink) });
    expect(logs).toBe('');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('HTTP phase: pending upgrades (HS-16)', () => {
  test('HS-16 half-finished upgrades from one address hold at most maxPendingUpgradesPerIp connections; other addresses still get in', async () => {
    const cap = 20;
    // Long timeouts: only the cap may bound them here.
    const srv = await h.server({ headersTimeoutMs: 60_000, maxPendingUpgradesPerIp: cap, maxPendingUpgrades: 1000, heartbeatIntervalMs: 30_000 });
    const bystander = await h.session(srv);
    const conns = Array.from({ length: 100 }, () => halfUpgrade(srv));
    await vi.waitFor(async () => {
      expect(conns.filter((c) => !c.state.isClosed).length).toBe(cap);
      expect(await held(srv)).toBe(cap + 1); // + the bystander's WebSocket
    }, { timeout: 10_000, interval: 50 });
    // Another client address is not affected by this one's cap.
    const { host, port } = addr(srv);
    const other = await rawHttp(host, port, upgradeRequest(srv.opts.path, `${host}:${port}`), { localAddress: '127.0.0.2' });
    expect(other.status).toBe(101);
    // Released when they close: the address gets in again.
    for (const c of conns) c.socket.destroy();
    await vi.waitFor(async () => expect(await held(srv)).toBe(1), { timeout: 10_000, interval: 50 });
    const again = await rawHttp(host, port, upgradeRequest(srv.opts.path, `${host}:${port}`));
    expect(again.status).toBe(101);
    const id = bystander.heartbeat();
    await bystander.waitForBody('heartbeatAck', 5000, (a) => a.id === id); // SEC-4
  });

  test('HS-16 half-finished upgrades from many addresses hold at most maxPendingUpgrades connections', async () => {
    const cap = 30;
    const srv = await h.server({ headersTimeoutMs: 60_000, maxPendingUpgradesPerIp: 1000, maxPendingUpgrades: cap });
    const conns = Array.from({ length: 90 }, (_, i) => halfUpgrade(srv, `127.0.0.${2 + (i % 3)}`));
    await vi.waitFor(async () => {
      expect(conns.filter((c) => !c.state.isClosed).length).toBe(cap);
      expect(await held(srv)).toBe(cap);
    }, { timeout: 10_000, interval: 50 });
  });

  test('HS-16 an upgrade whose authentication never answers gets 503 with Retry-After within the handshake timeout', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 300, authenticate: () => new Promise<string | undefined>(() => undefined) });
    const { host, port } = addr(srv);
    const r = await rawHttp(host, port, upgradeRequest(srv.opts.path, `${host}:${port}`), { timeoutMs: 5000 });
    expect(r.status).toBe(503);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.ms).toBeGreaterThanOrEqual(300 * 0.9);
    expect(r.ms).toBeLessThan(300 + ALLOWANCE_MS);
    expect(await held(srv)).toBeLessThanOrEqual(1);
  });

  test('HS-16 on a shared HTTP server, upgrades beyond the cap get 503 at once (in the 503 step of HS-7)', async () => {
    const http = createHttpServer(lifelineHttpServerOptions({ handshakeTimeoutMs: 10_000 }));
    const srv = createServer({ httpServer: http, handshakeTimeoutMs: 10_000, maxPendingUpgradesPerIp: 3, authenticate: () => new Promise<string | undefined>(() => undefined) });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const { port } = http.address() as AddressInfo;
      const req = upgradeRequest('/lifeline', `127.0.0.1:${port}`);
      const waiting = [0, 1, 2].map(() => rawHttp('127.0.0.1', port, req, { timeoutMs: 1500 }));
      await vi.waitFor(async () => expect(await new Promise<number>((r) => http.getConnections((_e, n) => r(n)))).toBe(3), { timeout: 5000, interval: 20 });
      const over = await rawHttp('127.0.0.1', port, req, { timeoutMs: 5000 });
      expect(over.status).toBe(503);
      expect(over.headers['retry-after']).toBeDefined();
      // HS-7: the 426 check still comes first.
      expect((await rawHttp('127.0.0.1', port, upgradeRequest('/lifeline', `127.0.0.1:${port}`, { 'Sec-WebSocket-Version': '8' }))).status).toBe(426);
      for (const w of await Promise.all(waiting)) expect(w.status).toBe(0); // still waiting when the client gave up
    } finally {
      await srv.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
  });
});
