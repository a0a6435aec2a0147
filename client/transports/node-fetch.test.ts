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
