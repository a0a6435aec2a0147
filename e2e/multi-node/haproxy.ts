/**
 * HAProxy for the multi-node e2e test: the shipped example ops/haproxy/two-nodes.cfg, with only its
 * addresses, its process limit and (optionally) its check timing made test-sized, started in the
 * foreground (`-db`) on a free loopback port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './processes.js';

export const HAPROXY_BIN = 'haproxy';
export const TWO_NODES_CFG = fileURLToPath(new URL('../../ops/haproxy/two-nodes.cfg', import.meta.url));

export function hasHaproxy(): boolean {
  return spawnSync('sh', ['-c', `command -v ${HAPROXY_BIN}`]).status === 0;
}

/** A duration of HAProxy's config ("1s", "250ms", "2m", bare = ms) in ms. */
export function durationMs(v: string): number {
  const m = /^(\d+)(us|ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new Error(`not an HAProxy duration: ${v}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return unit === 'us' ? n / 1000 : unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
}

export interface CheckTiming {
  readonly interMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly checkTimeoutMs: number;
  readonly tunnelMs: number;
}

/** The health-check timing of a config (its `default-server` and `timeout` lines). */
export function checkTiming(cfg: string): CheckTiming {
  const ds = /^\s*default-server\s+(.*)$/m.exec(cfg)?.[1] ?? '';
  const word = (k: string) => new RegExp(`\\b${k}\\s+(\\S+)`).exec(ds)?.[1];
  const timeout = (k: string) => new RegExp(`^\\s*timeout\\s+${k}\\s+(\\S+)`, 'm').exec(cfg)?.[1];
  const inter = word('inter');
  const fall = word('fall');
  const rise = word('rise');
  const check = timeout('check');
  const tunnel = timeout('tunnel');
  if (!inter || !fall || !rise || !check || !tunnel) throw new Error('config lacks inter/fall/rise on default-server, or timeout check/tunnel');
  return { interMs: durationMs(inter), fall: Number(fall), rise: Number(rise), checkTimeoutMs: durationMs(check), tunnelMs: durationMs(tunnel) };
}

/**
 * How long after a node's /readyz turns 503 HAProxy may still send it new connections: `fall`
 * failed checks `inter` apart, the last one allowed `timeout check` (DR-1; the value a node's
 * --drain-delay-ms must reach so its notices go out after it left rotation).
 */
export function rotationExitBoundMs(t: CheckTiming): number {
  return t.interMs * t.fall + t.checkTimeoutMs;
}

export interface TestConfigOptions {
  readonly port: number;
  readonly servers: readonly { readonly name: string; readonly port: number }[];
  /** Test-sized checks; default the example's own. */
  readonly interMs?: number;
  readonly checkTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

/** The shipped example, pointed at loopback: bind, servers, and what the options shrink. Nothing else changes. */
export function testConfig(template: string, o: TestConfigOptions): string {
  let cfg = template
    .replace(/^(\s*)maxconn \d+/m, '$1maxconn 4096') // an unprivileged process cannot raise its file limit to 400 000
    .replace(/^(\s*)bind :80$/m, `$1bind 127.0.0.1:${o.port}`)
    .replace(/^\s*server \S+ 10\.0\.0\.\d+:8080 check\n/gm, '');
  cfg = cfg.trimEnd() + '\n' + o.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check\n`).join('');
  if (o.interMs !== undefined) cfg = cfg.replace(/(default-server .*\binter )\S+/, `$1${o.interMs}ms`);
  if (o.checkTimeoutMs !== undefined) cfg = cfg.replace(/^(\s*timeout check\s+)\S+/m, `$1${o.checkTimeoutMs}ms`);
  if (o.connectTimeoutMs !== undefined) cfg = cfg.replace(/^(\s*timeout connect\s+)\S+/m, `$1${o.connectTimeoutMs}ms`);
  return cfg;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class Haproxy {
  private constructor(
    readonly port: number,
    readonly config: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly output: () => string,
  ) {}

  /** Start HAProxy with this config text and wait until it accepts on `port`. */
  static async start(config: string, port: number, timeoutMs = 10_000): Promise<Haproxy> {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const proc = track(spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] }), 'haproxy');
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const h = new Haproxy(port, config, proc, dir, () => out);
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}:\n${out}`);
      if (await accepts(port)) return h;
      if (Date.now() - t0 > timeoutMs) throw new Error(`haproxy did not accept on 127.0.0.1:${port} within ${timeoutMs} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  url(path = '/lifeline'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** What HAProxy printed (server state changes: "Server lifeline/a is DOWN"). */
  log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The shipped example's text. */
export function readTwoNodesConfig(): string {
  return readFileSync(TWO_NODES_CFG, 'utf8');
}
