/**
 * A real nginx in front of Lifeline servers, for tests (issue 13, "behind a real
 * proxy"): Debian's /usr/sbin/nginx started in the foreground (`daemon off;`)
 * with a generated config in a temporary prefix, on a free loopback port. The
 * WebSocket location is the one of ops/nginx/lifeline.conf (HTTP/1.1 upstream,
 * Upgrade and Connection set, buffering off) with test-sized timeouts.
 *
 * Issue 15, "behind a proxy that blocks WebSockets": a route can refuse upgrades the way
 * corporate proxies do, by not forwarding the hop-by-hop Upgrade and Connection headers. The
 * server then sees a plain GET and answers 426 (HS-1), nginx relays it, and the browser reports
 * a socket that closed 1006 before it opened; plain POSTs (the HTTP carrier, §22) pass. Such a
 * route is a stock `proxy_pass` location: HTTP/1.0 upstream (nginx's default) and `proxy_buffering
 * on`, which honours an upstream's `X-Accel-Buffering: no` (the carrier sends it, so its receive
 * streams); or it forces buffering (`proxy_ignore_headers X-Accel-Buffering`), which holds a
 * stream back until its buffers fill or the response ends: the case the client's poll fallback is for. `reconfigure()`
 * rewrites the config and reloads the same nginx (SIGHUP, as `nginx -s reload` sends): what an
 * administrator does when WebSockets are allowed again; established connections finish on the
 * old worker, new ones get the new config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX_BIN = '/usr/sbin/nginx';

export function hasNginx(): boolean {
  return existsSync(NGINX_BIN);
}

/**
 * How a route treats WebSocket upgrades: `pass` forwards Upgrade and Connection (ops/nginx);
 * `refuse` does not, as a proxy that blocks WebSockets: the upstream sees a plain GET.
 */
export type NginxUpgrades = 'pass' | 'refuse';

/**
 * Response buffering of a route: `off` (`proxy_buffering off`, ops/nginx); `upstream` (nginx's
 * default `proxy_buffering on`, an upstream's `X-Accel-Buffering: no` turns it off per response);
 * `forced` (`on`, and X-Accel-Buffering ignored: streams arrive in buffer-sized pieces or at the end).
 */
export type NginxBuffering = 'off' | 'upstream' | 'forced';

export interface NginxRoute {
  /** URL prefix at nginx, e.g. '/a/' (proxied to the upstream's '/'). */
  readonly prefix: string;
  readonly upstreamPort: number;
  /** Default `pass`. */
  readonly upgrades?: NginxUpgrades;
  /** Default `off` when upgrades pass, `upstream` when they are refused (nginx's own default). */
  readonly buffering?: NginxBuffering;
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

/** The config's generation is served at this path, so a reload can be awaited (see reconfigure). */
export const GENERATION_PATH = '/nginx-generation';

function location(r: NginxRoute, timeoutS: number): string {
  const upgrades = r.upgrades ?? 'pass';
  const buffering = r.buffering ?? (upgrades === 'pass' ? 'off' : 'upstream');
  const lines = [
    `proxy_pass http://127.0.0.1:${r.upstreamPort}/;`,
    // Hop-by-hop headers are not forwarded unless set: leaving them out is what refuses upgrades.
    // A refusing route is a stock `proxy_pass` location: nginx's default HTTP/1.0 upstream (which
    // cannot upgrade at all). Measured with nginx 1.22: with forced buffering an HTTP/1.1 (chunked)
    // upstream response still reaches the client chunk by chunk, an HTTP/1.0 one only at its end.
    ...(upgrades === 'pass' ? ['proxy_http_version 1.1;', 'proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $connection_upgrade;'] : []),
    'proxy_set_header Host $host;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_connect_timeout 2s;',
    `proxy_read_timeout ${timeoutS}s;`,
    `proxy_send_timeout ${timeoutS}s;`,
    `proxy_buffering ${buffering === 'off' ? 'off' : 'on'};`,
    ...(buffering === 'forced' ? ['proxy_ignore_headers X-Accel-Buffering;'] : []),
  ];
  return `
    location ${r.prefix} {
      ${lines.join('\n      ')}
    }`;
}

function config(dir: string, port: number, o: NginxOptions, generation: number): string {
  const locations = o.routes.map((r) => location(r, o.proxyTimeoutS)).join('\n');
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
    location = ${GENERATION_PATH} { default_type text/plain; return 200 "${generation}"; }
${locations}
  }
}
`;
}

/** The child pids of a process (Linux /proc), e.g. nginx's workers. */
async function childrenOf(pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter((x) => x !== '').map(Number);
}

/** An nginx worker that exited, or stopped accepting (its title says so once it closed its listeners). */
async function isGone(pid: number): Promise<boolean> {
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmd === undefined || cmd === '' || cmd.includes('shutting down');
}

export class Nginx {
  private generation = 0;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private proc: ChildProcess | undefined,
    private opts: NginxOptions,
  ) {}

  /** Start nginx and wait until it answers on its port. */
  static async start(opts: NginxOptions): Promise<Nginx> {
    const dir = await mkdtemp(join(tmpdir(), 'lifeline-nginx-'));
    const port = opts.port ?? (await freePort());
    const n = new Nginx(port, dir, undefined, opts);
    await n.writeConfig();
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

  private writeConfig(): Promise<void> {
    return writeFile(join(this.dir, 'nginx.conf'), config(this.dir, this.port, this.opts, this.generation));
  }

  /**
   * Rewrite the config with these routes and reload nginx in place (SIGHUP: the signal `nginx -s
   * reload` sends; same port, same master). Resolves once nginx answers with the new config.
   * Connections open before the reload (a streaming response, a WebSocket) stay on the old worker
   * until they end, as with a real reload.
   */
  async reconfigure(routes: readonly NginxRoute[]): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) throw new Error('nginx is not running');
    this.opts = { ...this.opts, routes };
    this.generation++;
    await this.writeConfig();
    const oldWorkers = await childrenOf(p.pid);
    p.kill('SIGHUP');
    const want = String(this.generation);
    const t0 = Date.now();
    const check = async (what: string) => {
      if (p.exitCode !== null) throw new Error(`nginx exited during reload: ${await this.errorLog()}`);
      if (Date.now() - t0 > 10_000) throw new Error(`nginx reload to config generation ${want}: ${what} within 10 s: ${await this.errorLog()}`);
      await new Promise((r) => setTimeout(r, 25));
    };
    for (;;) {
      try {
        // A fresh connection each time: a kept-alive one may still be served by the old worker.
        const res = await fetch(`http://127.0.0.1:${this.port}${GENERATION_PATH}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(500) });
        if ((await res.text()) === want) break;
      } catch {
        // nginx is between workers: ask again.
      }
      await check('the new worker did not answer');
    }
    // The old worker accepts new connections until it handles its QUIT (then it is "shutting down"
    // and has closed its listening socket; it lives on only for the connections it still serves).
    while (!(await Promise.all(oldWorkers.map(isGone))).every(Boolean)) await check('an old worker still accepts');
  }

  /** The tail of nginx's error log (for failure messages). */
  async errorLog(): Promise<string> {
    return (await readFile(join(this.dir, 'error.log'), 'utf8').catch(() => '')).slice(-2000);
  }

  /** http:// URL of a path through nginx (a page, a route). */
  httpUrl(prefix: string, path = ''): string {
    return `http://127.0.0.1:${this.port}${prefix}${path}`;
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
