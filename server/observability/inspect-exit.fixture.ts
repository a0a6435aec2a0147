// Child process for inspect.test.ts: inspects one server-session actor, stops the inspector and
// then does nothing. The process must exit on its own (argv: url, 'lifeline' | 'upstream').
import { createWebSocketInspector } from '@statelyai/inspect';
import { createActor } from 'xstate';
import { serverSessionMachine } from '../../spec/machines/server-session.machine.js';
import { helloEvent } from '../../spec/machines/server-session.events.js';
import { createServerInspector } from './inspect.js';

const [url = 'ws://127.0.0.1:9', mode = 'lifeline'] = process.argv.slice(2);
const inspector = mode === 'upstream' ? createWebSocketInspector({ url }) : createServerInspector({ url, retryDelayMs: 200 });
const actor = createActor(serverSessionMachine, { input: { handshakeTimeoutMs: 60_000 }, inspect: inspector.inspect }).start();
actor.send(helloEvent());
setTimeout(() => {
  actor.stop();
  inspector.stop();
  console.log('stopped');
}, 300);
