import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { codeOf } from '../spec/protocol/close-codes.js';
import { connectRaw, type RawClient } from '../testkit/raw-client.js';
import { COUNTER_CHANNEL, TICKER_CHANNEL } from '../demo/demo-state.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../spec/protocol/defaults.js';
import { isRedisAvailable, startRedis, type RedisProcess } from '../test/support/redis.js';
import { DEMO_NEEDS_CLONE, serveCommand } from './cli.js';
import { redisUrlForDisplay } from './cli-redis.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const procs: ChildProcess[] = [];
const clients: RawClient[] = [];

let receiver: WebSocketServer | undefined;
let redis: RedisProcess | undefined;

afterEach(async () => {
  await redis?.stop();
  redis = undefined;
  for (const c of clients.splice(0)) c.terminate();
  for (const p of procs.splice(0)) if (p.exitCode === null && p.pid !== undefined) p.kill('SIGKILL');
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  receiver = undefined;
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

describe('lifeline', () => {
  test('--version prints the version in package.json', async () => {
    const { out, exited } = lifeline(['--version']);
    expect(await exited).toBe(0);
    expect(out().trim()).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('lifeline serve', () => {
  test('--help shows a default for every option that takes a value', () => {
    const cmd = serveCommand();
    // An option's help entry starts on a line "  -…" and runs until the next one.
    const entries = cmd.helpInformation().split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, ' ').trim());
    const entry = (flags: string) => entries.find((e) => e.startsWith(`${flags} `)) ?? `(no entry for ${flags})`;
    for (const opt of cmd.options.filter((o) => o.required || o.optional)) expect(entry(opt.flags), opt.flags).toMatch(/default/);
    // The values are the server's own defaults (spec §17), not copies.
    expect(entry('--heartbeat-interval-ms <ms>')).toContain(`(default: ${defaults.heartbeatIntervalMs})`);
    expect(entry('--resume-ttl-ms <ms>')).toContain(`(default: ${defaults.resumeTtlMs})`);
    expect(entry('--policy <policy>')).toContain('(default: drop-oldest)');
    expect(entry('--max-sessions <n>')).toContain(`default ${defaults.maxSessions}`); // on by default since issue 13
  });

  test('HS-4 --auth-tokens-file: a malformed file stops the start with its line number', async () => {
    const file = join(tmpdir(), `lifeline-tokens-${process.pid}.txt`);
    writeFileSync(file, 'tok-a alice\nsecret-without-principal\n');
    let err = '';
    const cmd = serveCommand().exitOverride().configureOutput({ writeErr: (s) => (err += s) });
    await expect(cmd.parseAsync(['--port', '0', '--auth-tokens-file', file], { from: 'user' })).rejects.toThrow(/invalid/);
    expect(err).toContain('line 2: expected "<token> <principal>"');
    expect(err).not.toContain('secret-without-principal'); // SEC-2
  });

  test('--demo without a registered demo (the library alone, as in the npm package) says it needs a clone', async () => {
    const cmd = serveCommand().exitOverride();
    await expect(cmd.parseAsync(['--demo', '--port', '0', '--log-level', 'error'], { from: 'user' })).rejects.toThrow(DEMO_NEEDS_CLONE);
  });

  test('--help lists the flags', async () => {
    const { out, exited } = lifeline(['serve', '--help']);
    expect(await exited).toBe(0);
    for (const flag of ['--port', '--host', '--path', '--allowed-origin', '--heartbeat-interval-ms', '--policy', '--replay-window-messages', '--resume-ttl-ms', '--drain-deadline-ms', '--demo']) {
      expect(out()).toContain(flag);
    }
    // Issue 13: every limit is on by default and --help says at what.
    const help = out().replace(/\s+/g, ' ');
    for (const [flag, value] of [
      ['--upgrade-rate-per-second', 20], ['--upgrade-burst', 50], ['--message-rate-per-second', 200], ['--message-burst', 1500],
      ['--control-rate-per-second', 200], ['--control-burst', 1000], ['--max-sessions', 10000], ['--max-detached-sessions', 5000],
      ['--detached-budget-bytes', 268435456], ['--no-dedupe', 10000],
    ] as const) {
      expect(help).toMatch(new RegExp(`${flag} .*?default[^)]*?${value}`));
    }
  });

  test('DR-1 DR-2 DR-4 serve --demo prints its URL, serves the demo channels and health, and drains on SIGTERM then exits 0', async () => {
    const { proc, out, exited } = lifeline(['serve', '--demo', '--port', '0', '--log-level', 'warn', '--drain-deadline-ms', '600', '--drain-spread-ms', '100']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const http = (url as string).replace(/^ws/, 'http').replace('/lifeline', '');
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${http}/metrics`)).text()).toContain('lifeline_connections_open');
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

  test('DR-4 a Ctrl-C echoed by npm (two SIGINTs at once) still drains; a later one exits at once', async () => {
    const { proc, out, exited } = lifeline(['serve', '--port', '0', '--log-level', 'info', '--drain-deadline-ms', '1500', '--drain-spread-ms', '100']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const c = await connectRaw(url as string);
    clients.push(c);
    await c.handshake();
    proc.kill('SIGINT');
    proc.kill('SIGINT'); // what the terminal and npm's forwarding deliver for one Ctrl-C
    await c.waitForBody('drainNotice');
    expect(await exited).toBe(0); // drained until the deadline, not cut short
    expect(out()).not.toContain('second signal');

    const second = lifeline(['serve', '--port', '0', '--log-level', 'info', '--drain-deadline-ms', '20000']);
    const [, url2] = (await waitForOutput(second.out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const c2 = await connectRaw(url2 as string);
    clients.push(c2);
    await c2.handshake();
    second.proc.kill('SIGINT');
    await c2.waitForBody('drainNotice');
    await waitForOutput(second.out, /"msg":"draining"/);
    await new Promise((r) => setTimeout(r, 1100)); // past the echo window: a person pressing Ctrl-C again
    second.proc.kill('SIGINT');
    expect(await second.exited).toBe(1);
    expect(second.out()).toContain('second signal: exiting without waiting for the drain');
  }, 40_000);

  test('--inspect streams the session actors to a receiver, and the process still exits after the drain', async () => {
    const messages: { type: string; event?: { type: string } }[] = [];
    receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    receiver.on('connection', (ws) => ws.on('message', (d) => messages.push(JSON.parse(String(d)) as (typeof messages)[number])));
    await new Promise((r) => receiver?.once('listening', r));
    const inspectUrl = `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const { proc, out, exited } = lifeline(['serve', '--port', '0', '--log-level', 'warn', '--inspect', inspectUrl, '--drain-deadline-ms', '300', '--drain-spread-ms', '50']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const c = await connectRaw(url as string);
    clients.push(c);
    await c.handshake();
    await vi.waitFor(() => expect(messages.some((m) => m.type === '@xstate.event' && m.event?.type === 'frame.hello')).toBe(true), { timeout: 10_000 });
    expect(messages.some((m) => m.type === '@xstate.actor')).toBe(true);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test('--inspect refuses a URL that is not ws:// or wss://', async () => {
    const { out, exited } = lifeline(['serve', '--port', '0', '--inspect', 'http://127.0.0.1:1']);
    expect(await exited).not.toBe(0);
    expect(out()).toContain('ws://');
  });
});

describe('lifeline serve: several nodes (issue 14)', () => {
  test('--redis refuses what is not a Redis URL while the flags are parsed; credentials never shown', async () => {
    let err = '';
    const cmd = serveCommand().exitOverride().configureOutput({ writeErr: (s) => (err += s) });
    await expect(cmd.parseAsync(['--port', '0', '--redis', 'http://127.0.0.1:6379'], { from: 'user' })).rejects.toThrow(/invalid/);
    expect(err).toContain('redis://');
    expect(redisUrlForDisplay('redis://user:s3cret@10.0.0.5:6379/2')).toBe('redis://10.0.0.5:6379/2'); // SEC-2
    expect(redisUrlForDisplay('rediss://:s3cret@cache.example:6380')).toBe('rediss://cache.example:6380');
  });

  test('DR-1 --drain-delay-ms: on SIGTERM /readyz answers 503 and upgrades are refused at once; the notices go out after the delay', async () => {
    const { proc, out, exited } = lifeline(['serve', '--port', '0', '--log-level', 'warn', '--drain-delay-ms', '800', '--drain-deadline-ms', '600', '--drain-spread-ms', '50']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    const http = (url as string).replace(/^ws/, 'http').replace('/lifeline', '');
    const c = await connectRaw(url as string);
    clients.push(c);
    await c.handshake();
    const t0 = performance.now();
    proc.kill('SIGTERM');
    await vi.waitFor(async () => expect((await fetch(`${http}/readyz`)).status).toBe(503), { timeout: 5000, interval: 20 });
    await expect(connectRaw(url as string)).rejects.toThrow(/503/); // HS-6
    await c.waitForBody('drainNotice', 10_000);
    // The delay is declared: the notice cannot come before it (no upper bound asserted on a busy machine).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(800 - 50);
    expect(await exited).toBe(0);
  }, 30_000);

  test.skipIf(!isRedisAvailable())('MN-14 serve --redis: shares through Redis under its node id; /readyz follows Redis; SIGTERM drains and exits 0', async () => {
    redis = await startRedis({ appendonly: true }); // the restart below keeps the session (spec §21.8: without persistence the store loses it, MN-8)
    const { proc, out, exited } = lifeline(['serve', '--port', '0', '--log-level', 'info', '--redis', redis.url, '--node-id', 'node-one', '--drain-deadline-ms', '600', '--drain-spread-ms', '50']);
    const [, url] = (await waitForOutput(out, /listening: (ws:\/\/\S+)/)) as RegExpMatchArray;
    await waitForOutput(out, /Shared through Redis/); // its own console.log: it may reach the pipe in a later chunk
    expect(out()).toContain(`Shared through Redis: ${redis.url} (prefix lifeline:), node node-one`);
    const http = (url as string).replace(/^ws/, 'http').replace('/lifeline', '');
    const readyz = async () => (await fetch(`${http}/readyz`)).status;
    await vi.waitFor(async () => expect(await readyz()).toBe(200), { timeout: 10_000, interval: 20 });
    const c = await connectRaw(url as string);
    clients.push(c);
    await c.handshake({ channels: ['news'] });
    await redis.kill();
    await vi.waitFor(async () => expect(await readyz()).toBe(503), { timeout: 10_000, interval: 20 });
    await waitForOutput(out, /redis unavailable/);
    await redis.start();
    await vi.waitFor(async () => expect(await readyz()).toBe(200), { timeout: 10_000, interval: 50 }); // ioredis reconnects by itself
    proc.kill('SIGTERM');
    await c.waitForBody('drainNotice', 10_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; the server printed:\n${out()}`); // what the node did instead of draining
    });
    expect(await exited).toBe(0); // the Redis connections were closed: nothing keeps the process alive
  }, 40_000);
});
