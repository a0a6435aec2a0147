/**
 * The nginx modes of testkit/nginx.ts (issue 15): a route that refuses WebSocket upgrades as a
 * blocking proxy does (the Lifeline server sees a plain GET and answers 426, HS-1) while POSTs
 * pass; a streamed response passes at once when the upstream says `X-Accel-Buffering: no` and is
 * held back when buffering is forced; and a reload that allows upgrades again on the same nginx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createServer, type LifelineServer } from '../server/index.js';
import { SUBPROTOCOL } from '../spec/protocol/defaults.js';
import { port } from '../e2e/support.js';
import { hasNginx, Nginx, type NginxRoute } from './nginx.js';

/** Between the two chunks of /stream: long enough to tell "passed at once" from "held to the end". */
const CHUNK_GAP_MS = 600;

let nginx: Nginx | undefined;
let srv: LifelineServer | undefined;
afterEach(async () => {
  await nginx?.close();
  await srv?.close();
  nginx = srv = undefined;
});

/** /stream: one small chunk, a pause, another, end (as a carrier receive writes a KEEPALIVE first). */
function onRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith('/stream')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-accel-buffering': 'no', 'cache-control': 'no-store' });
    res.write('first');
    setTimeout(() => res.end('second'), CHUNK_GAP_MS);
    return;
  }
  if (req.method === 'POST' && req.url?.startsWith('/echo')) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.concat(chunks)));
    return;
  }
  res.writeHead(404).end();
}

async function start(routes: (upstream: number) => NginxRoute[]): Promise<Nginx> {
  srv = createServer({ onRequest, upgradeRatePerSecond: Number.POSITIVE_INFINITY });
  await srv.listen(0, '127.0.0.1');
  nginx = await Nginx.start({ proxyTimeoutS: 5, routes: routes(port(srv)) });
  return nginx;
}

/** Opens a WebSocket: 'open', or the HTTP status it was refused with. */
async function upgrade(url: string): Promise<'open' | number> {
  const ws = new WebSocket(url, [SUBPROTOCOL]);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** ms from the request to the first body bytes, what the first read gave, and the whole body. */
async function streamTimings(url: string): Promise<{ firstMs: number; first: string; endMs: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  let firstMs = Number.NaN;
  let first = '';
  let body = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = new TextDecoder().decode(value);
    if (Number.isNaN(firstMs)) {
      firstMs = performance.now() - t0;
      first = text;
    }
    body += text;
  }
  return { firstMs, first, endMs: performance.now() - t0, body };
}

describe.skipIf(!hasNginx())('testkit nginx: a proxy that blocks WebSockets', () => {
  test('refuse: an upgrade reaches the server as a plain GET (426, HS-1) while a POST passes; pass: it opens', async () => {
    const n = await start((p) => [
      { prefix: '/blocked/', upstreamPort: p, upgrades: 'refuse' },
      { prefix: '/open/', upstreamPort: p },
    ]);
    expect(await upgrade(n.url('/blocked/'))).toBe(426);
    expect(await upgrade(n.url('/open/'))).toBe('open');
    const res = await fetch(n.httpUrl('/blocked/', 'echo'), { method: 'POST', body: 'hello', headers: { 'content-type': 'application/octet-stream' } });
    expect([res.status, await res.text()]).toEqual([200, 'hello']);
  });

  test('buffering: X-Accel-Buffering from upstream is honoured by default; forced buffering holds a stream to its end', async () => {
    const n = await start((p) => [
      { prefix: '/honoured/', upstreamPort: p, upgrades: 'refuse' },
      { prefix: '/forced/', upstreamPort: p, upgrades: 'refuse', buffering: 'forced' },
    ]);
    const honoured = await streamTimings(n.httpUrl('/honoured/', 'stream'));
    const forced = await streamTimings(n.httpUrl('/forced/', 'stream'));
    expect(honoured.body).toBe('firstsecond');
    expect(forced.body).toBe('firstsecond');
    // The first chunk crosses the honouring route on its own, before the upstream's pause ends …
    expect(honoured.first).toBe('first');
    // … and the forcing route holds it until the response is complete: it arrives with the second.
    expect(forced.first).toBe('firstsecond');
    expect(forced.firstMs).toBeGreaterThanOrEqual(CHUNK_GAP_MS * 0.9);
    console.log(`nginx stream: first bytes after ${Math.round(honoured.firstMs)} ms (X-Accel-Buffering honoured) vs ${Math.round(forced.firstMs)} ms (forced buffering), upstream pause ${CHUNK_GAP_MS} ms`);
  });

  test('reconfigure: the same nginx reloads to allow upgrades; a response in progress finishes across the reload', async () => {
    const n = await start((p) => [{ prefix: '/', upstreamPort: p, upgrades: 'refuse' }]);
    expect(await upgrade(n.url('/'))).toBe(426);
    const inProgress = streamTimings(n.httpUrl('/', 'stream'));
    await n.reconfigure([{ prefix: '/', upstreamPort: port(srv as LifelineServer) }]);
    expect(await upgrade(n.url('/'))).toBe('open');
    expect((await inProgress).body).toBe('firstsecond');
    // Back again: refused once more.
    await n.reconfigure([{ prefix: '/', upstreamPort: port(srv as LifelineServer), upgrades: 'refuse' }]);
    expect(await upgrade(n.url('/'))).toBe(426);
  });
});
