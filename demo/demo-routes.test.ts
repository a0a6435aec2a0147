/**
 * The demo's fault routes against the real server and the reference Node client over loopback
 * (ms timings): close keeps the session (CC-7, RS-1), drain goes the whole way and the server is
 * ready again afterwards (DR-1, DR-6), and the routes guard themselves.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createNodeClient } from '../client/node.js';
import type { ClientEvent, LifelineClient } from '../client/index.js';
import { createServer, staticHandler, type LifelineServer } from '../server/index.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { createDemoApp, type DemoApp } from './app.js';
import { DEMO_CHANNELS, applyDemoPatch, decodeDemoState, encodeDemoState, type DemoState } from './demo-state.js';
import { demoRoutes, mountDemoRoutes } from './demo-routes.js';

let srv: LifelineServer | undefined;
let app: DemoApp | undefined;
let client: LifelineClient<DemoState> | undefined;
afterEach(async () => {
  client?.close();
  app?.stop();
  await srv?.close();
  client = app = srv = undefined;
});

const wait = { timeout: 10_000, interval: 10 };

type Events = ClientEvent<DemoState>[];

async function start(): Promise<{ base: string; events: Events; c: LifelineClient<DemoState> }> {
  app = createDemoApp({ tickMs: 20 });
  srv = createServer({
    ...app.hooks,
    heartbeatIntervalMs: 50,
    heartbeatMissedMax: 2,
    onRequest: staticHandler([{ prefix: '/', dir: new URL('./public', import.meta.url).pathname }]),
  });
  const addr = await srv.listen(0, '127.0.0.1');
  app.start(srv);
  const events: Events = [];
  // The page's reducer, so every ticker and counter patch is digest-checked (SD-3).
  const reducer = { snapshot: decodeDemoState, apply: applyDemoPatch, encode: encodeDemoState };
  const c = createNodeClient<DemoState>({ url: srv.url(), channels: [...DEMO_CHANNELS], reducer, reconnectBaseMs: 20, reconnectCapMs: 100, reconnectMaxAttempts: 1000, autoConnect: false });
  c.onEvent((e) => events.push(e));
  c.connect();
  client = c;
  await vi.waitFor(() => expect(c.state).toBe('connected'), wait);
  return { base: `http://127.0.0.1:${addr.port}`, events, c };
}

const post = (url: string, headers: Record<string, string> = { 'x-lifeline-demo': '1' }) => fetch(url, { method: 'POST', headers });
const welcomes = (events: Events) => events.filter((e): e is Extract<ClientEvent<DemoState>, { type: 'welcome' }> => e.type === 'welcome');

describe('demo routes', () => {
  test('CC-7 RS-1 RS-2 /demo/close closes the socket 1001 and the client resumes the same session', async () => {
    const { base, events, c } = await start();
    const id = c.sessionId ?? '';
    const seq = c.lastSeq;
    const res = await post(`${base}/demo/close?session=${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ session: id, code: codeOf('GOING_AWAY') });
    await vi.waitFor(() => expect(events.some((e) => e.type === 'closed' && e.code === codeOf('GOING_AWAY') && !e.byClient)).toBe(true), wait);
    await vi.waitFor(() => expect(welcomes(events)).toHaveLength(2), wait);
    expect(welcomes(events)[1]).toMatchObject({ sessionId: id, outcome: 'resumed' });
    await vi.waitFor(() => expect(c.lastSeq).toBeGreaterThan(seq), wait);
    expect(events.filter((e) => e.type === 'drift')).toEqual([]);
  });

  test('DR-1 DR-6 /demo/drain drains, then the server is ready again and the client resumes', async () => {
    const { base, events, c } = await start();
    const server = srv as LifelineServer;
    const id = c.sessionId ?? '';
    // DR-1: when the notice reaches the client (it has not moved yet) the server is not ready.
    const atNotice: { isReady: boolean; isDraining: boolean }[] = [];
    c.onEvent((e) => e.type === 'drain' && atNotice.push(server.stats()));
    const res = await post(`${base}/demo/drain?deadlineMs=1500&spreadMs=100`);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ connections: 1, deadlineMs: 1500, spreadMs: 100 });
    await vi.waitFor(() => expect(atNotice).toHaveLength(1), wait);
    expect(atNotice[0]).toMatchObject({ isReady: false, isDraining: true });
    await vi.waitFor(() => expect(welcomes(events)).toHaveLength(2), wait);
    expect(welcomes(events)[1]).toMatchObject({ sessionId: id, outcome: 'resumed' });
    // The replacement node: ready and accepting again.
    await vi.waitFor(async () => expect(await (await fetch(`${base}/demo/status`)).json()).toMatchObject({ isReady: true, isDraining: false, drains: 1 }), wait);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // And it can drain again.
    expect((await post(`${base}/demo/drain?deadlineMs=1500&spreadMs=0`)).status).toBe(202);
    await vi.waitFor(() => expect(welcomes(events)).toHaveLength(3), wait);
    expect(welcomes(events)[2]).toMatchObject({ sessionId: id, outcome: 'resumed' });
    expect(events.filter((e) => e.type === 'drift')).toEqual([]);
  });

  test('DR-1 a second drain is refused while one runs; the end of a drain makes the node ready again', async () => {
    // A stand-in server whose drain ends when the test says so (the real one ends when its sockets do).
    let finish = () => {};
    const calls: string[] = [];
    const fake = {
      isDraining: false,
      isReady: true,
      drainPromise: undefined as Promise<void> | undefined,
      log: { error: (o: unknown) => calls.push(`error ${String(o)}`) },
      stats() {
        return { isReady: this.isReady, isDraining: this.isDraining, sessions: 1, connections: 1 };
      },
      setReady(v: boolean) {
        calls.push(`setReady ${v}`);
        this.isReady = v;
      },
      drain(o: { deadlineMs: number; spreadMs: number }) {
        calls.push(`drain ${o.deadlineMs} ${o.spreadMs}`);
        this.isDraining = true;
        this.isReady = false;
        this.drainPromise = new Promise<void>((r) => (finish = r));
        return this.drainPromise;
      },
      async endDrain() {
        await this.drainPromise;
        calls.push('endDrain');
        this.isDraining = false;
        this.drainPromise = undefined;
        this.setReady(true);
      },
    };
    const routes = demoRoutes(fake as unknown as LifelineServer, { drainDeadlineMs: 700, drainSpreadMs: 300 });
    const http = createHttpServer((req, res) => {
      if (!routes.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      expect((await post(`${base}/demo/drain`)).status).toBe(202);
      expect((await post(`${base}/demo/drain`)).status).toBe(409);
      expect(routes.status()).toMatchObject({ isReady: false, isDraining: true, drains: 1 });
      finish();
      await routes.settled();
      expect(routes.status()).toMatchObject({ isReady: true, isDraining: false, drains: 1 });
      expect(fake.drainPromise).toBeUndefined(); // so the next drain() starts a new drain
      expect(calls).toEqual(['drain 700 300', 'endDrain', 'setReady true']);
      expect((await post(`${base}/demo/drain`)).status).toBe(202);
    } finally {
      await new Promise<void>((r) => http.close(() => r()));
    }
  });

  test('the routes need POST and the demo header, name real sessions, and leave other paths alone', async () => {
    const { base } = await start();
    expect((await post(`${base}/demo/close?session=x`, {})).status).toBe(403);
    expect((await fetch(`${base}/demo/close?session=x`)).status).toBe(405);
    expect((await post(`${base}/demo/close?session=nope`)).status).toBe(404);
    expect((await post(`${base}/demo/close`)).status).toBe(404);
    expect((await post(`${base}/demo/elsewhere`)).status).toBe(404);
    expect((await post(`${base}/demo/status`)).status).toBe(405);
    // Everything else still reaches the server (health) and the application's handler (static files).
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/`)).headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${base}/nope.txt`)).status).toBe(404);
  });

  test('unmount gives the HTTP server its own handler back', async () => {
    const server = createServer({ heartbeatIntervalMs: 1000 });
    srv = server;
    const addr = await server.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${addr.port}`;
    const routes = mountDemoRoutes(server);
    expect((await fetch(`${base}/demo/status`)).status).toBe(200);
    routes.unmount();
    expect((await fetch(`${base}/demo/status`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(server.httpServer.listenerCount('request')).toBe(1);
  });
});
