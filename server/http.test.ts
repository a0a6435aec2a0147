import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { staticHandler } from './http.js';

let server: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('static files for the demo', () => {
  test('serves index.html at /, files by path, 404 for missing ones, and nothing outside its directory', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-static-'));
    mkdirSync(join(dir, 'public'));
    mkdirSync(join(dir, 'bundle'));
    writeFileSync(join(dir, 'public', 'index.html'), '<h1>demo</h1>');
    writeFileSync(join(dir, 'bundle', 'demo.js'), 'export {}');
    writeFileSync(join(dir, 'secret.txt'), 'do not serve');
    server = createServer(staticHandler([
      { prefix: '/', dir: join(dir, 'public') },
      { prefix: '/dist/browser/', dir: join(dir, 'bundle') },
    ]));
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(await index.text()).toBe('<h1>demo</h1>');
    const js = await fetch(`${base}/dist/browser/demo.js`);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${base}/dist/browser/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/%2e%2e/secret.txt`)).status).toBe(404); // the URL parser already removes the dots
    const raw = await new Promise<number>((resolve, reject) => {
      get(`${base}/..%2fsecret.txt`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(raw).toBe(403); // an encoded slash cannot climb out either
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });
});
