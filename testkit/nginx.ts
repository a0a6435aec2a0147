/**
 * A real nginx in front of Lifeline servers, for tests (issue 13, "behind a real
 * proxy"): Debian's /usr/sbin/nginx started in the foreground (`daemon off;`)
 * with a generated config in a temporary prefix, on a free loopback port. The
 * WebSocket location is the one of ops/nginx/lifeline.conf (HTTP/1.1 upstream,
 * Upgrade and Connection set, buffering off) with test-sized timeouts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX_BIN = '/usr/sbin/nginx';

export function hasNginx(): boolean {
  return existsSync(NGINX_BIN);
}

export interface NginxRoute {
  /** URL prefix at nginx, e.g. '/a/' (proxied to the upstream's '/'). */
  readonly prefix: string;
  readonly upstreamPort: number;
}

export interface NginxOptions {
  readonly routes: readonly NginxRoute[];
  /** proxy_read_timeout and proxy_send_timeout, in seconds (nginx's own default is 60). */
  readonly proxyTimeoutS: number;
  /** Listen here (default a free port). */
  readonly port?: number;
}

/** A free loopback TCP port (bound and released; a small race that tests tolerate). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function config(dir: string, port: number, o: NginxOptions): string {
  const locations = o.routes
    .map(
      (r) => `
    location ${r.prefix} {
      proxy_pass http://127.0.0.1:${r.upstreamPort}/;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_read_timeout ${o.proxyTimeoutS}s;
      proxy_send_timeout ${o.proxyTimeoutS}s;
      proxy_buffering off;
    }`,
    )
    .join('\n');
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`;
}

export class Nginx {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private proc: ChildProcess | undefined,
    private readonly opts: NginxOptions,
  ) {}

  /** Start nginx and wait until it answers on its port. */
  static async start(opts: NginxOptions): Promise<Nginx> {
    const dir = await mkdtemp(join(tmpdir(), 'lifeline-nginx-'));
    const port = opts.port ?? (await freePort());
    await writeFile(join(dir, 'nginx.conf'), config(dir, port, opts));
    const n = new Nginx(port, dir, undefined, opts);
    await n.run();
    return n;
  }

  private async run(): Promise<void> {
    const proc = spawn(NGINX_BIN, ['-p', this.dir, '-c', join(this.dir, 'nginx.conf'), '-e', join(this.dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    this.proc = proc;
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${err}`);
      try {
        // Any HTTP answer (even a 502 from a route) means nginx is up.
        await fetch(`http://127.0.0.1:${this.port}/nginx-probe`, { signal: AbortSignal.timeout(500) });
        return;
      } catch {
        if (Date.now() - t0 > 10_000) throw new Error(`nginx did not answer on ${this.port}: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /** ws:// URL of a route's path through nginx. */
  url(prefix: string, path = 'lifeline'): string {
    return `ws://127.0.0.1:${this.port}${prefix}${path}`;
  }

  /** Stop nginx (fast shutdown: its connections close at once), keeping the prefix for restart(). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** Start again on the same port with the same config. */
  async restart(): Promise<void> {
    await this.stop();
    for (let i = 0; ; i++) {
      try {
        await this.run();
        return;
      } catch (err) {
        if (i > 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  get routes(): readonly NginxRoute[] {
    return this.opts.routes;
  }
}
