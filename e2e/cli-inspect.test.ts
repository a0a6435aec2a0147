/**
 * `lifeline connect --inspect <ws-url>` (issue 8 item 4): a real client session, the CLI against
 * the reference server, streams its connection actor to a local receiving `ws` server
 * (`@xstate.actor` with the machine definition, `@xstate.event`, `@xstate.snapshot`), never the
 * token (SEC-2), and the inspector is stopped when the client closes: its socket ends with a
 * clean 1000 rather than being cut by the process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createServer, type LifelineServer } from '../server/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'cli.inspect.s3cr3t';

let srv: LifelineServer | undefined;
let receiver: WebSocketServer | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  await srv?.close();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  child = srv = receiver = undefined;
});

interface Inspected {
  type: string;
  name?: string;
  definition?: string;
  event?: { type: string };
  snapshot?: { value?: unknown };
}

describe('lifeline connect --inspect', () => {
  test('SEC-2 a real client session streams actor, events and snapshots; the inspector stops with the client', async () => {
    srv = createServer({ heartbeatIntervalMs: 100 });
    await srv.listen(0, '127.0.0.1');
    const raw: string[] = [];
    let inspectorClose: number | undefined;
    receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    receiver.on('connection', (ws) => {
      ws.on('message', (d) => raw.push(String(d)));
      ws.on('close', (code) => (inspectorClose = code));
    });
    await new Promise((r) => receiver?.once('listening', r));
    const inspectUrl = `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

    const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeline.ts', 'connect', srv.url(), '--json', '--token', SECRET, '--inspect', inspectUrl], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

    const messages = () => raw.map((r) => JSON.parse(r) as Inspected);
    const isConnected = (m: Inspected) => typeof m.snapshot?.value === 'object' && m.snapshot.value !== null && 'connected' in m.snapshot.value;
    await vi.waitFor(() => expect(out).toContain('"type":"welcome"'), { timeout: 20_000, interval: 50 });
    await vi.waitFor(() => expect(messages().some(isConnected)).toBe(true), { timeout: 10_000, interval: 20 });

    const all = messages();
    const actors = all.filter((m) => m.type === '@xstate.actor');
    expect(actors.length).toBeGreaterThanOrEqual(1);
    expect(actors.some((a) => (a.definition ?? '').includes('handshaking'))).toBe(true); // the machine itself
    expect(all.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type)).toEqual(
      expect.arrayContaining(['app.connect', 'socket.opened', 'frame.welcome']),
    );
    const values = all.filter((m) => m.type === '@xstate.snapshot').map((m) => JSON.stringify(m.snapshot?.value));
    expect(values).toEqual(expect.arrayContaining(['"handshaking"', expect.stringContaining('connected')]));
    expect(raw.join('\n')).not.toContain(SECRET); // SEC-2: getToken's output and context are redacted

    proc.kill('SIGINT'); // RC-9: close NORMAL; then the CLI stops the inspector and exits
    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(inspectorClose).toBe(1000), { timeout: 5_000, interval: 20 });
    expect(messages().some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'closed')).toBe(true);
  }, 60_000);
});
