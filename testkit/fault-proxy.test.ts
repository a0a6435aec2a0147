import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { FaultProxy } from './fault-proxy.js';

let wss: WebSocketServer | undefined;
let proxy: FaultProxy | undefined;
const clients: WebSocket[] = [];
const serverSide: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await proxy?.close();
  proxy = undefined;
  for (const s of serverSide.splice(0)) s.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

/** An echo server behind a proxy, and a connected client. */
async function rig() {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss?.once('listening', () => resolve()));
  wss.on('connection', (ws) => {
    serverSide.push(ws);
    ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
  });
  proxy = await FaultProxy.start({ targetPort: (wss.address() as AddressInfo).port });
  const ws = new WebSocket(proxy.url('/'));
  clients.push(ws);
  const got: string[] = [];
  let closed: number | undefined;
  ws.on('message', (d) => got.push(d.toString()));
  ws.on('close', (code) => (closed = code));
  ws.on('error', () => {});
  await new Promise<void>((resolve) => ws.once('open', () => resolve()));
  return { ws, got, closedCode: () => closed, proxy };
}

const wait = { timeout: 5000, interval: 5 };

describe('fault proxy', () => {
  test('passes traffic both ways and counts open connections', async () => {
    const r = await rig();
    r.ws.send('a');
    await vi.waitFor(() => expect(r.got).toEqual(['a']), wait);
    expect(r.proxy.openConnections).toBe(1);
  });

  test('blackhole stops both directions without FIN or RST; pass resumes in order', async () => {
    const r = await rig();
    r.proxy.blackhole();
    r.ws.send('1');
    r.ws.send('2');
    serverSide[0]?.send('from server');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(r.got).toEqual([]);
    expect(r.closedCode()).toBeUndefined();
    expect(r.ws.readyState).toBe(WebSocket.OPEN); // the client cannot tell: half-open
    // Even a server-side close is held back, as a partition would.
    serverSide[0]?.terminate();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.closedCode()).toBeUndefined();
    r.proxy.pass();
    await vi.waitFor(() => expect(r.closedCode()).toBeDefined(), wait);
    expect(r.got[0]).toBe('from server');
  });

  test('latency delays each chunk and keeps order', async () => {
    const r = await rig();
    r.proxy.latency(60);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) r.ws.send(String(i));
    await vi.waitFor(() => expect(r.got).toHaveLength(5), wait);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110); // there and back
    expect(r.got).toEqual(['0', '1', '2', '3', '4']);
  });

  test('bandwidth limits bytes per second', async () => {
    const r = await rig();
    r.proxy.bandwidth(100_000);
    const t0 = performance.now();
    r.ws.send(Buffer.alloc(40_000, 1));
    await vi.waitFor(() => expect(r.got).toHaveLength(1), wait);
    // 40 kB each way at 100 kB/s: about 0.8 s.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(600);
  });

  test('dropConnections resets every connection', async () => {
    const r = await rig();
    r.proxy.dropConnections();
    await vi.waitFor(() => expect(r.closedCode()).toBe(1006), wait);
    expect(r.proxy.openConnections).toBe(0);
  });
});
