/**
 * The observability seams wired into a real server over loopback (issue 8): metrics scraped from
 * /metrics, a span per session, logs without secrets, live inspection.
 */
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { ResumeOutcome } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { tryConnect } from '../testkit/raw-client.js';
import { createServerInspector, type ServerInspector } from './observability/inspect.js';
import { createLifelineLogger } from './observability/logger.js';
import { createLifelineMetrics } from './observability/metrics.js';
import { Harness, httpUrl } from '../test/support/server.js';
import { createTicketIssuer } from './tickets.js';
import type { LifelineServer } from './server.js';

const h = new Harness();
let receiver: WebSocketServer | undefined;
let inspector: ServerInspector | undefined;
afterEach(async () => {
  inspector?.stop();
  inspector = undefined;
  await h.cleanup();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  receiver = undefined;
});

/** One sample of a Prometheus text exposition; 0 when the series is absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function scrape(srv: LifelineServer): Promise<string> {
  const res = await fetch(httpUrl(srv, '/metrics'));
  expect(res.status).toBe(200);
  return res.text();
}

describe('metrics on /metrics', () => {
  test('a real session moves the metrics: sessions, frames, bytes, resumes, closes, rejections, drops', async () => {
    const srv = await h.server({
      metrics: createLifelineMetrics(),
      allowedOrigins: ['http://app.example'],
      policy: 'drop-oldest',
      acceptPreferredPolicy: false,
      queueLimitMessages: 2,
    });
    const before = await scrape(srv);
    expect(sample(before, 'lifeline_connections_open')).toBe(0);
    expect(sample(before, 'lifeline_resume_total{outcome="NEW",reason="NOT_REQUESTED"}')).toBe(0);

    // Upgrade refusals, by status (HS-2, HS-3).
    expect((await tryConnect(srv.url(), { origin: 'http://evil.example' })).ok).toBe(false);
    expect((await tryConnect(srv.url(), { protocols: [] })).ok).toBe(false);

    const c = await h.session(srv, { channels: ['feed'], receiveWindow: 1 });
    c.heartbeat(1n, 3);
    await c.waitForBody('heartbeatAck');
    // Window 1, queue 2: the rest of ten publishes is dropped oldest-first (BP-6).
    for (let i = 0; i < 10; i++) await srv.publish('feed', { payload: new Uint8Array([i]) });
    await c.waitForBody('message');
    const during = await scrape(srv);
    expect(sample(during, 'lifeline_connections_open')).toBe(1);
    expect(sample(during, 'lifeline_sessions_detached')).toBe(0);
    expect(sample(during, 'lifeline_queue_messages')).toBe(2);
    expect(sample(during, 'lifeline_upgrade_rejections_total{status="403",name="HTTP_ORIGIN_REJECTED",transport="ws"}')).toBe(1);
    expect(sample(during, 'lifeline_upgrade_rejections_total{status="400",name="HTTP_BAD_REQUEST",transport="ws"}')).toBe(1);
    expect(sample(during, 'lifeline_resume_total{outcome="NEW",reason="NOT_REQUESTED"}')).toBe(1);
    expect(sample(during, 'lifeline_messages_total{direction="received",body="hello"}')).toBe(1);
    expect(sample(during, 'lifeline_messages_total{direction="received",body="heartbeat"}')).toBe(1);
    expect(sample(during, 'lifeline_messages_total{direction="sent",body="welcome"}')).toBe(1);
    expect(sample(during, 'lifeline_messages_total{direction="sent",body="heartbeatAck"}')).toBe(1);
    expect(sample(during, 'lifeline_messages_total{direction="sent",body="message"}')).toBe(1);
    expect(sample(during, 'lifeline_bytes_total{direction="received"}')).toBeGreaterThan(0);
    expect(sample(during, 'lifeline_bytes_total{direction="sent"}')).toBeGreaterThan(0);
    expect(sample(during, 'lifeline_dropped_total{policy="DROP_OLDEST"}')).toBe(7);
    expect(sample(during, 'lifeline_delivery_latency_seconds_count')).toBe(1);
    expect(sample(during, 'lifeline_heartbeat_rtt_seconds_count{source="client"}')).toBe(1);

    // The socket dies; the session is kept (RS-1) and resumes by replay (RS-2).
    const sessionId = (c.bodies('welcome')[0] as { sessionId: string }).sessionId;
    c.destroy();
    await vi.waitFor(async () => expect(sample(await scrape(srv), 'lifeline_sessions_detached')).toBe(1), { timeout: 5000 });
    const c2 = await h.client(srv);
    const w = await c2.handshake({ sessionId, lastServerSeq: 0n, channels: ['feed'], receiveWindow: 1 });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    c2.close(codeOf('NORMAL'));
    await c2.waitForClose();
    const after = await scrape(srv);
    expect(sample(after, 'lifeline_resume_total{outcome="RESUMED",reason="REPLAYED"}')).toBe(1);
    expect(sample(after, 'lifeline_closes_total{code="1006",name="ABNORMAL"}')).toBe(1);
    await vi.waitFor(async () => expect(sample(await scrape(srv), 'lifeline_closes_total{code="1000",name="NORMAL"}')).toBe(1), { timeout: 5000 });
    const last = await scrape(srv);
    expect(sample(last, 'lifeline_connections_open')).toBe(0);
    expect(sample(last, 'lifeline_connection_duration_seconds_count')).toBe(2);
  });

  test('/metrics is served only when metrics are on', async () => {
    const srv = await h.server();
    expect((await fetch(httpUrl(srv, '/metrics'))).status).toBe(404);
  });
});

describe('session spans', () => {
  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
  const SPAN_ID = '00f067aa0ba902b7';

  test('SEC-3 a span per session continues a valid traceparent; a malformed one starts a new trace', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const srv = await h.server({ tracer: provider.getTracer('test') });
    const good = await h.session(srv, {}, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` } });
    const bad = await h.session(srv, {}, { headers: { traceparent: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` } });
    good.close(codeOf('NORMAL'));
    bad.close(codeOf('NORMAL'));
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(2), { timeout: 5000 });
    const spans = exporter.getFinishedSpans();
    const child = spans.find((s) => s.spanContext().traceId === TRACE_ID);
    const root = spans.find((s) => s !== child);
    expect(child?.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(child?.attributes).toMatchObject({
      'lifeline.resume.outcome': 'NEW',
      'lifeline.resume.reason': 'NOT_REQUESTED',
      'lifeline.heartbeat.interval_ms': srv.opts.heartbeatIntervalMs,
      'lifeline.close.code': codeOf('NORMAL'),
    });
    expect(child?.attributes['lifeline.upgrade.duration_ms']).toBeGreaterThanOrEqual(0);
    // §16.3: a prefix of the session id, never the capability itself.
    const fullId = (good.bodies('welcome')[0] as { sessionId: string }).sessionId;
    expect(child?.attributes['lifeline.session.id']).toBe(fullId.slice(0, 8));
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.spanContext().traceId).not.toBe(TRACE_ID);
  });
});

describe('logs', () => {
  test('SEC-2 a full session through the real server logs no token, ticket or cookie value', async () => {
    const SECRET = 'S3cr3t-Lifeline-Credential-7f1c';
    const lines: string[] = [];
    const log = createLifelineLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
    const tickets = createTicketIssuer();
    const srv = await h.server({
      logger: log,
      authenticate: (req) => {
        const ticket = new URL(req.url ?? '/', 'http://localhost').searchParams.get('ticket');
        const principal = ticket ? tickets.redeem(ticket) : undefined;
        return principal !== undefined && (req.headers.cookie ?? '').includes(SECRET) ? principal : undefined;
      },
      authenticateHello: (token, p) => (token === SECRET ? p : undefined),
      onMessage: () => {
        throw new Error('handler failed'); // CC-5: logged, and the session closes 1011
      },
    });
    const headers = { cookie: `sid=${SECRET}`, authorization: `Bearer ${SECRET}`, referer: `http://app.example/?token=${SECRET}` };
    // A refused upgrade: the ticket in its URL is not redeemable.
    expect((await tryConnect(`${srv.url()}?ticket=${SECRET}`, { headers })).ok).toBe(false);
    // A session with every credential: cookie, ticket in the query, Hello token.
    const ticket = tickets.issue('alice');
    const c = h.track((await tryConnect(`${srv.url()}?ticket=${ticket}&x=${SECRET}`, { headers }).then((r) => (r.ok ? r.client : undefined)))!);
    await c.handshake({ token: SECRET, channels: ['news'] });
    c.heartbeat(1n, 2);
    c.message({ channel: 'news', payload: new TextEncoder().encode(SECRET), messageId: 'm-1' });
    expect((await c.waitForClose()).code).toBe(codeOf('INTERNAL_ERROR'));
    // A Hello with a wrong token carrying the secret in it.
    const ticket2 = tickets.issue('alice');
    const r2 = await tryConnect(`${srv.url()}?ticket=${ticket2}`, { headers });
    if (!r2.ok) throw new Error('upgrade refused');
    h.track(r2.client);
    r2.client.hello({ token: `${SECRET}-wrong` });
    expect((await r2.client.waitForClose()).code).toBe(codeOf('UNAUTHORIZED'));
    await vi.waitFor(() => expect(lines.join('')).toContain('socket closed'), { timeout: 5000 });
    log.flush();

    const all = lines.join('');
    expect(all).toContain('upgrade refused');
    expect(all).toContain('upgrade accepted');
    expect(all).toContain('welcome');
    expect(all).toContain('session failed');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(ticket); // single-use, but still a credential until redeemed
    // Records of a session carry its connection and a session id prefix (§16.3).
    const welcome = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === 'welcome');
    expect(welcome?.conn).toBeTypeOf('number');
    expect(String(welcome?.session)).toHaveLength(8);
  });
});

describe('inspector', () => {
  test('a real server session streams its actor, events and snapshots to a local receiver', async () => {
    const messages: { type: string; name?: string; definition?: string; event?: { type: string } }[] = [];
    receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    receiver.on('connection', (ws) => ws.on('message', (d) => messages.push(JSON.parse(String(d)) as (typeof messages)[number])));
    await new Promise((r) => receiver?.once('listening', r));
    inspector = createServerInspector({ url: `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}` });
    const srv = await h.server({ inspect: inspector.inspect });
    const c = await h.session(srv);
    c.heartbeat(1n, 0);
    await c.waitForBody('heartbeatAck');
    await vi.waitFor(
      () => {
        const actor = messages.find((m) => m.type === '@xstate.actor');
        expect(JSON.parse(actor?.definition ?? '{}')).toMatchObject({ id: 'serverSession' });
        expect(messages.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type)).toEqual(
          expect.arrayContaining(['frame.hello', 'frame.heartbeat']),
        );
        expect(messages.some((m) => m.type === '@xstate.snapshot')).toBe(true);
      },
      { timeout: 10_000 },
    );
  });
});
