import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { nodeHttpFetch } from './node-fetch.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/lifeline`;
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

describe('nodeHttpFetch: the Node carrier of the HTTP transport', () => {
  test('HT-1 a POST with its headers and body; the status, headers and a streamed body come back; the socket is reused', async () => {
    const seen: { method?: string; op?: string; body: string; port?: number }[] = [];
    const url = await serve((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, op: req.headers['lifeline-http'] as string, body: Buffer.concat(parts).toString(), port: req.socket.remotePort });
        res.writeHead(200, { 'Lifeline-Connection': 'C1' });
        res.write('ab');
        setTimeout(() => res.end('cd'), 5);
      });
    });
    const fetch = nodeHttpFetch();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url, { method: 'POST', headers: { 'Lifeline-Http': 'send' }, body: new TextEncoder().encode(`x${i}`) });
      expect(res.status).toBe(200);
      expect(res.headers.get('lifeline-connection')).toBe('C1');
      expect(res.headers.get('Retry-After')).toBeNull();
      const chunks = await readAll(res.body as ReadableStream<Uint8Array>);
      expect(Buffer.concat(chunks).toString()).toBe('abcd');
    }
    expect(seen.map((s) => [s.method, s.op, s.body])).toEqual([
      ['POST', 'send', 'x0'],
      ['POST', 'send', 'x1'],
    ]);
    expect(seen[0]?.port).toBe(seen[1]?.port); // keep-alive: one TCP connection for both
  });

  test('HT-28 a body dropped with discard() or cancelled after its end keeps its keep-alive socket (a send must not cost a TCP connection); headers as sent', async () => {
    const seen: { port?: number; host?: string; length?: string; te?: string }[] = [];
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push({ port: req.socket.remotePort, host: req.headers.host, length: req.headers['content-length'], te: req.headers['transfer-encoding'] });
        if (req.headers['lifeline-http'] === 'send') {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(200, { 'content-length': '2' });
          res.end('ok');
        }
      });
    });
    const fetch = nodeHttpFetch();
    for (let i = 0; i < 8; i++) {
      const res = await fetch(url, { method: 'POST', headers: { 'Lifeline-Http': 'send', Host: 'evil' }, body: new Uint8Array([1, 2, 3]) });
      expect(res.status).toBe(204);
      res.discard?.();
    }
    const open = await fetch(url, { method: 'POST', headers: { 'Lifeline-Http': 'open' } });
    expect(open.status).toBe(200);
    await new Promise((r) => setTimeout(r, 5)); // the body has arrived whole
    await open.body?.cancel(); // cancelled after its end: drained, not destroyed
    const last = await fetch(url, { method: 'POST', headers: { 'Lifeline-Http': 'send' }, body: new Uint8Array([4]) });
    last.discard?.();
    // The next request may start before the previous socket is back in the pool: two sockets at
    // most, reused, never one per request.
    expect(new Set(seen.map((s) => s.port)).size).toBeLessThanOrEqual(2);
    expect(seen.map((s) => [s.host, s.length, s.te])).toEqual([
      ...Array.from({ length: 8 }, () => [new URL(url).host, '3', undefined]),
      [new URL(url).host, '0', undefined], // a bodiless POST: length 0, not chunked
      [new URL(url).host, '1', undefined],
    ]);
  });

  test('HT-7 listen(): chunks in order then end; a cut reports an error; stop() ends the reports', async () => {
    let mode = 'whole';
    const url = await serve((_req, res) => {
      res.writeHead(200);
      res.write('ab');
      if (mode === 'whole') setTimeout(() => res.end('cd'), 5);
      else if (mode === 'cut') setTimeout(() => res.socket?.destroy(), 5);
      else setTimeout(() => res.write('more'), 5);
    });
    const run = async (m: string, stopAfterFirst = false): Promise<string[]> => {
      mode = m;
      const res = await nodeHttpFetch()(url, { method: 'POST', headers: {} });
      const log: string[] = [];
      await new Promise<void>((resolve) => {
        const stop = res.listen?.({
          chunk: (b) => {
            log.push(Buffer.from(b).toString());
            if (stopAfterFirst) {
              stop?.();
              setTimeout(resolve, 30);
            }
          },
          end: () => {
            log.push('end');
            resolve();
          },
          error: (e) => {
            log.push(`error ${e.message}`);
            resolve();
          },
        });
      });
      return log;
    };
    expect((await run('whole')).join('')).toBe('abcdend');
    expect(await run('cut')).toEqual(['ab', 'error terminated']);
    expect(await run('open', true)).toEqual(['ab']);
  });

  test('HT-7 a response cut before its end errors the body stream (the transport asks again from its Ack)', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200);
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 5);
    });
    const res = await nodeHttpFetch()(url, { method: 'POST', headers: {} });
    await expect(readAll(res.body as ReadableStream<Uint8Array>)).rejects.toThrow(/terminated/);
  });

  test('an aborted request rejects; a refused connection rejects', async () => {
    const url = await serve(() => {}); // never answers
    const abort = new AbortController();
    const p = nodeHttpFetch()(url, { method: 'POST', headers: {}, signal: abort.signal });
    abort.abort();
    await expect(p).rejects.toThrow();
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    await expect(nodeHttpFetch()(url, { method: 'POST', headers: {} })).rejects.toThrow(/ECONNREFUSED/);
  });

  test('HT-7 a body cancelled while chunks are still arriving stays quiet: no chunk is pushed into the closed stream', async () => {
    const chunk = Buffer.alloc(16 * 1024, 7);
    const url = await serve((_req, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (res.write(chunk)) {
          /* fill the socket until it pushes back */
        }
        res.once('drain', pump);
      };
      pump();
    });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 20; i++) {
        const res = await nodeHttpFetch()(url, { method: 'POST', headers: {} });
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        await new Promise((r) => setTimeout(r, 5)); // the queue fills and the response pauses
        void reader.read(); // takes a chunk, so the source pulls: the response resumes on the next tick
        for (let k = 0; k < i % 4; k++) await Promise.resolve();
        await reader.cancel(); // ...while the reader cancels in between
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });
});
