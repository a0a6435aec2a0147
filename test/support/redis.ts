/**
 * Test support (issue 14): a private `redis-server` per test file, on a free loopback port, in its
 * own temp dir, never a fixed port (8 agents and CI jobs share the machine). Persistence is off
 * unless asked (`appendonly: true` for the Redis-restart scenarios, spec §21's persistence rule).
 *
 *   const redis = await startRedis();
 *   const store = new RedisSessionStore({ redis: redis.url });
 *   …
 *   await redis.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartRedisOptions {
  /** AOF on (`appendfsync always`, so a restart keeps every write the test saw acknowledged). Default false. */
  readonly appendonly?: boolean;
  /** How long to wait for PING to answer, ms. Default 10 000 (a loaded 2-core machine). */
  readonly startTimeoutMs?: number;
}

export interface RedisProcess {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Its data directory (AOF files when appendonly). */
  readonly dir: string;
  /** Shut down (SIGTERM, waits for exit) and remove the data directory. Idempotent. */
  stop(): Promise<void>;
  /** Shut down and start again on the same port and dir: with appendonly, the data survives. */
  restart(): Promise<void>;
  /** SIGKILL (a crash), waits for exit; the dir stays, so restart() works after it. */
  kill(): Promise<void>;
  /** Start again after kill() (same port and dir). */
  start(): Promise<void>;
}

const BIN = 'redis-server';
let availability: boolean | undefined;

/**
 * Whether redis-server can run here. Tests skip with a clear message when it is missing locally;
 * in CI (process.env.CI set) a missing redis-server throws instead: CI installs it, never skips.
 */
export function isRedisAvailable(): boolean {
  if (availability === undefined) {
    const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    availability = r.status === 0;
    if (!availability) {
      const why = `${BIN} not found (${r.error?.message ?? `exit ${r.status}`}); install it: apt-get install redis-server (scripts/install-system-deps)`;
      if (process.env.CI) throw new Error(`CI must run the Redis tests: ${why}`);
      console.warn(`skipping Redis tests: ${why}`);
    }
  }
  return availability;
}

/** Every redis-server this process started, killed if the process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-redis-'));
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const args = (port: number) => [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
    '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
  ];
  let child: ChildProcess | undefined;
  let port = 0;
  // A free port can be taken between our probe and redis binding it: retry with another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      child = await launch(args(port), port, timeoutMs);
      break;
    } catch (err) {
      if (!(err instanceof AddressInUse) || attempt >= 5) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const fixedPort = port;
  let isStopped = false;
  const relaunch = async () => {
    // The same port: it was ours a moment ago, but a TIME_WAIT or a stranger can hold it briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        child = await launch(args(fixedPort), fixedPort, timeoutMs);
        return;
      } catch (err) {
        if (!(err instanceof AddressInUse) || attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  return {
    url: `redis://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    dir,
    async stop() {
      if (isStopped) return;
      isStopped = true;
      await terminate(child, 'SIGTERM');
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await terminate(child, 'SIGTERM');
      child = undefined;
      await relaunch();
    },
    async kill() {
      await terminate(child, 'SIGKILL');
      child = undefined;
    },
    async start() {
      if (child) throw new Error(`redis on port ${fixedPort} is already running`);
      await relaunch();
    },
  };
}

class AddressInUse extends Error {}

/** Spawn redis-server and resolve once PING answers PONG; reject naming redis on exit or timeout. */
function launch(args: string[], port: number, timeoutMs: number): Promise<ChildProcess> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.once('exit', () => running.delete(child));
  return new Promise<ChildProcess>((resolve, reject) => {
    let isDone = false;
    const deadline = Date.now() + timeoutMs;
    const finish = (err?: Error) => {
      if (isDone) return;
      isDone = true;
      child.off('exit', onExit);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else resolve(child);
    };
    const onExit = (code: number | null, signal: string | null) => {
      const why = `redis-server on port ${port} exited (${signal ?? code}) before answering PING: ${output.trim().slice(-500)}`;
      finish(/address already in use/i.test(output) ? new AddressInUse(why) : new Error(why));
    };
    child.once('exit', onExit);
    child.once('error', (err) => finish(new Error(`redis-server could not start: ${err.message}`)));
    const poll = () => {
      if (isDone) return;
      if (Date.now() > deadline) return finish(new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms: ${output.trim().slice(-500)}`));
      void ping(port).then((ok) => (ok ? finish() : setTimeout(poll, 20)));
    };
    poll();
  });
}

/** One raw PING (no client library: this helper must work before and without ioredis). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function terminate(child: ChildProcess | undefined, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A port free on loopback now (the OS picks; `redis-server --port 0` would disable TCP). */
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
