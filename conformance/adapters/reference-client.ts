/**
 * The reference client's adapter for client mode (spec/conformance-control.md
 * §4): reads LIFELINE_URL and LIFELINE_CLIENT_CONFIG, runs the client when told
 * `connect`, performs commands from stdin, prints events on stdout as JSON
 * lines. A team with a client in another language writes the same hundred
 * lines around its own client. LIFELINE_CLIENT_MUTANT selects a deliberately
 * broken variant (conformance/mutants/client-mutants.ts).
 */
import { createInterface } from 'node:readline';
import type { ClientEvent, LifelineClient } from '../../client/create-client.js';
import { createClient } from '../../client/create-client.js';
import { nodeTransport } from '../../client/node.js';
import { httpTransport } from '../../client/transports/http.js';
import { nodeHttpFetch } from '../../client/transports/node-fetch.js';
import { bytesReducer } from '../../client/reducer.js';
import type { ClientConfig } from '../config.js';
import { clientMutation } from '../mutants/client-mutants.js';

const url = process.env.LIFELINE_URL;
if (!url) {
  process.stderr.write('LIFELINE_URL is not set\n');
  process.exit(2);
}
const config = JSON.parse(process.env.LIFELINE_CLIENT_CONFIG ?? '{}') as Partial<ClientConfig>;
const mutation = clientMutation(process.env.LIFELINE_CLIENT_MUTANT);

const out = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

let tokenId = 0;
const tokenWaiters = new Map<number, { resolve: (token: string) => void; reject: (err: Error) => void }>();
let client: LifelineClient<Uint8Array> | undefined;

function start(): LifelineClient<Uint8Array> {
  const transport = nodeTransport({ closeGraceMs: 200, ...(mutation.transportOptions ?? {}) });
  // §22.7: the HTTP carrier to fall back to, when the config declares it (feature client-http-transport)
  const fetchImpl = nodeHttpFetch();
  const http = config.features?.includes('client-http-transport')
    ? httpTransport(mutation.wrapFetch ? mutation.wrapFetch(fetchImpl) : fetchImpl, config.httpBufferingDetectMs !== undefined ? { bufferingDetectMs: config.httpBufferingDetectMs } : {})
    : undefined;
  const c = createClient<Uint8Array>({
    url: url as string,
    transport: mutation.wrap ? mutation.wrap(transport) : transport,
    ...(http ? { httpTransport: mutation.wrapHttp ? mutation.wrapHttp(http) : http } : {}),
    ...(config.httpFallbackAfter !== undefined ? { httpFallbackAfter: config.httpFallbackAfter } : {}),
    ...(config.wsRetryMs !== undefined ? { wsRetryMs: config.wsRetryMs } : {}),
    ...(config.wsRetryCapMs !== undefined ? { wsRetryCapMs: config.wsRetryCapMs } : {}),
    reducer: bytesReducer,
    autoConnect: false,
    getToken: ({ forceRefresh }) =>
      new Promise<string>((resolve, reject) => {
        const id = ++tokenId;
        tokenWaiters.set(id, { resolve, reject });
        out({ event: 'tokenRequest', id, forceRefresh });
      }),
    ...(config.reconnectBaseMs !== undefined ? { reconnectBaseMs: config.reconnectBaseMs } : {}),
    ...(config.reconnectCapMs !== undefined ? { reconnectCapMs: config.reconnectCapMs } : {}),
    ...(config.reconnectMaxAttempts !== undefined ? { reconnectMaxAttempts: config.reconnectMaxAttempts } : {}),
    ...(config.suspendedRetryMs !== undefined ? { suspendedRetryMs: config.suspendedRetryMs } : {}),
    ...(config.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: config.handshakeTimeoutMs } : {}),
    ...(config.queueLimitMessages !== undefined ? { queueLimitMessages: config.queueLimitMessages } : {}),
    ...(config.ackDelayMs !== undefined ? { ackDelayMs: config.ackDelayMs } : {}),
    ...(config.receiveWindow !== undefined ? { receiveWindow: config.receiveWindow } : {}),
    ...(mutation.options ?? {}),
  });
  c.onEvent((e: ClientEvent<Uint8Array>) => {
    switch (e.type) {
      case 'state':
        out({ event: 'state', state: e.state });
        break;
      case 'message':
        out({ event: 'message', seq: String(e.seq), channel: e.channel, payload: b64(e.payload), messageId: e.messageId });
        break;
      case 'channel':
        out({ event: 'channel', channel: e.channel, version: String(e.version), state: b64(e.state) });
        break;
      case 'closed':
        out({ event: 'closed', code: e.code, reason: e.reason });
        break;
      case 'refused':
        out({ event: 'refused', status: e.status, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) });
        break;
      default:
        break;
    }
  });
  c.connect();
  return c;
}

interface Command {
  cmd: string;
  id?: string | number;
  payload?: string;
  channel?: string;
  key?: string;
  messageId?: string;
  channels?: string[];
  token?: string;
  error?: string;
}

function onCommand(c: Command): void {
  switch (c.cmd) {
    case 'connect':
      if (!client) client = start();
      return;
    case 'send': {
      const id = String(c.id);
      if (!client) return out({ event: 'sendResult', id, ok: false, error: 'closed' });
      client
        .send(new Uint8Array(Buffer.from(c.payload ?? '', 'base64')), {
          ...(c.channel ? { channel: c.channel } : {}),
          ...(c.key ? { key: c.key } : {}),
          ...(c.messageId ? { messageId: c.messageId } : {}),
        })
        .then(
          () => out({ event: 'sendResult', id, ok: true }),
          (err: unknown) => out({ event: 'sendResult', id, ok: false, error: (err as { kind?: string }).kind ?? 'failed' }),
        );
      return;
    }
    case 'subscribe':
      void client?.subscribe(c.channels ?? []);
      return;
    case 'unsubscribe':
      client?.unsubscribe(c.channels ?? []);
      return;
    case 'close':
      client?.close();
      return;
    case 'reconnect':
      client?.reconnect();
      return;
    case 'online':
      client?.networkOnline();
      return;
    case 'token': {
      const w = tokenWaiters.get(Number(c.id));
      tokenWaiters.delete(Number(c.id));
      // A token command with `error` is a failed token fetch (RC-5: a failed attempt, backoff).
      if (c.error !== undefined) w?.reject(new Error(c.error));
      else w?.resolve(c.token ?? '');
      return;
    }
    case 'exit':
      client?.close();
      setTimeout(() => process.exit(0), 20);
      return;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(c)}\n`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  try {
    onCommand(JSON.parse(line) as Command);
  } catch (err) {
    process.stderr.write(`bad command line: ${err instanceof Error ? err.message : String(err)}\n`);
  }
});
process.stdin.on('end', () => process.exit(0));
out({ event: 'ready', name: 'lifeline-js (reference)' });
