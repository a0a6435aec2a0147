import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createActor, SimulatedClock } from 'xstate';
import { serverSessionMachine } from '../../spec/machines/server-session.machine.js';
import { heartbeatEvent, helloEvent } from '../../spec/machines/server-session.events.js';
import { createServerInspector, type ServerInspector } from './inspect.js';

interface Received {
  type: string;
  sessionId: string;
  name?: string;
  definition?: string;
  event?: { type: string };
  snapshot?: { value?: unknown; context?: Record<string, unknown> };
}

let receiver: WebSocketServer | undefined;
let inspector: ServerInspector | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  inspector?.stop();
  child?.kill('SIGKILL');
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  receiver = inspector = child = undefined;
});

async function startReceiver(): Promise<{ url: string; messages: Received[] }> {
  const messages: Received[] = [];
  receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  receiver.on('connection', (ws) => ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Received)));
  await new Promise((r) => receiver?.once('listening', r));
  return { url: `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}`, messages };
}

const hello = helloEvent();

describe('server inspector', () => {
  test('streams a real session actor: its definition, events and snapshots', async () => {
    const { url, messages } = await startReceiver();
    inspector = createServerInspector({ url });
    const clock = new SimulatedClock();
    const actor = createActor(serverSessionMachine, { input: { heartbeatMissedMax: 2 }, clock, inspect: inspector.inspect }).start();
    actor.send(hello);
    actor.send({ type: 'sweep.tick' });
    actor.send(heartbeatEvent());
    actor.send({ type: 'app.drain', reconnectAfterMs: 100, deadlineMs: 1000 });
    clock.increment(1000);
    await vi.waitFor(
      () => expect(messages.some((m) => m.type === '@xstate.snapshot' && JSON.stringify(m.snapshot?.value) === '"detached"')).toBe(true),
      { timeout: 10_000 },
    );
    actor.stop();

    const actors = messages.filter((m) => m.type === '@xstate.actor');
    expect(actors[0]?.name).toBe('serverSession');
    const definition = JSON.parse(actors[0]?.definition ?? '{}') as { id: string; states: Record<string, unknown> };
    expect(definition.id).toBe('serverSession');
    expect(Object.keys(definition.states)).toEqual(expect.arrayContaining(['handshaking', 'attached', 'detached', 'closed']));
    const events = messages.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type);
    expect(events).toEqual(expect.arrayContaining(['frame.hello', 'sweep.tick', 'frame.heartbeat', 'app.drain']));
    expect(events.some((t) => t?.startsWith('xstate.after.drainDeadline'))).toBe(true);
    const values = messages.filter((m) => m.type === '@xstate.snapshot').map((m) => JSON.stringify(m.snapshot?.value));
    // The inspector serializes with sorted keys.
    expect(values).toEqual([
      '"handshaking"',
      JSON.stringify({ attached: { flow: 'flowing', liveness: 'alive', phase: 'active' } }),
      JSON.stringify({ attached: { flow: 'flowing', liveness: 'suspect', phase: 'active' } }),
      JSON.stringify({ attached: { flow: 'flowing', liveness: 'alive', phase: 'active' } }),
      JSON.stringify({ attached: { flow: 'flowing', liveness: 'alive', phase: 'draining' } }),
      '"detached"',
    ]);
    // Every message belongs to the one actor inspected.
    expect(new Set(messages.map((m) => m.sessionId)).size).toBe(1);
    expect(inspector.sent).toBe(messages.length);
  });

  test('buffers while the receiver is away and delivers once it listens', async () => {
    const { url, messages } = await startReceiver();
    const port = Number(new URL(url).port);
    await new Promise<void>((r) => receiver?.close(() => r()));
    inspector = createServerInspector({ url, retryDelayMs: 50 });
    const actor = createActor(serverSessionMachine, { input: {}, inspect: inspector.inspect }).start();
    actor.send(hello);
    await new Promise((r) => setTimeout(r, 100));
    expect(inspector.isConnected).toBe(false);
    receiver = new WebSocketServer({ host: '127.0.0.1', port });
    receiver.on('connection', (ws) => ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Received)));
    await vi.waitFor(() => expect(messages.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type)).toContain('frame.hello'), {
      timeout: 10_000,
    });
    actor.stop();
    // Sent once: the backlog is not replayed on a later reconnect.
    const before = messages.length;
    receiver.clients.forEach((c) => c.terminate());
    await vi.waitFor(() => expect(inspector?.isConnected).toBe(true), { timeout: 10_000 });
    expect(messages.length).toBe(before);
  });

  test('stop() releases the process, even with no receiver listening', async () => {
    const fixture = fileURLToPath(new URL('./inspect-exit.fixture.ts', import.meta.url));
    const exitOf = (url: string, mode: string) => {
      child = spawn(process.execPath, ['--import', 'tsx', fixture, url, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const proc = child;
      return new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    };
    // Nothing listens on the discard port: every connect fails at once.
    expect(await exitOf('ws://127.0.0.1:9', 'lifeline')).toBe(0);
    const { url } = await startReceiver();
    expect(await exitOf(url, 'lifeline')).toBe(0);
  });

  test("documents the upstream behaviour: createWebSocketInspector's retry loop outlives stop()", async () => {
    const fixture = fileURLToPath(new URL('./inspect-exit.fixture.ts', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', fixture, 'ws://127.0.0.1:9', 'upstream'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += String(d)));
    await vi.waitFor(() => expect(out).toContain('stopped'), { timeout: 10_000 });
    // Its 5 s retry timer fires after stop() and opens a new socket: still alive well after that.
    await new Promise((r) => setTimeout(r, 6_500));
    expect(child.exitCode).toBeNull();
  });
});
