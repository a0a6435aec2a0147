import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { assign, createActor, fromPromise, setup } from 'xstate';
import type { InspectWebSocketConstructor } from '../../spec/charts/inspect-socket.js';
import { createClientInspector, type ClientInspector } from './inspect.js';

const SECRET = 'jwt.s3cr3t.t0ken';

// The shape of the client connection machine's credential path: getToken → context.token (RC-5).
const connection = setup({
  types: {} as { context: { token: string | undefined; attempts: number }; events: { type: 'app.connect' } | { type: 'socket.opened' } },
  actors: { getToken: fromPromise(async () => SECRET) },
}).createMachine({
  id: 'client',
  context: { token: undefined, attempts: 0 },
  initial: 'idle',
  states: {
    idle: { on: { 'app.connect': 'connecting' } },
    connecting: {
      invoke: { id: 'getToken', src: 'getToken', onDone: { target: 'opening', actions: assign({ token: ({ event }) => event.output }) } },
    },
    opening: { on: { 'socket.opened': 'handshaking' } },
    handshaking: {},
  },
});

let receiver: WebSocketServer | undefined;
let inspector: ClientInspector | undefined;
afterEach(async () => {
  inspector?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  receiver = inspector = undefined;
});

describe('client inspector', () => {
  test('SEC-2 streams the connection actor to a WebSocket receiver without its token', async () => {
    const raw: string[] = [];
    receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    receiver.on('connection', (ws) => ws.on('message', (d) => raw.push(String(d))));
    await new Promise((r) => receiver?.once('listening', r));
    const url = `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    inspector = createClientInspector({ url, WebSocket: WebSocket as unknown as InspectWebSocketConstructor });
    const actor = createActor(connection, { inspect: inspector.inspect }).start();
    actor.send({ type: 'app.connect' });
    await vi.waitFor(() => expect(actor.getSnapshot().value).toBe('opening'));
    expect(actor.getSnapshot().context.token).toBe(SECRET);
    actor.send({ type: 'socket.opened' });
    const messages = () => raw.map((r) => JSON.parse(r) as { type: string; name?: string; event?: { type: string }; snapshot?: { value?: unknown } });
    await vi.waitFor(() => expect(messages().some((m) => m.snapshot?.value === 'handshaking')).toBe(true), { timeout: 10_000 });
    actor.stop();

    const all = messages();
    expect(all.filter((m) => m.type === '@xstate.actor').map((m) => m.name)).toEqual(['client']);
    expect(all.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type)).toEqual(
      expect.arrayContaining(['app.connect', 'xstate.done.actor.getToken', 'socket.opened']),
    );
    expect(all.filter((m) => m.type === '@xstate.snapshot').map((m) => m.snapshot?.value)).toEqual(
      expect.arrayContaining(['idle', 'connecting', 'opening', 'handshaking']),
    );
    // The token was in context and in getToken's output; neither reached the receiver.
    expect(raw.join('\n')).not.toContain(SECRET);
    expect(raw.join('\n')).toContain('[REDACTED]');
  });

  test('refuses to start without a WebSocket implementation', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      expect(() => createClientInspector({ url: 'ws://127.0.0.1:9' })).toThrow(/no global WebSocket/);
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });
});
