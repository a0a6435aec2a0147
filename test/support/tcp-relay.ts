/**
 * A loopback TCP relay: each accepted connection is piped to the target port `pick()` names, and
 * both ends die together. The base of the cuttable proxy of the Redis tests (tcp-proxy.ts) and the
 * two-node bench's balancer (bench/lib/balancer.ts), which differ only in how they pick a target.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export abstract class TcpRelay {
  private readonly server: Server;
  private readonly open = new Set<Socket>();
  port = 0;

  constructor(private readonly targetHost = '127.0.0.1') {
    this.server = createServer((client) => this.accept(client));
  }

  /** The port a new connection goes to; undefined refuses it (accepted, then destroyed at once). */
  protected abstract pick(): number | undefined;

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  /** Destroy every relayed connection (both ends). */
  protected destroyAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  async close(): Promise<void> {
    this.destroyAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const target = this.pick();
    if (target === undefined) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect(target, this.targetHost);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
