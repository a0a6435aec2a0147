/**
 * The client's HTTP transport (§22) and the switch between carriers (§22.7), against the reference
 * server on loopback. A small TCP proxy in front of it refuses WebSocket upgrades with 426 (as a
 * proxy that strips `Upgrade` leads the server to answer, HS-1) until told to let them through.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { LifelineServer } from '../../server/server.js';
import { Harness } from '../../test/support/server.js';
import type { ClientEvent, LifelineClient } from '../create-client.js';
import { createNodeClient } from '../node.js';

const h = new Harness();
const clients: LifelineClient[] = [];
const proxies: Server[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of proxies.splice(0)) await new Promise<void>((r) => p.close(() => r()));
  await h.cleanup();
});

const wait = { timeout: 10_000, interval: 10 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A TCP proxy to `srv` that answers WebSocket upgrades with 426 while `isBlocking`. */
async function upgradeBlockingProxy(srv: LifelineServer): Promise<{ url: string; setBlocking(on: boolean): void; upgrades: number }> {
  const target = new URL(srv.url());
  let isBlocking = true;
  const state = { upgrades: 0 };
  const sockets = new Set<Socket>();
  const proxy = createServer((down) => {
    sockets.add(down);
    down.once('data', (first: Buffer) => {
      const isUpgrade = /\r\nupgrade:\s*websocket/i.test(first.toString('latin1'));
      if (isUpgrade) state.upgrades++;
      if (isUpgrade && isBlocking) {
        down.end('HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const up = connect(Number(target.port), target.hostname, () => {
        up.write(first);
        down.pipe(up);
        up.pipe(down);
      });
      sockets.add(up);
      const end = () => {
        down.destroy();
        up.destroy();
      };
      up.on('error', end);
      down.on('error', end);
      up.on('close', end);
      down.on('close', end);
    });
  });
  proxy.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}${target.pathname}`,
    setBlocking: (on) => {
      isBlocking = on;
    },
    get upgrades() {
      return state.upgrades;
    },
  };
}

/** Messages of `channel` the client delivered, by seq. */
function collect(client: LifelineClient): { seqs: bigint[]; payloads: string[]; events: ClientEvent<Uint8Array>[] } {
  const out = { seqs: [] as bigint[], payloads: [] as string[], events: [] as ClientEvent<Uint8Array>[] };
  client.onEvent((e) => {
    out.events.push(e);
    if (e.type === 'message') {
      out.seqs.push(e.seq);
      out.payloads.push(dec(e.payload));
    }
  });
  return out;
}

describe('HTTP transport against the reference server', () => {
  test('HT-20 transports [http]: Hello/Welcome, server messages in order, client messages acked, close 1000 ends the session', async () => {
    const got: string[] = [];
    const srv = await h.server({
      onMessage: (m) => {
        got.push(dec(m.payload));
      },
    });
    const client = createNodeClient({ url: srv.url(), transports: ['http'], channels: ['c'] });
    clients.push(client);
    const seen = collect(client);
    const info = await client.ready();
    expect(info.transport).toBe('http');
    expect(client.transport).toBe('http');
    for (let i = 1; i <= 20; i++) await srv.publish('c', { payload: enc(`m${i}`) });
    await vi.waitFor(() => expect(seen.payloads.length).toBe(20), wait);
    expect(seen.payloads).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    expect(seen.seqs).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.send(`up${i}`)));
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `up${i}`));
    const sid = info.sessionId;
    client.close();
    await vi.waitFor(() => expect(srv.session(sid)).toBeUndefined(), wait);
  });

  test('HT-21 HT-23 HT-25 WebSockets refused with 426: falls back after 2 attempts, receives over HTTP, moves back to ws with RESUMED and no gap or duplicate', async () => {
    const srv = await h.server();
    const proxy = await upgradeBlockingProxy(srv);
    const client = createNodeClient({
      url: proxy.url,
      channels: ['c'],
      reconnectBaseMs: 10,
      reconnectCapMs: 50,
      wsRetryMs: 300,
      httpFallbackAfter: 2,
    });
    clients.push(client);
    const seen = collect(client);
    const first = await client.ready();
    expect(first.transport).toBe('http');
    expect(client.transport).toBe('http');
    expect(proxy.upgrades).toBe(2); // HT-21: exactly httpFallbackAfter refused upgrades
    const refused = seen.events.filter((e) => e.type === 'refused');
    expect(refused.map((e) => (e as { status: number }).status)).toEqual([426, 426]);
    expect(seen.events.some((e) => e.type === 'state' && e.state === 'failed')).toBe(false);

    let n = 0;
    const publish = async (k: number) => {
      for (let i = 0; i < k; i++) await srv.publish('c', { payload: enc(`m${++n}`) });
    };
    await publish(10);
    await vi.waitFor(() => expect(seen.seqs.length).toBe(10), wait);
    // Probes fail while the proxy blocks (HT-24: the wait doubles; no switch).
    await vi.waitFor(() => expect(proxy.upgrades).toBeGreaterThanOrEqual(3), wait);
    expect(client.transport).toBe('http');

    proxy.setBlocking(false);
    // Publish while the client switches: nothing may be lost or delivered twice.
    const during = (async () => {
      for (let i = 0; i < 30; i++) {
        await publish(1);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await vi.waitFor(() => expect(seen.events.some((e) => e.type === 'welcome' && e.transport === 'ws')).toBe(true), wait);
    await during;
    await publish(5);
    await vi.waitFor(() => expect(seen.seqs.length).toBe(n), wait);
    const switched = seen.events.find((e) => e.type === 'welcome' && e.transport === 'ws') as Extract<ClientEvent<Uint8Array>, { type: 'welcome' }>;
    expect(switched.outcome).toBe('resumed'); // HT-25: same session, RESUMED
    expect(switched.sessionId).toBe(first.sessionId);
    expect(seen.seqs).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1))); // no gap, no duplicate
    expect(seen.payloads).toEqual(Array.from({ length: n }, (_, i) => `m${i + 1}`));
    const byClient = seen.events.filter((e) => e.type === 'closed' && e.byClient) as Extract<ClientEvent<Uint8Array>, { type: 'closed' }>[];
    expect(byClient.map((e) => [e.code, e.reason])).toContainEqual([1001, 'transport switch']);
    expect(client.transport).toBe('ws');
  });
});
