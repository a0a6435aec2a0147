import { create } from '@bufbuild/protobuf';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { EnvelopeSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { createLifelineLogger, REDACTED, sanitizeUrl, SessionLog, sessionLogger } from './logger.js';

const SECRET = 's3cr3t-Tok3n-42';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(s) } };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A real upgrade-shaped request carrying the secret in every header and the query. */
async function requestWithSecrets(): Promise<IncomingMessage> {
  let received: ((req: IncomingMessage) => void) | undefined;
  const got = new Promise<IncomingMessage>((r) => (received = r));
  server = createServer((req, res) => {
    received?.(req);
    res.end();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const req = request({
    host: '127.0.0.1',
    port,
    path: `/lifeline?ticket=${SECRET}&v=1&t=${encodeURIComponent(SECRET)}`,
    headers: {
      Authorization: `Bearer ${SECRET}`,
      Cookie: `sid=${SECRET}; theme=dark`,
      Referer: `http://app.example/?ticket=${SECRET}`,
      Origin: 'http://app.example',
      'X-Api-Key': SECRET,
      'Sec-WebSocket-Protocol': 'lifeline.v1',
    },
  });
  req.end();
  const incoming = await got;
  await new Promise((r) => req.once('response', r));
  return incoming;
}

describe('lifeline logger', () => {
  test('SEC-2 a full session of records never contains a token, ticket or cookie value', async () => {
    const { lines, destination } = capture();
    const log = createLifelineLogger({ level: 'trace', destination, base: { service: 'lifeline' } });
    const req = await requestWithSecrets();

    // Admission: the request as a whole, and its parts logged separately.
    log.info({ req }, 'upgrade');
    log.debug({ url: req.url, path: req.url, headers: req.headers }, 'upgrade details');
    log.info({ status: 401, why: 'ticket reused', ticket: SECRET }, 'upgrade refused');
    // Handshake: a Hello as a plain object and as a decoded Envelope (HS-12 token).
    const s = sessionLogger(log, { sessionId: 'sess-7', connId: 3, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    s.debug({ hello: { sessionId: 'sess-7', token: SECRET, channels: ['demo.counter'] } }, 'hello');
    const env = create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { token: SECRET, sessionId: 'sess-7' }) } });
    s.trace({ env }, 'frame received');
    // Authentication results, application credentials one and two levels down.
    s.info({ auth: { ticket: SECRET, principal: 'alice' } }, 'authenticated');
    s.info({ principal: { credentials: { accessToken: SECRET, refreshToken: SECRET } } }, 'principal');
    s.info({ token: SECRET, password: SECRET, secret: SECRET }, 'top-level fields');
    s.info({ res: { headers: { 'set-cookie': [`sid=${SECRET}; HttpOnly`] } } }, 'response');
    s.info({ target: `wss://user:${SECRET}@other.example/lifeline?ticket=${SECRET}` }, 'drain target');
    // Life of the session and its end.
    s.info({ rttMs: 12, seq: 42n }, 'heartbeat');
    s.warn({ err: new Error('handler failed') }, 'session failed');
    s.info({ code: 4200, name: 'HEARTBEAT_TIMEOUT' }, 'closed');
    log.flush();

    const out = lines.join('');
    expect(lines.length).toBe(13);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(encodeURIComponent(SECRET));
    expect(out).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(out).not.toContain('user:');

    // Still useful: levels, session ids, paths, header and parameter names are there.
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.level)).toEqual([30, 20, 30, 20, 10, 30, 30, 30, 30, 30, 30, 40, 30]);
    expect(records.slice(3).every((r) => r.session === 'sess-7' && r.conn === 3 && typeof r.trace_id === 'string')).toBe(true);
    const upgrade = records[0]?.req as { url: string; headers: Record<string, string> };
    expect(upgrade.url).toBe(`/lifeline?ticket=${REDACTED}&v=${REDACTED}&t=${REDACTED}`);
    expect(upgrade.headers.authorization).toBe(REDACTED);
    expect(upgrade.headers.cookie).toBe(REDACTED);
    expect(upgrade.headers['sec-websocket-protocol']).toBe('lifeline.v1');
    expect(upgrade.headers.origin).toBe('http://app.example');
    expect(records[4]?.msg).toBe('frame received');
    expect(records[9]?.target).toBe(`wss://other.example/lifeline?ticket=${REDACTED}`);
    expect(records[10]?.seq).toBe(42);
    expect((records[11]?.err as { message: string }).message).toBe('handler failed');
  });

  test('SEC-2 redaction leaves the logged objects unchanged', () => {
    const { lines, destination } = capture();
    const log = createLifelineLogger({ destination });
    const hello = { token: SECRET };
    log.info({ hello }, 'hello');
    log.flush();
    expect(hello.token).toBe(SECRET);
    expect(lines.join('')).not.toContain(SECRET);
  });

  test('SEC-2 sanitizeUrl keeps paths and parameter names, never values', () => {
    expect(sanitizeUrl('/lifeline')).toBe('/lifeline');
    expect(sanitizeUrl('/lifeline?')).toBe('/lifeline');
    expect(sanitizeUrl('/x?ticket=abc&flag')).toBe(`/x?ticket=${REDACTED}&flag=${REDACTED}`);
    expect(sanitizeUrl('/x?a=1#frag=secret')).toBe(`/x?a=${REDACTED}`);
    expect(sanitizeUrl('https://u:p@h.example:8443/p?k=v')).toBe(`https://h.example:8443/p?k=${REDACTED}`);
    expect(sanitizeUrl('/x?na%3Dme=1')).toBe(`/x?na_3Dme=${REDACTED}`);
  });

  test('levels filter records', () => {
    const { lines, destination } = capture();
    const log = createLifelineLogger({ destination, level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    log.flush();
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});

describe('SessionLog (a pino child only when a record is written)', () => {
  test('records carry the connection, trace and session ids; levels below the logger\'s write nothing', () => {
    const { lines, destination } = capture();
    const base = createLifelineLogger({ level: 'info', destination });
    let children = 0;
    const child = base.child.bind(base);
    base.child = ((...a: Parameters<typeof child>) => (children++, child(...a))) as typeof base.child;
    const conn = new SessionLog(base, { connId: 7, traceId: 'abc' });
    conn.debug({ x: 1 }, 'below the level');
    const session = conn.with({ sessionId: 'S1' });
    session.debug({ x: 2 }, 'below the level');
    expect(children).toBe(0); // nothing written: no child logger made
    session.info({ x: 3 }, 'welcome');
    conn.warn({ x: 4 }, 'socket error');
    expect(children).toBe(2);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ conn: 7, trace_id: 'abc', session: 'S1', x: 3, msg: 'welcome', level: 30 });
    expect(records[1]).toMatchObject({ conn: 7, trace_id: 'abc', x: 4, level: 40 });
    expect(records[1]).not.toHaveProperty('session');
  });
});
