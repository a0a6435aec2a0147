/**
 * `lifeline connect <url>` (Node): connects the reference client and prints what happens: state
 * transitions (RC-1), RTT (HB-9), Welcome outcomes (RS-5), received messages and channel state.
 * With --inspect <ws-url> the connection actor streams to an XState inspector receiver (issue 8).
 */
import { Command, InvalidArgumentError } from 'commander';
import { WebSocket } from 'ws';
import { defaults } from '../spec/protocol/defaults.js';
import type { InspectWebSocketConstructor } from '../spec/charts/inspect-socket.js';
import type { ClientEvent } from './create-client.js';
import { createClientInspector } from './observability/inspect.js';
import { createNodeClient } from './node.js';
import type { ChannelReducer } from './reducer.js';

/**
 * The CLI does not know the application's state format, so it shows snapshots and deltas as
 * bytes and checks only the version chain (SD-1), not digests: a digest (SD-3) is over the
 * application's canonical state, which a delta need not be.
 */
const rawReducer: ChannelReducer<Uint8Array> = {
  snapshot: (_channel, state) => state,
  apply: (_channel, _current, delta) => delta,
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One --send: the text and its channel ('' = the session itself). */
export interface SendSpec {
  readonly channel: string;
  readonly text: string;
}

export const SEND_FORMAT = '"TEXT" sends TEXT on the session; "CHANNEL:TEXT" sends on CHANNEL (split at the first ":"; ":TEXT" sends a TEXT that contains ":" on the session)';

/** Parse one --send value (commander argParser; repeatable). Rejects what would not be sent as meant. */
export function parseSend(value: string, previous: readonly SendSpec[] = []): SendSpec[] {
  const i = value.indexOf(':');
  const [channel, text] = i >= 0 ? [value.slice(0, i), value.slice(i + 1)] : ['', value];
  if (text === '') throw new InvalidArgumentError(i >= 0 ? `nothing to send after "${channel}:"; the format is ${SEND_FORMAT}` : `empty message; the format is ${SEND_FORMAT}`);
  const channelBytes = new TextEncoder().encode(channel).length;
  if (channelBytes > defaults.maxChannelBytes) throw new InvalidArgumentError(`the channel before ":" is ${channelBytes} bytes, more than ${defaults.maxChannelBytes} (WIRE-5)`);
  return [...previous, { channel, text }];
}

/** Printable UTF-8 as text, anything else as base64. */
export function showBytes(b: Uint8Array): string {
  try {
    const s = utf8.decode(b);
    // eslint-disable-next-line no-control-regex
    if (!/[\x00-\x08\x0e-\x1f]/.test(s)) return s;
  } catch {
    // not UTF-8
  }
  return `base64:${Buffer.from(b).toString('base64')}`;
}

/** One event as a JSON-safe object (bigints as decimal strings, bytes as text or base64). */
export function eventToJson(e: ClientEvent<Uint8Array>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (typeof v === 'bigint') out[k] = v.toString();
    else if (v instanceof Uint8Array) out[k] = showBytes(v);
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

/** One event as a human line, or undefined for events not worth a line. */
export function eventToText(e: ClientEvent<Uint8Array>): string | undefined {
  switch (e.type) {
    case 'state':
      return `state ${e.previous} → ${e.state}`;
    case 'welcome':
      return `welcome session=${e.sessionId} outcome=${e.outcome} reason=${e.reason} from_seq=${e.fromSeq} replayed=${e.replayed} heartbeat=${e.heartbeatIntervalMs}ms transport=${e.transport}`;
    case 'message':
      return `message #${e.seq}${e.channel ? ` [${e.channel}]` : ''} ${showBytes(e.payload)}`;
    case 'channel':
      return `channel ${e.channel} v${e.version} ${e.cause === 'snapshot' ? 'snapshot' : 'patch delta'} ${showBytes(e.state)}`;
    case 'rtt':
      return `rtt ${e.rttMs.toFixed(1)} ms (smoothed ${e.smoothedRttMs.toFixed(1)} ms)`;
    case 'drift':
      return `drift ${e.from === 'client' ? 'reported' : 'announced by server'} channel=${e.channel || '(session)'} reason=${e.reason}`;
    case 'drain':
      return `drain notice: reconnect after ${e.reconnectAfterMs} ms${e.target ? ` to ${e.target}` : ''}, deadline ${e.deadlineMs} ms`;
    case 'closed':
      return `closed ${e.code}${e.reason ? ` "${e.reason}"` : ''} (${e.byClient ? 'by client' : 'by server or network'})`;
    case 'refused':
      return `refused: HTTP ${e.status}${e.retryAfterMs !== undefined ? `, retry after ${e.retryAfterMs} ms` : ''}`;
    case 'sendFailed':
      return `send failed ${e.messageId}: ${e.error.message}`;
    case 'error':
      return `error ${e.error.message}`;
    default: {
      const exhaustive: never = e;
      return exhaustive;
    }
  }
}

interface ConnectFlags {
  channel: string[];
  json?: boolean;
  token?: string;
  send: SendSpec[];
  reconnectBaseMs?: number;
  reconnectCapMs?: number;
  reconnectMaxAttempts?: number;
  inspect?: string;
}

export function connectCommand(): Command {
  return new Command('connect')
    .description('connect the reference client and print state transitions, RTT and received messages')
    .argument('<url>', 'Lifeline URL, e.g. ws://127.0.0.1:8080/lifeline')
    .option('-c, --channel <name>', 'subscribe to a channel (repeatable)', collect, [])
    .option('--json', 'print one JSON object per event')
    .option('--token <token>', 'send this token in Hello (never printed)')
    .option('--send <message>', `send a message once connected (repeatable): ${SEND_FORMAT}`, parseSend, [])
    .option('--reconnect-base-ms <ms>', `backoff base (RC-2; default ${defaults.reconnectBaseMs})`, positiveInt)
    .option('--reconnect-cap-ms <ms>', `backoff cap (RC-2; default ${defaults.reconnectCapMs})`, positiveInt)
    .option('--reconnect-max-attempts <n>', `failed attempts before suspended (RC-3; default ${defaults.reconnectMaxAttempts})`, positiveInt)
    .option('--inspect <ws-url>', 'stream the connection actor to an XState inspector receiver (opt-in; the token is never sent)')
    .action((url: string, flags: ConnectFlags) => {
      const token = flags.token;
      // Strictly opt-in: an inspector retries while nothing listens (stopped below, with the client).
      const inspector =
        flags.inspect === undefined ? undefined : createClientInspector({ url: flags.inspect, WebSocket: WebSocket as unknown as InspectWebSocketConstructor });
      const client = createNodeClient({
        url,
        autoConnect: false, // subscribe first, so the first transition is printed too
        channels: flags.channel,
        reducer: rawReducer,
        ...(token !== undefined && { getToken: () => token }),
        ...(flags.reconnectBaseMs !== undefined && { reconnectBaseMs: flags.reconnectBaseMs }),
        ...(flags.reconnectCapMs !== undefined && { reconnectCapMs: flags.reconnectCapMs }),
        ...(flags.reconnectMaxAttempts !== undefined && { reconnectMaxAttempts: flags.reconnectMaxAttempts }),
        ...(inspector && { inspect: inspector.inspect }),
      });
      let isFirstWelcome = true;
      client.onEvent((e) => {
        const line = flags.json ? JSON.stringify({ t: new Date().toISOString(), ...eventToJson(e) }) : eventToText(e);
        if (line !== undefined) process.stdout.write(`${flags.json ? '' : `${new Date().toISOString().slice(11, 23)} `}${line}\n`);
        if (e.type === 'welcome' && isFirstWelcome) {
          isFirstWelcome = false;
          for (const { channel, text } of flags.send) {
            client.send(text, { channel }).then(
              () => process.stdout.write(flags.json ? `${JSON.stringify({ type: 'sent', text })}\n` : `sent (acked) ${text}\n`),
              (err: unknown) => process.stderr.write(`send failed: ${err instanceof Error ? err.message : String(err)}\n`),
            );
          }
        }
        if (e.type === 'state' && (e.state === 'failed' || e.state === 'closed')) {
          process.exitCode = e.state === 'failed' ? 1 : 0;
          setTimeout(() => {
            inspector?.stop(); // after the final snapshot went out
            process.exit();
          }, 50);
        }
      });
      client.connect();
      const stop = () => client.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
