/**
 * Test support for server/*.test.ts (not part of the public API): start servers
 * on loopback port 0 with millisecond timings, and stop everything afterwards.
 */
import { connectRaw, type RawClient, type RawConnectOptions } from '../../testkit/raw-client.js';
import type { LifelineServerOptions } from '../../server/options.js';
import { createServer, type LifelineServer } from '../../server/server.js';

/** Timings small enough for tests, large enough for a loaded 2-core machine. */
export const fast: LifelineServerOptions = {
  heartbeatIntervalMs: 1000,
  heartbeatMissedMax: 2,
  handshakeTimeoutMs: 2000,
  resumeTtlMs: 5000,
  ackDelayMs: 5,
  // Tests open many sockets from 127.0.0.1 in quick succession; the tests of HS-5 set their own.
  upgradeRatePerSecond: Number.POSITIVE_INFINITY,
};

export class Harness {
  private readonly servers: LifelineServer[] = [];
  private readonly clients: RawClient[] = [];

  async server(opts: LifelineServerOptions = {}): Promise<LifelineServer> {
    const srv = createServer({ ...fast, ...opts });
    this.servers.push(srv);
    await srv.listen(0, '127.0.0.1');
    return srv;
  }

  async client(srv: LifelineServer, opts: RawConnectOptions = {}, query = ''): Promise<RawClient> {
    const c = await connectRaw(srv.url() + query, opts);
    this.clients.push(c);
    return c;
  }

  /** A client with a new session (Welcome received). */
  async session(srv: LifelineServer, hello: Parameters<RawClient['handshake']>[0] = {}, opts: RawConnectOptions = {}): Promise<RawClient> {
    const c = await this.client(srv, opts);
    await c.handshake(hello);
    return c;
  }

  track(c: RawClient): RawClient {
    this.clients.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients.splice(0)) c.terminate();
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

/** The HTTP base URL of a server (for health checks). */
export function httpUrl(srv: LifelineServer, path: string): string {
  return srv.url().replace(/^ws/, 'http').replace(srv.opts.path, path);
}
