/**
 * A private redis-server for one bench run (issue 14 two-node scenario): the same logic as
 * test/support/redis.ts (free loopback port picked by the OS, no persistence, PING before use),
 * kept here because the bench compiles without test/ (tsconfig.bench.json).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

export interface BenchRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
  });
}

/** Start redis-server on a free port (retried if someone takes the port first); `cpu` pins it with taskset. */
export async function startBenchRedis(opts: { cpu?: string } = {}, timeoutMs = 10_000): Promise<BenchRedis> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const child: ChildProcess = opts.cpu ? spawn('taskset', ['-c', opts.cpu, 'redis-server', ...args], { stdio: 'ignore' }) : spawn('redis-server', args, { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    let isUp = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await ping(port)) {
        isUp = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!isUp) {
      child.kill('SIGKILL');
      await exited;
      if (attempt < 5) continue; // the port was taken between the probe and the bind
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // no persistence: nothing to flush
        await exited;
      },
    };
  }
}
