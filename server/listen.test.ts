import { createServer as createHttpServer } from 'node:http';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { listenOn } from './listen.js';
import { createServer, type LifelineServer } from './server.js';

const servers: LifelineServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('server: listen()', () => {
  test('listen({ port, host, backlog }) binds where asked and hands the backlog to the kernel call', async () => {
    const srv = createServer({});
    servers.push(srv);
    const http = (srv as unknown as { httpServer: import('node:http').Server }).httpServer;
    const spy = vi.spyOn(http, 'listen');
    const addr = await srv.listen({ port: 0, host: '127.0.0.1', backlog: 64 });
    expect(addr.address).toBe('127.0.0.1');
    expect(addr.port).toBeGreaterThan(0);
    expect(spy.mock.calls[0]?.[0]).toMatchObject({ port: 0, host: '127.0.0.1', backlog: 64 });
    expect(srv.url()).toBe(`ws://127.0.0.1:${addr.port}/lifeline`);
  });

  test('listen(port, host) and listen() still work; the default is a free loopback port', async () => {
    const a = createServer({});
    const b = createServer({});
    servers.push(a, b);
    const addrA = await a.listen(0, '127.0.0.1');
    const addrB = await b.listen();
    expect(addrA.address).toBe('127.0.0.1');
    expect(addrB.address).toBe('127.0.0.1');
    expect(addrB.port).not.toBe(addrA.port);
  });

  test('a port in use rejects with EADDRINUSE and leaves no error listener behind', async () => {
    const a = createServer({});
    servers.push(a);
    const { port } = await a.listen({ port: 0 });
    const other = createHttpServer();
    const before = other.listenerCount('error');
    await expect(listenOn(other, { port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(other.listenerCount('error')).toBe(before);
    other.close();
  });
});
