import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import { connectRaw, type RawClient } from '../testkit/raw-client.js';
import { COUNTER_CHANNEL, TICKER_CHANNEL } from '../demo/demo-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const procs: ChildProcess[] = [];
const clients: RawClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
  for (const p of procs.splice(0)) if (p.exitCode === null && p.pid !== undefined) p.kill('SIGKILL');
});

function lifeline(args: string[]): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeline.ts', ...args], { cwd: root, env: { ...process.env, PORT: '0' } });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, exited };
}

async function waitForOutput(out: () => string, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const start = Date.now();
  for (;;) {
    const m = out().match(re);
    if (m) return m;
    if (Date.now() - start > timeoutMs) throw new Error(`no ${re} in output:\n${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lifeline serve', () => {
  test('--help lists the flags', async () => {
    const { out, exited } = lifeline(['serve', '--help']);
    expect(await exited).toBe(0);
    for (const flag of ['--port', '--host', '--path', '--allowed-origin', '--heartbeat-interval-ms', '--policy', '--replay-window-messages', '--resume-ttl-ms', '--drain-deadline-ms', '--demo']) {
      expect(out()).toContain(flag);
    }
  });

  test('DR-1 DR-2 DR-4 serve --demo prints its URL, serves the demo channels and health, and drains on SIGTERM then exits 0', async () => {
    const { proc, out, exited } = lifeline(['serve', '--demo', '--port', '0', '--log-level', 'warn', '--drain-deadline-ms', '600', '--drain-spread-ms', '100']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const http = (url as string).replace(/^ws/, 'http').replace('/lifeline', '');
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    expect([200, 404]).toContain((await fetch(`${http}/`)).status); // the page exists once the client side builds it
    const c = await connectRaw(url as string);
    clients.push(c);
    await c.handshake({ channels: [COUNTER_CHANNEL, TICKER_CHANNEL] });
    await c.waitForCount('snapshot', 2);
    await c.waitForBody('statePatch', 5000, (p) => p.channel === TICKER_CHANNEL);
    proc.kill('SIGTERM');
    await c.waitForBody('drainNotice');
    expect((await c.waitForClose(5000)).code).toBe(codeOf('SERVICE_RESTART'));
    expect(await exited).toBe(0);
  });
});
