/**
 * The refusal journal against the real server over loopback: a tagged upgrade refused while the
 * server is not ready (HS-6) is recorded with the status and Retry-After the server wrote, and
 * /demo/refusal tells it; an accepted or untagged attempt is not recorded.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createServer, type LifelineServer } from '../server/index.js';
import { SUBPROTOCOL } from '../spec/protocol/defaults.js';
import { createDemoApp, type DemoApp } from './app.js';
import { ATTEMPT_PARAM, attemptOf, parseResponseHead } from './refusal-journal.js';

let srv: LifelineServer | undefined;
let app: DemoApp | undefined;
afterEach(async () => {
  app?.stop();
  await srv?.close();
  app = srv = undefined;
});

/** Open a WebSocket; resolves with the HTTP status of a refusal, or 101 once open (then closes it). */
function upgrade(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL]);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

describe('demo refusal journal', () => {
  test('HS-6 a tagged upgrade refused with 503 is recorded with its Retry-After; accepted and unknown attempts are 404', async () => {
    app = createDemoApp({ tickMs: 1000 });
    srv = createServer({ ...app.hooks, retryAfterSeconds: 3 });
    const { port } = await srv.listen(0, '127.0.0.1');
    app.start(srv);
    const base = `http://127.0.0.1:${port}`;
    const ws = srv.url();

    expect(await upgrade(`${ws}?${ATTEMPT_PARAM}=accepted-1`)).toBe(101);
    srv.setReady(false); // upgrades now get 503 + Retry-After (HS-6)
    expect(await upgrade(`${ws}?${ATTEMPT_PARAM}=refused-1`)).toBe(503);
    expect(await upgrade(`${ws}?other=1`)).toBe(503); // untagged: not recorded, still refused

    const get = async (attempt: string) => {
      const res = await fetch(`${base}/demo/refusal?attempt=${attempt}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await get('refused-1')).toEqual({ status: 200, body: { status: 503, reasonPhrase: 'Service Unavailable', retryAfterSeconds: 3 } });
    expect((await get('accepted-1')).status).toBe(404);
    expect((await get('nobody')).status).toBe(404);
    expect((await fetch(`${base}/demo/refusal?attempt=refused-1`, { method: 'POST', headers: { 'x-lifeline-demo': '1' } })).status).toBe(405);
  });

  test('HS-1 a tagged WebSocket request that arrives as a plain GET (a proxy removed Upgrade) is recorded as stripped', async () => {
    app = createDemoApp({ tickMs: 1000 });
    srv = createServer({ ...app.hooks });
    const { port } = await srv.listen(0, '127.0.0.1');
    app.start(srv);
    const base = `http://127.0.0.1:${port}`;
    // What the server receives behind such a proxy: the same GET, no Upgrade or Connection: upgrade.
    expect((await fetch(`${base}/lifeline?${ATTEMPT_PARAM}=stripped-1`)).status).toBe(426);
    expect((await fetch(`${base}/lifeline?other=1`)).status).toBe(426); // untagged: not recorded
    expect((await fetch(`${base}/?${ATTEMPT_PARAM}=page-1`)).status).not.toBe(426); // a page load: nothing to record
    const res = await fetch(`${base}/demo/refusal?attempt=stripped-1`);
    expect(await res.json()).toEqual({ status: 426, reasonPhrase: 'Upgrade Required', isUpgradeStripped: true });
    expect((await fetch(`${base}/demo/refusal?attempt=page-1`)).status).toBe(404);
  });

  test('response heads and attempt ids are parsed strictly', () => {
    expect(parseResponseHead('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n\r\n503')).toEqual({
      status: 503,
      reasonPhrase: 'Service Unavailable',
      retryAfterSeconds: 1,
    });
    expect(parseResponseHead('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')).toEqual({ status: 403, reasonPhrase: 'Forbidden' });
    expect(parseResponseHead('\x88\x02\x03\xe8')).toBeUndefined(); // a WebSocket frame, not a response
    expect(attemptOf(`/lifeline?${ATTEMPT_PARAM}=abc_DEF-1`)).toBe('abc_DEF-1');
    expect(attemptOf(`/lifeline?${ATTEMPT_PARAM}=${'x'.repeat(65)}`)).toBeUndefined();
    expect(attemptOf(`/lifeline?${ATTEMPT_PARAM}=a%20b`)).toBeUndefined();
    expect(attemptOf('/lifeline')).toBeUndefined();
  });
});
