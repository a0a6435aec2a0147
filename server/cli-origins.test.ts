/**
 * `lifeline serve` and Origins (issue 13, defect 7; SEC-1): the demo allows its
 * own origin (from its listen address and port) and any --allowed-origin only;
 * plain serve says loudly that it accepts any Origin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { tryConnect } from '../testkit/raw-client.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

function serve(args: string[]): { out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeline.ts', 'serve', '--port', '0', '--log-level', 'warn', ...args], { cwd: root });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { out: () => out, exited: new Promise((r) => proc.on('exit', (c) => r(c))) };
}

async function line(out: () => string, re: RegExp): Promise<RegExpMatchArray> {
  const t0 = Date.now();
  for (;;) {
    const m = out().match(re);
    if (m) return m;
    if (Date.now() - t0 > 15_000) throw new Error(`no ${re} in:\n${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function status(url: string, origin?: string): Promise<number> {
  const r = await tryConnect(url, origin === undefined ? {} : { origin });
  if (r.ok) {
    r.client.terminate();
    return 101;
  }
  return r.refusal.status;
}

describe('lifeline serve: origins (SEC-1)', () => {
  test('SEC-1 HS-2 serve --demo allows its own origin and --allowed-origin only; look-alikes get 403', async () => {
    const { out } = serve(['--demo', '--allowed-origin', 'https://demo.example']);
    const [, url] = (await line(out, /listening: (ws:\/\/\S+)/)) as [string, string];
    await line(out, /Allowed origins: /);
    const port = new URL(url).port;
    expect(await status(url, `http://127.0.0.1:${port}`)).toBe(101);
    expect(await status(url, `http://localhost:${port}`)).toBe(101);
    expect(await status(url, 'https://demo.example')).toBe(101);
    for (const bad of ['https://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, `https://127.0.0.1:${port}`, 'https://DEMO.example', 'https://demo.example.evil.example']) {
      expect(await status(url, bad), bad).toBe(403);
    }
    // Non-browser clients send no Origin and cannot carry a victim's cookies: still served.
    expect(await status(url)).toBe(101);
  });

  test('SEC-1 plain serve without --allowed-origin says it accepts any Origin; --help documents the flag', async () => {
    const { out } = serve([]);
    await line(out, /Allowed origins: any/);
    const help = serve(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.out()).toMatch(/--allowed-origin[\s\S]*matched exactly[\s\S]*SEC-1/);
    for (const flag of ['--headers-timeout-ms', '--max-pending-upgrades-per-ip', '--max-pending-upgrades']) expect(help.out()).toContain(flag);
  });
});
