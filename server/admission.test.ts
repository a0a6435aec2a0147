import fc from 'fast-check';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { rawHttp, upgradeRequest } from '../testkit/raw-http.js';
import { tryConnect, type RawClient, type RawConnectOptions } from '../testkit/raw-client.js';
import { requestPath } from './admission.js';
import { createServer, type LifelineServer } from './server.js';
import { Harness, httpUrl } from '../test/support/server.js';
import { createTicketIssuer, ticketAuthenticator } from './tickets.js';

const h = new Harness();
afterEach(() => h.cleanup());

async function refusal(srv: LifelineServer, opts: RawConnectOptions = {}, query = '') {
  const r = await tryConnect(srv.url() + query, opts);
  if (r.ok) {
    h.track(r.client);
    return { status: 101, headers: {} as Record<string, string | string[] | undefined> };
  }
  return r.refusal;
}

/** An upgrade request with arbitrary headers (ws's client always sends a proper one). */
function rawUpgrade(srv: LifelineServer, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(httpUrl(srv, srv.opts.path), { headers: { Connection: 'Upgrade', ...headers } });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

/** SEC-4: an established session is untouched by what happens to other connections. */
async function expectAlive(c: RawClient): Promise<void> {
  const id = c.heartbeat();
  await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
  expect(c.isOpen).toBe(true);
}

describe('admission at the upgrade', () => {
  test('HS-1 a plain GET on the Lifeline path gets 426 with Upgrade: websocket, and so does an upgrade to another protocol', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const res = await fetch(httpUrl(srv, srv.opts.path));
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    const r = await rawUpgrade(srv, { Upgrade: 'h2c' });
    expect(r.status).toBe(426);
    expect(r.headers.upgrade).toBe('websocket');
    await expectAlive(bystander);
  });

  test('HS-6 a server that is not ready refuses upgrades with 503 and Retry-After', async () => {
    const srv = await h.server({ retryAfterSeconds: 3 });
    const bystander = await h.session(srv);
    srv.setReady(false);
    const r = await refusal(srv);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('3');
    srv.setReady(true);
    expect((await refusal(srv)).status).toBe(101);
    await expectAlive(bystander);
  });

  test('HS-5 the per-IP upgrade rate limit answers 429 with Retry-After', async () => {
    const srv = await h.server({ upgradeRatePerSecond: 0.5, upgradeBurst: 2 });
    const bystander = await h.session(srv);
    expect((await refusal(srv)).status).toBe(101);
    const r = await refusal(srv);
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await expectAlive(bystander);
  });

  test('HS-2 SEC-1 an Origin outside the allowlist gets 403 before the WebSocket exists', async () => {
    const srv = await h.server({ allowedOrigins: ['https://app.example'] });
    const bystander = await h.session(srv, {}, { origin: 'https://app.example' });
    expect((await refusal(srv, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await refusal(srv, { origin: 'https://app.example' })).status).toBe(101);
    expect(srv.stats().connections).toBe(2); // the refused one never became a socket
    await expectAlive(bystander);
  });

  test('SEC-10 SEC-1 a server whose authentication reads cookies refuses to start without an Origin allowlist', async () => {
    expect(() => createServer({ authentication: 'cookie', authenticate: () => 'alice' })).toThrow(/allowedOrigins.*SEC-1/s); // SEC-10
    const srv = await h.server({ authentication: 'cookie', allowedOrigins: ['https://app.example'], authenticate: (req) => (req.headers.cookie === 'sid=ok' ? 'alice' : undefined) });
    expect((await refusal(srv, { origin: 'https://evil.example', headers: { Cookie: 'sid=ok' } })).status).toBe(403);
    expect((await refusal(srv, { origin: 'https://app.example', headers: { Cookie: 'sid=ok' } })).status).toBe(101);
  });

  test('HS-2 allowOrigins() replaces the allowlist in force (the demo, once its port is known)', async () => {
    const srv = await h.server();
    expect((await refusal(srv, { origin: 'https://evil.example' })).status).toBe(101);
    srv.allowOrigins(['https://app.example']);
    expect(srv.originAllowlist()).toEqual(['https://app.example']);
    expect((await refusal(srv, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await refusal(srv, { origin: 'https://app.example' })).status).toBe(101);
    expect(() => srv.allowOrigins(['https://app.example/'])).toThrow(RangeError);
  });

  test('HS-3 an upgrade without lifeline.v1 gets 400; with it, lifeline.v1 is selected', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    expect((await refusal(srv, { protocols: [] })).status).toBe(400);
    expect((await refusal(srv, { protocols: ['graphql-ws'] })).status).toBe(400);
    const r = await tryConnect(srv.url(), { protocols: ['x', 'lifeline.v1'] });
    expect(r.ok).toBe(true);
    if (r.ok) {
      h.track(r.client);
      expect(r.client.ws.protocol).toBe('lifeline.v1');
    }
    await expectAlive(bystander);
  });

  test('HS-3 a malformed websocket upgrade (bad key, no version) gets 400', async () => {
    const srv = await h.server();
    const base = { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'lifeline.v1', 'Sec-WebSocket-Version': '13' };
    expect((await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Key': 'short' })).status).toBe(400);
    const { 'Sec-WebSocket-Version': _v, ...noVersion } = base;
    expect((await rawUpgrade(srv, { ...noVersion, 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' })).status).toBe(400);
    expect((await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' })).status).toBe(101);
  });

  test('HS-17 an upgrade of another WebSocket version gets 426 with Sec-WebSocket-Version: 13, before the 503 check', async () => {
    const srv = await h.server();
    const base = { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'lifeline.v1', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    for (const v of ['8', '12', '14', '13, 8', ' 13x']) {
      const r = await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Version': v });
      expect(r.status, `version ${v}`).toBe(426);
      expect(r.headers['sec-websocket-version']).toBe('13');
      expect(r.headers.upgrade).toBe('websocket');
    }
    srv.setReady(false); // HS-7: the 426 check comes first
    expect((await rawUpgrade(srv, { ...base, 'Sec-WebSocket-Version': '8' })).status).toBe(426);
  });

  test('HS-18 an upgrade over HTTP/1.0 gets 400; the same request over HTTP/1.1 gets 101', async () => {
    const srv = await h.server();
    const { port, address } = srv.httpServer.address() as AddressInfo;
    const bystander = await h.session(srv);
    const r10 = await rawHttp(address, port, upgradeRequest(srv.opts.path, `${address}:${port}`, {}, '1.0'));
    expect(r10.status).toBe(400);
    const r11 = await rawHttp(address, port, upgradeRequest(srv.opts.path, `${address}:${port}`, {}, '1.1'));
    expect(r11.status).toBe(101);
    await expectAlive(bystander);
  });

  test('HS-4 an upgrade that authentication rejects gets 401', async () => {
    const srv = await h.server({ authenticate: (req) => (req.headers.authorization === 'Bearer good' ? 'alice' : undefined) });
    const bystander = await h.session(srv, {}, { headers: { Authorization: 'Bearer good' } });
    expect((await refusal(srv, { headers: { Authorization: 'Bearer bad' } })).status).toBe(401);
    expect((await refusal(srv)).status).toBe(401);
    await expectAlive(bystander);
    expect(srv.sessions()[0]?.principal).toBe('alice');
  });

  test('HS-4 an asynchronous authenticate that throws refuses with 401, and the server keeps serving', async () => {
    const srv = await h.server({
      authenticate: async (req) => {
        if (req.headers.authorization === 'Bearer good') return 'bob';
        throw new Error('auth backend down');
      },
    });
    const bystander = await h.session(srv, {}, { headers: { Authorization: 'Bearer good' } });
    expect((await refusal(srv, { headers: { Authorization: 'Bearer x' } })).status).toBe(401);
    await expectAlive(bystander);
  });

  test('HS-13 a query ticket works once, then gets 401; an expired ticket gets 401', async () => {
    let now = 0;
    const tickets = createTicketIssuer({ ttlMs: 1000, clock: { now: () => now } });
    const srv = await h.server({ authenticate: ticketAuthenticator(tickets) });
    const t = tickets.issue('carol');
    const first = await refusal(srv, {}, `?ticket=${t}`);
    expect(first.status).toBe(101);
    expect(srv.stats().connections).toBe(1);
    expect((await refusal(srv, {}, `?ticket=${t}`)).status).toBe(401);
    const late = tickets.issue('carol');
    now += 1001;
    expect((await refusal(srv, {}, `?ticket=${late}`)).status).toBe(401);
    expect(tickets.outstanding).toBe(0);
  });

  test('HS-7 the checks apply in the order 426, 503, 429, 403, 400, 401', async () => {
    const srv = await h.server({
      allowedOrigins: ['https://app.example'],
      upgradeRatePerSecond: 0.001,
      upgradeBurst: 1,
      authenticate: (req) => (req.headers.authorization === 'Bearer good' ? 'dave' : undefined),
    });
    const good: RawConnectOptions = { origin: 'https://app.example', headers: { Authorization: 'Bearer good' } };
    expect((await refusal(srv, good)).status).toBe(101); // uses the only token
    const allBad: RawConnectOptions = { origin: 'https://evil.example', protocols: [], headers: { Authorization: 'Bearer bad' } };
    srv.setReady(false);
    expect((await rawUpgrade(srv, { Upgrade: 'h2c', Origin: 'https://evil.example' })).status).toBe(426);
    expect((await refusal(srv, allBad)).status).toBe(503);
    srv.setReady(true);
    expect((await refusal(srv, allBad)).status).toBe(429);
    const srv2 = await h.server({ allowedOrigins: ['https://app.example'], authenticate: (req) => (req.headers.authorization === 'Bearer good' ? 'dave' : undefined) });
    expect((await refusal(srv2, allBad)).status).toBe(403);
    expect((await refusal(srv2, { ...allBad, origin: 'https://app.example' })).status).toBe(400);
    expect((await refusal(srv2, { ...allBad, origin: 'https://app.example', protocols: ['lifeline.v1'] })).status).toBe(401);
  });

  test('HS-7 an upgraded socket without Hello holds no session state', async () => {
    const srv = await h.server();
    await h.client(srv);
    await h.client(srv);
    expect(srv.stats()).toMatchObject({ connections: 2, sessions: 0 });
  });

  test('DR-1 /healthz answers 200 while serving; /readyz 200 when ready, 503 when not', async () => {
    const srv = await h.server();
    expect((await fetch(httpUrl(srv, '/healthz'))).status).toBe(200);
    expect((await fetch(httpUrl(srv, '/readyz'))).status).toBe(200);
    srv.setReady(false);
    expect((await fetch(httpUrl(srv, '/readyz'))).status).toBe(503);
    expect((await fetch(httpUrl(srv, '/healthz'))).status).toBe(200);
    expect((await fetch(httpUrl(srv, '/nothing-here'))).status).toBe(404);
  });

  test('SEC-2 HS-13 logs never carry the ticket, the Hello token or cookies', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const tickets = createTicketIssuer();
    const srv = await h.server({
      logger: pino({ level: 'trace' }, sink),
      authenticate: ticketAuthenticator(tickets),
      authenticateHello: (token) => (token === 'hello-secret-token' ? 'zoe' : undefined),
    });
    const t = tickets.issue('zoe');
    const c = await h.client(srv, { headers: { Cookie: 'sid=cookie-secret-value' } }, `?ticket=${t}`);
    await c.handshake({ token: 'hello-secret-token' });
    expect((await refusal(srv, { headers: { Cookie: 'sid=cookie-secret-value' } }, `?ticket=${t}`)).status).toBe(401); // reused
    const bad = await h.client(srv, {}, `?ticket=${tickets.issue('zoe')}`);
    bad.hello({ token: 'wrong-secret-token' });
    await bad.waitForClose();
    await srv.drain({ deadlineMs: 100, spreadMs: 10 });
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [t, 'hello-secret-token', 'wrong-secret-token', 'cookie-secret-value']) expect(logs).not.toContain(secret);
  });
});

describe('requestPath (issue 16: the endpoint path without a URL parse)', () => {
  test('HS-7 equals the URL pathname for any request target and endpoint path', () => {
    const piece = fc.constantFrom('/', 'lifeline', 'a', '.', '..', '%2e', '%41', ' ', '?', '#', '\\', '//', ';', '@', ':', 'é', '~', '&', '=');
    const path = fc.array(piece, { maxLength: 6 }).map((xs) => xs.join(''));
    const endpoint = fc.oneof(fc.constantFrom('/lifeline', '/', '/ws/v1', '/a b', '/a/../b', '//x', '/%41'), path.map((p) => `/${p}`));
    fc.assert(
      fc.property(endpoint, path, fc.boolean(), (ep, rest, isOwn) => {
        const url = isOwn ? ep + rest : `/${rest}`;
        const outcome = (f: () => string): string => {
          try {
            return f();
          } catch (err) {
            return `throws ${(err as { code?: string }).code}`; // as admitUpgrade did: an invalid target rejects
          }
        };
        expect(outcome(() => requestPath(url, ep))).toBe(outcome(() => new URL(url, 'http://localhost').pathname));
      }),
      { numRuns: 3000 },
    );
    expect(requestPath(undefined, '/lifeline')).toBe('/');
  });
});
