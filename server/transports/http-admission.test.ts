import { afterEach, describe, expect, test } from 'vitest';
import { PROTOCOL_TOKEN } from '../../spec/protocol/http-carrier.js';
import { connectRaw, tryConnect } from '../../testkit/raw-client.js';
import { createLifelineMetrics } from '../observability/metrics.js';
import type { LifelineServer } from '../server.js';
import { Harness } from '../../test/support/server.js';
import { carrierRequest, openCarrier, type CarrierClient } from '../../test/support/http-carrier-client.js';

const h = new Harness();
const carriers: CarrierClient[] = [];
afterEach(async () => {
  for (const c of carriers.splice(0)) c.destroy();
  await h.cleanup();
});

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

function carrierUrl(srv: LifelineServer): string {
  return srv.url().replace(/^ws/, 'http');
}

function openHeaders(more: Record<string, string> = {}): Record<string, string> {
  return { 'Lifeline-Http': 'open', 'Lifeline-Protocol': PROTOCOL_TOKEN, ...more };
}

async function open(srv: LifelineServer, headers: Record<string, string> = {}): Promise<CarrierClient> {
  const { answer, client } = await openCarrier(carrierUrl(srv), headers);
  expect(answer.status).toBe(200);
  if (!client) throw new Error('open refused');
  carriers.push(client);
  return client;
}

describe('HTTP carrier admission (HT-1, HT-3, HT-4, HT-5)', () => {
  test('HT-1 HS-1 a request on the path without Lifeline-Http keeps its 426; a GET carrier request 405; an unknown op 400', async () => {
    const srv = await h.server();
    const url = carrierUrl(srv);
    expect((await carrierRequest(url, {}, undefined, undefined, 'GET')).status).toBe(426);
    expect((await carrierRequest(url, {})).status).toBe(426);
    expect((await carrierRequest(url, { 'Lifeline-Http': 'open', 'Lifeline-Protocol': PROTOCOL_TOKEN }, undefined, undefined, 'GET')).status).toBe(405);
    expect((await carrierRequest(url, { 'Lifeline-Http': 'teleport', 'Lifeline-Protocol': PROTOCOL_TOKEN })).status).toBe(400);
    expect(srv.stats().connections).toBe(0);
  });

  test('HT-1 with httpTransport false the carrier is off: every request on the path is 426', async () => {
    const srv = await h.server({ httpTransport: false });
    expect((await carrierRequest(carrierUrl(srv), openHeaders())).status).toBe(426);
  });

  test('HT-3 HS-6 HS-7 a server that is not ready refuses open with 503 and Retry-After, and allocates nothing', async () => {
    const srv = await h.server({ retryAfterSeconds: 3 });
    srv.setReady(false);
    const a = await carrierRequest(carrierUrl(srv), openHeaders());
    expect(a.status).toBe(503);
    expect(a.headers['retry-after']).toBe('3');
    expect(srv.stats()).toMatchObject({ connections: 0, sessions: 0 });
  });

  test('HT-3 HS-5 one token bucket per address counts upgrades and opens together: 429 with Retry-After', async () => {
    const metrics = createLifelineMetrics();
    const srv = await h.server({ upgradeRatePerSecond: 0.01, upgradeBurst: 2, metrics });
    const ws = await tryConnect(srv.url());
    expect(ws.ok).toBe(true);
    if (ws.ok) h.track(ws.client);
    await open(srv);
    const third = await carrierRequest(carrierUrl(srv), openHeaders());
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const upgrade = await tryConnect(srv.url());
    expect(upgrade.ok ? 101 : upgrade.refusal.status).toBe(429);
    const text = await metrics.registry.metrics();
    expect(text).toContain('lifeline_upgrade_rejections_total{status="429",name="HTTP_TOO_MANY_REQUESTS",transport="http"} 1');
    expect(text).toContain('lifeline_upgrade_rejections_total{status="429",name="HTTP_TOO_MANY_REQUESTS",transport="ws"} 1');
  });

  test('HT-3 HS-2 an Origin off the allowlist gets 403 before authentication runs; requireOrigin refuses a request without one', async () => {
    let authCalls = 0;
    const srv = await h.server({ allowedOrigins: [APP], requireOrigin: true, authenticate: () => (authCalls++, 'alice') });
    expect((await carrierRequest(carrierUrl(srv), openHeaders({ Origin: EVIL }))).status).toBe(403);
    expect((await carrierRequest(carrierUrl(srv), openHeaders())).status).toBe(403);
    expect(authCalls).toBe(0);
    await open(srv, { Origin: APP });
    expect(authCalls).toBe(1);
  });

  test('HT-3 a missing or wrong Lifeline-Protocol is 400, after 403 and before 401', async () => {
    const srv = await h.server({ allowedOrigins: [APP], authenticate: () => undefined });
    const url = carrierUrl(srv);
    expect((await carrierRequest(url, { 'Lifeline-Http': 'open', Origin: EVIL })).status).toBe(403);
    expect((await carrierRequest(url, { 'Lifeline-Http': 'open', Origin: APP })).status).toBe(400);
    expect((await carrierRequest(url, { 'Lifeline-Http': 'open', 'Lifeline-Protocol': 'lifeline.v2', Origin: APP })).status).toBe(400);
    expect((await carrierRequest(url, openHeaders({ Origin: APP }))).status).toBe(401);
  });

  test('HT-3 HS-4 authenticate sees the request as an upgrade: the same query and Authorization header; 401 when it refuses', async () => {
    const seen: { url: string | undefined; auth: string | undefined }[] = [];
    const srv = await h.server({
      authenticate: (req) => {
        seen.push({ url: req.url, auth: req.headers.authorization });
        return req.headers.authorization === 'Bearer good' ? 'alice' : undefined;
      },
    });
    const url = `${carrierUrl(srv)}?ticket=t1`;
    expect((await carrierRequest(url, openHeaders({ Authorization: 'Bearer bad' }))).status).toBe(401);
    const { answer, client } = await openCarrier(url, { Authorization: 'Bearer good' });
    if (client) carriers.push(client);
    expect(answer.status).toBe(200);
    expect(seen).toEqual([
      { url: '/lifeline?ticket=t1', auth: 'Bearer bad' },
      { url: '/lifeline?ticket=t1', auth: 'Bearer good' },
    ]);
    const w = await client?.handshake();
    expect(srv.session(w?.sessionId ?? '')?.principal).toBe('alice');
  });

  test('HT-3 HS-16 an authenticate that never answers is refused 503 within the handshake timeout', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 200, authenticate: () => new Promise<string | undefined>(() => {}) });
    const a = await carrierRequest(carrierUrl(srv), openHeaders());
    expect(a.status).toBe(503);
    expect(srv.stats().connections).toBe(0);
  });

  test('HT-4 send or receive without a connection header is 400; an unknown connection 404', async () => {
    const srv = await h.server();
    const url = carrierUrl(srv);
    const base = { 'Lifeline-Protocol': PROTOCOL_TOKEN };
    expect((await carrierRequest(url, { ...base, 'Lifeline-Http': 'receive', 'Lifeline-Ack': '0' })).status).toBe(400);
    expect((await carrierRequest(url, { ...base, 'Lifeline-Http': 'receive', 'Lifeline-Ack': '0', 'Lifeline-Connection': 'AAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(404);
    expect((await carrierRequest(url, { ...base, 'Lifeline-Http': 'send', 'Lifeline-Seq': '0', 'Lifeline-Connection': 'nope' }, new Uint8Array(0))).status).toBe(404);
  });

  test('HT-4 connection ids are 128 random bits, never repeated, and never in a log line', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
    const srv = await h.server({ logger });
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const c = await open(srv);
      expect(Buffer.from(c.id, 'base64url')).toHaveLength(16);
      ids.add(c.id);
      await c.handshake();
    }
    expect(ids.size).toBe(20);
    for (const id of ids) expect(lines.join('\n')).not.toContain(id);
  });

  test('HT-4 SEC-2 the request serializer redacts Lifeline-Connection like a credential', async () => {
    const { serializeRequest } = await import('../observability/logger.js');
    const out = JSON.stringify(serializeRequest({ method: 'POST', url: '/lifeline', headers: { 'lifeline-connection': 'SECRETSECRETSECRETSECR' }, socket: {} } as never));
    expect(out).not.toContain('SECRETSECRETSECRETSECR');
  });

  test('HT-5 a preflight from an allowed Origin is 204 with the CORS headers; from another Origin 403', async () => {
    const srv = await h.server({ allowedOrigins: [APP] });
    const pre = await carrierRequest(carrierUrl(srv), { Origin: APP, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'lifeline-http, lifeline-protocol' }, undefined, undefined, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers).toMatchObject({
      'access-control-allow-origin': APP,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    const allowed = (pre.headers['access-control-allow-headers'] ?? '').split(',').map((s) => s.trim().toLowerCase());
    for (const hdr of ['lifeline-http', 'lifeline-protocol', 'lifeline-connection', 'lifeline-seq', 'lifeline-ack', 'lifeline-receive', 'content-type', 'authorization']) expect(allowed).toContain(hdr);
    expect((await carrierRequest(carrierUrl(srv), { Origin: EVIL, 'Access-Control-Request-Method': 'POST' }, undefined, undefined, 'OPTIONS')).status).toBe(403);
  });

  test('HT-5 every carrier response to an allowed Origin carries Allow-Origin, Allow-Credentials, Expose-Headers and Vary', async () => {
    const srv = await h.server({ allowedOrigins: [APP] });
    const { answer, client } = await openCarrier(carrierUrl(srv), { Origin: APP });
    if (client) carriers.push(client);
    for (const a of [answer, await client?.hello()]) {
      expect(a?.headers).toMatchObject({ 'access-control-allow-origin': APP, 'access-control-allow-credentials': 'true', vary: 'Origin' });
      expect(a?.headers['access-control-expose-headers']).toContain('Lifeline-Connection');
      expect(a?.headers['access-control-expose-headers']).toContain('Retry-After');
    }
  });

  test('HT-5 the Origin of open is pinned: a send or receive from another Origin (or none) is 403 and changes nothing', async () => {
    const received: string[] = [];
    const srv = await h.server({ allowedOrigins: ['https://a.example.com', 'https://b.example.com'], onMessage: (m) => void received.push(m.messageId) });
    const c = await open(srv, { Origin: 'https://a.example.com' });
    await c.handshake();
    const send = (origin: Record<string, string>) => c.sendRaw(Buffer.alloc(0), c.sent, { ...origin, 'Content-Type': 'application/vnd.lifeline.v1+records' });
    // the client's own headers carry Origin a; override per request
    const other = await carrierRequest(c.url, { ...c.headers('send', { 'Lifeline-Seq': String(c.sent) }), Origin: 'https://b.example.com' }, new Uint8Array(0), c.agent);
    expect(other.status).toBe(403);
    const none = c.headers('receive', { 'Lifeline-Ack': String(c.received), 'Lifeline-Receive': 'poll' });
    delete none.Origin;
    expect((await carrierRequest(c.url, none, undefined, c.agent)).status).toBe(403);
    expect((await send({})).status).toBe(204);
  });

  test('HT-14 HS-16 keep-alive sockets that carry carrier requests do not count as pending upgrades', async () => {
    const srv = await h.server({ maxPendingUpgradesPerIp: 3 });
    const clients: CarrierClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await open(srv);
      await c.handshake();
      clients.push(c);
    }
    // 4 connections, each with a receive and a send socket open (8 sockets) from one address, cap 3
    for (const c of clients) expect((await c.heartbeat()).status).toBe(204);
    const ws = await connectRaw(srv.url());
    h.track(ws);
    await ws.handshake();
  });
});
