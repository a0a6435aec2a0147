import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import { defaults } from '../spec/protocol/defaults.js';
import { eventToJson, eventToText, parseSend } from './cli.js';
import { env, FakeServer } from '../test/support/client.js';

let server: FakeServer | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await server?.close();
  server = undefined;
});

const root = fileURLToPath(new URL('..', import.meta.url));

describe('lifeline connect', () => {
  test('RC-1 RC-9 prints state transitions, the Welcome and received messages as JSON; SIGINT closes NORMAL', async () => {
    server = await FakeServer.start();
    child = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeline.ts', 'connect', server.url, '--json', '--channel', 'c', '--token', 'secret'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const conn = await server.conn(0, 15_000);
    const hello = await conn.hello();
    expect(hello).toMatchObject({ channels: ['c'], token: 'secret' });
    conn.welcome({ sessionId: 'S' });
    conn.send(env.message(1n, 'hi there', { channel: 'c' }));
    await vi.waitFor(() => expect(out).toContain('"type":"message"'), { timeout: 10_000, interval: 20 });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.type === 'state').map((l) => l.state)).toEqual(['connecting', 'handshaking', 'connected']);
    expect(lines.find((l) => l.type === 'welcome')).toMatchObject({ sessionId: 'S', outcome: 'new' });
    expect(lines.find((l) => l.type === 'message')).toMatchObject({ seq: '1', channel: 'c', payload: 'hi there' });
    expect(out).not.toContain('secret'); // SEC-2: tokens are never printed
    child.kill('SIGINT');
    expect((await conn.closed).code).toBe(codeOf('NORMAL'));
  }, 30_000);

  test('RC-1 HB-9 human output names transitions and RTT', () => {
    expect(eventToText({ type: 'state', state: 'connected', previous: 'handshaking', transport: 'ws' })).toBe('state handshaking → connected');
    expect(eventToText({ type: 'rtt', rttMs: 1.25, smoothedRttMs: 2 })).toBe('rtt 1.3 ms (smoothed 2.0 ms)');
    expect(eventToJson({ type: 'channel', channel: 'c', version: 3n, state: new Uint8Array([0, 255]), cause: 'patch' })).toEqual({ type: 'channel', channel: 'c', version: '3', state: 'base64:AP8=', cause: 'patch' });
  });

  test('--send: TEXT on the session, CHANNEL:TEXT on a channel, :TEXT for a text with a colon', () => {
    expect(parseSend('hello')).toEqual([{ channel: '', text: 'hello' }]);
    expect(parseSend('chat:hi: there', [{ channel: '', text: 'a' }])).toEqual([
      { channel: '', text: 'a' },
      { channel: 'chat', text: 'hi: there' },
    ]);
    expect(parseSend(':12:30 lunch')).toEqual([{ channel: '', text: '12:30 lunch' }]);
  });

  test('WIRE-5 --send rejects an empty text and a channel over maxChannelBytes, naming the format', () => {
    expect(() => parseSend('')).toThrow(/empty message; the format is "TEXT" sends TEXT/);
    expect(() => parseSend('chat:')).toThrow(/nothing to send after "chat:"/);
    expect(() => parseSend(':')).toThrow(/nothing to send after ":"/);
    expect(() => parseSend(`${'c'.repeat(defaults.maxChannelBytes + 1)}:x`)).toThrow(`more than ${defaults.maxChannelBytes}`);
    expect(parseSend(`${'c'.repeat(defaults.maxChannelBytes)}:x`)).toHaveLength(1);
  });

  test('a malformed --send stops before connecting, with the format in the message', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeline.ts', 'connect', 'ws://127.0.0.1:9/lifeline', '--send', 'chat:'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child?.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toContain(`option '--send <message>' argument 'chat:' is invalid. nothing to send after "chat:"`);
  }, 30_000);
});
