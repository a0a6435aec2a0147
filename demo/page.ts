/**
 * The demo page's script (bundled to dist/browser/demo.js): the reference client in the browser,
 * showing connection state, RTT, last seq and the live demo.counter and demo.ticker channels,
 * applied with the same pure reducer the server uses (demo/demo-state.ts; SD-1, SD-3).
 *
 * Query parameters tune the client for tests and experiments: url, reconnectBaseMs,
 * reconnectCapMs, reconnectMaxAttempts, handshakeTimeoutMs.
 */
import { createBrowserClient, type ChannelReducer, type ClientEvent } from '../client/browser.js';
import {
  COUNTER_CHANNEL,
  DEMO_CHANNELS,
  TICKER_CHANNEL,
  applyDemoPatch,
  decodeDemoState,
  encodeDemoState,
  incrementPayload,
  type CounterState,
  type DemoState,
  type TickerState,
} from './demo-state.js';

const reducer: ChannelReducer<DemoState> = {
  snapshot: decodeDemoState,
  apply: applyDemoPatch,
  encode: encodeDemoState,
};

const params = new URLSearchParams(location.search);
const num = (name: string): number | undefined => {
  const v = params.get(name);
  return v === null || !Number.isFinite(Number(v)) ? undefined : Number(v);
};
const wsUrl = params.get('url') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/lifeline`;
const tuning = Object.fromEntries(
  ['reconnectBaseMs', 'reconnectCapMs', 'reconnectMaxAttempts', 'handshakeTimeoutMs']
    .map((k) => [k, num(k)] as const)
    .filter((e): e is readonly [string, number] => e[1] !== undefined),
);

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
};

const client = createBrowserClient<DemoState>({ url: wsUrl, channels: [...DEMO_CHANNELS], reducer, autoConnect: false, ...tuning });
(globalThis as { lifeline?: unknown }).lifeline = client; // for the console and tests

function log(line: string): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${line}`;
  const list = $('log');
  list.prepend(li);
  while (list.children.length > 40) list.lastElementChild?.remove();
}

function renderChannel(channel: string, version: bigint, state: DemoState): void {
  if (channel === COUNTER_CHANNEL) {
    $('counter-value').textContent = String((state as CounterState).value);
    $('counter-version').textContent = String(version);
  } else if (channel === TICKER_CHANNEL) {
    const t = state as TickerState;
    const body = $('ticker');
    body.replaceChildren(
      ...Object.keys(t).sort().map((sym) => {
        const tr = document.createElement('tr');
        tr.dataset.symbol = sym;
        const a = document.createElement('td');
        a.textContent = sym;
        const b = document.createElement('td');
        b.textContent = (t[sym] ?? 0).toFixed(2);
        tr.append(a, b);
        return tr;
      }),
    );
    $('ticker-version').textContent = String(version);
  }
}

client.subscribe((e: ClientEvent<DemoState>) => {
  switch (e.type) {
    case 'state': {
      const el = $('state');
      el.textContent = e.state;
      el.dataset.state = e.state;
      log(`state ${e.previous} → ${e.state}`);
      break;
    }
    case 'welcome':
      $('session').textContent = e.sessionId;
      $('resume').textContent = `${e.outcome} (${e.reason})`;
      $('resume').dataset.outcome = e.outcome;
      $('resume').dataset.reason = e.reason;
      log(`welcome ${e.outcome} ${e.reason} from seq ${e.fromSeq}`);
      break;
    case 'channel':
      renderChannel(e.channel, e.version, e.state);
      break;
    case 'rtt':
      $('rtt').textContent = `${e.smoothedRttMs.toFixed(1)} ms`;
      break;
    case 'drift':
      log(`drift ${e.from} ${e.channel || '(session)'} ${e.reason}`);
      break;
    case 'drain':
      log(`drain notice: reconnect in ${e.reconnectAfterMs} ms`);
      break;
    case 'closed':
      log(`closed ${e.code}${e.reason ? ` ${e.reason}` : ''}`);
      break;
    case 'error':
      log(`error ${e.error.message}`);
      break;
    case 'message':
    case 'refused':
      break;
  }
  $('seq').textContent = String(client.lastSeq);
});

$('increment').addEventListener('click', () => {
  const status = $('send-status');
  status.textContent = 'sending…';
  client.send(incrementPayload(), { channel: COUNTER_CHANNEL }).then(
    () => (status.textContent = 'acknowledged'),
    (err: unknown) => (status.textContent = `failed: ${err instanceof Error ? err.message : String(err)}`),
  );
});

client.connect();
