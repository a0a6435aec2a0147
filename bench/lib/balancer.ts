/**
 * A tiny TCP load balancer for the two-node bench (issue 14): every new connection goes to the
 * node in rotation; `takeOut` removes a node the way HAProxy does when its /readyz turns 503 at
 * the start of a drain (DR-1). Connections already open stay on their node until it closes them.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class Balancer {
  private readonly server: Server;
  private readonly open = new Set<Socket>();
  private next = 0;
  port = 0;

  constructor(private targets: number[]) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  setTargets(ports: readonly number[]): void {
    this.targets = [...ports];
  }

  /** New connections no longer go to `port`. */
  takeOut(port: number): void {
    this.targets = this.targets.filter((p) => p !== port);
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const target = this.targets[this.next++ % Math.max(1, this.targets.length)];
    if (target === undefined) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect(target, '127.0.0.1');
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
