/**
 * The demo page's script (bundled to dist/browser/demo.js): the reference client in the browser,
 * with its lifecycle drawn live from the client connection machine (issue 8), connection numbers
 * (RTT HB-9, last seq, outbound queue BP-13, gaps), the demo.counter and demo.ticker channels
 * (applied with the server's own reducer, SD-1, SD-3), and three fault buttons:
 *
 * - Drop silently: the transport swallows frames both ways (page-faults.ts); the client's
 *   dead-peer timer closes HEARTBEAT_TIMEOUT and resumes (HB-4).
 * - Close: the server closes this socket GOING_AWAY (CC-7); the client backs off and resumes.
 * - Drain server: the server drains (DR-1 … DR-5); the client reconnects after its slot (DR-6).
 *
 * Behind a proxy that blocks WebSockets the client falls back to the HTTP carrier (§22.7) and
 * moves back when a WebSocket probe opens; the badge beside the state says which (page-transport.ts).
 *
 * Query parameters (page-options.ts): url, reconnectBaseMs, reconnectCapMs, reconnectMaxAttempts,
 * handshakeTimeoutMs, httpFallbackAfter, wsRetryMs, httpBufferingDetectMs, drainDeadlineMs, drainSpreadMs,
 * inspect.
 */
import type { InspectionEvent } from 'xstate';
import { createClient, httpTransport, webSocketTransport, type ChannelReducer, type ClientEvent, type WebSocketConstructorLike } from '../client/index.js';
import { createClientInspector } from '../client/observability/inspect.js';
import { mermaidId } from '../spec/charts/mermaid.js';
import { topLevelStates } from '../spec/charts/overview.js';
import { clientConnectionMachine } from '../spec/machines/client-connection.machine.js';
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
import { LiveChart } from './page-chart.js';
import { faultTransport } from './page-faults.js';
import { attemptTransport, explainUnopened } from './page-refusals.js';
import { pageOptions } from './page-options.js';
import { SeqWatch } from './page-seq-watch.js';
import { transportBadge, TransportWatch } from './page-transport.js';

type Mermaid = typeof import('mermaid').default;

const reducer: ChannelReducer<DemoState> = { snapshot: decodeDemoState, apply: applyDemoPatch, encode: encodeDemoState };
const opts = pageOptions(location.search, location);
const query = new URLSearchParams(location.search);

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
};

/** Add a line to the event log; returns a setter that rewrites it (its time stays). */
function log(line: string): (line: string) => void {
  const li = document.createElement('li');
  const at = new Date().toISOString().slice(11, 23);
  li.textContent = `${at} ${line}`;
  const list = $('log');
  list.prepend(li);
  while (list.children.length > 60) list.lastElementChild?.remove();
  return (next) => {
    li.textContent = `${at} ${next}`;
  };
}

/**
 * A close as the log tells it. A socket that never opened and closed 1006 is, in a browser, most
 * often a refused upgrade whose status the browser hides: the line is rewritten with what the
 * server answered (page-refusals.ts), e.g. "refused 503 Service Unavailable, Retry-After 1 s".
 */
function logClose(code: number, reason: string, byClient: boolean): void {
  const attempt = byClient || code !== 1006 ? undefined : attempts.lastUnopened();
  const set = log(`closed ${code}${reason ? ` ${reason}` : ''} (${byClient ? 'by the client' : 'by the server or network'})`);
  if (attempt !== undefined) void explainUnopened(opts.wsUrl, attempt).then(set);
}

// ---- the live chart ----

// Mermaid ships as prebuilt ESM copied beside this bundle (scripts/build-browser.ts): offline, no CDN.
const MERMAID_URL = new URL('./vendor/mermaid/mermaid.esm.min.mjs', import.meta.url).href;
let mermaid: Promise<Mermaid> | undefined;
function loadMermaid(): Promise<Mermaid> {
  mermaid ??= (import(/* @vite-ignore */ MERMAID_URL) as Promise<{ default: Mermaid }>).then((m) => {
    // strict: no HTML in labels, no click handlers, no scripts from the diagram text.
    // useMaxWidth off: the page's CSS sizes the SVG (fit to the column, or its own size).
    // Labels are one line each (no wrapping at Mermaid's 200 px): the overview keeps them short.
    m.default.initialize({
      startOnLoad: false,
      securityLevel: 'strict',
      theme: 'neutral',
      markdownAutoWrap: false,
      flowchart: { wrappingWidth: 600 },
      state: { useMaxWidth: false, nodeSpacing: 30, rankSpacing: 40, padding: 8 },
    });
    return m.default;
  });
  return mermaid;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const chartEl = $('chart');
const chart = new LiveChart({
  machine: clientConnectionMachine,
  render: async (id, source) => (await (await loadMermaid()).render(id, source)).svg,
  onRendered: (svg) => {
    chartEl.innerHTML = svg; // Mermaid's output with securityLevel strict (sanitized by Mermaid)
    // Mermaid also inlines the classDef's fill on the highlighted shapes (nested one level deeper
    // in a titled state); the page's `g.node.current` rule draws the same, and unlike the inline
    // copy it follows the class in restyle.
    chartEl.querySelectorAll('svg g.node.current [style*="fill"]').forEach((el) => el.removeAttribute('style'));
  },
  restyle: (paths) => {
    const svg = chartEl.querySelector('svg');
    if (!svg) return false;
    // Mermaid's node ids are `<svg id>-state-<mermaidId(path)>-<n>`.
    const nodes = paths.map((p) => {
      const re = new RegExp(`^${escapeRegExp(svg.id)}-state-${escapeRegExp(mermaidId(p))}-\\d+$`);
      return Array.from(svg.querySelectorAll('g.node')).find((g) => re.test(g.id));
    });
    if (nodes.some((n) => n === undefined)) return false;
    svg.querySelectorAll('g.node.left').forEach((g) => g.classList.remove('left'));
    svg.querySelectorAll('g.node.current').forEach((g) => {
      g.classList.remove('current');
      if (!nodes.includes(g)) g.classList.add('left'); // the fade of the state just left
    });
    for (const g of nodes) g?.classList.add('current');
    return true;
  },
  onShown: (paths, leaves) => {
    chartEl.dataset.active = paths.join(' ');
    chartEl.dataset.leaves = leaves.join(' ');
    $('chart-active').textContent = paths.join(', ');
    // The active leaves, named beside the chart: `heartbeat.waiting ∥ liveness.alive`.
    const inner = leaves.map((l) => l.split('.').slice(1).join('.')).filter((l) => l !== '');
    $('chart-leaves').textContent = inner.length > 0 ? inner.join(' ∥ ') : '';
    followCurrent();
  },
  onError: (err) => {
    chartEl.dataset.error = err instanceof Error ? err.message : String(err);
    log(`chart: ${chartEl.dataset.error}`);
  },
});
$('chart-notes').replaceChildren(
  ...chart.footnotes.map((note) => {
    const li = document.createElement('li');
    li.textContent = note;
    return li;
  }),
);
chart.show('idle');

/** The top-level states the actor passed through, newest last: the path of the last recoveries. */
const trail: string[] = [];
let trailSteps = 0;
function addToTrail(state: string): void {
  if (state === '' || trail.at(-1) === state) return;
  trail.push(state);
  trailSteps++;
  if (trail.length > 12) trail.splice(0, trail.length - 12);
  const el = $('chart-trail');
  el.textContent = trail.join(' → ');
  el.dataset.trail = trail.join(' ');
  el.dataset.steps = String(trailSteps);
}

/** At full size the chart is larger than the window: keep the current state in view. */
function followCurrent(): void {
  if (chartEl.dataset.zoom !== 'actual') return;
  const node = chartEl.querySelector('svg .current');
  if (!node || (chartEl.scrollWidth <= chartEl.clientWidth && chartEl.scrollHeight <= chartEl.clientHeight)) return;
  const box = chartEl.getBoundingClientRect();
  const at = node.getBoundingClientRect();
  chartEl.scrollTo({
    left: chartEl.scrollLeft + at.left - box.left - (box.width - at.width) / 2,
    top: chartEl.scrollTop + at.top - box.top - (box.height - at.height) / 2,
    behavior: 'smooth',
  });
}

$('chart-zoom').addEventListener('click', (ev) => {
  const isFit = chartEl.dataset.zoom !== 'actual';
  chartEl.dataset.zoom = isFit ? 'actual' : 'fit';
  $('live').dataset.zoom = chartEl.dataset.zoom;
  (ev.currentTarget as HTMLElement).textContent = isFit ? 'Fit' : 'Full size';
  followCurrent();
});

/** The connection actor's snapshots (XState inspection), for the chart; child actors are skipped. */
function onInspect(ev: InspectionEvent): void {
  if (ev.type !== '@xstate.snapshot' || ev.actorRef.sessionId !== ev.rootId) return;
  const value = (ev.snapshot as { value?: unknown }).value;
  chart.show(value);
  addToTrail(topLevelStates(value)[0] ?? '');
}

// Opt-in only (?inspect): the Stately inspector opens a window and needs the internet.
const inspector = opts.isInspecting ? createClientInspector({ browser: true }) : undefined;

// ---- the client ----

const attempts = attemptTransport(webSocketTransport(WebSocket as unknown as WebSocketConstructorLike));
const faults = faultTransport(attempts.transport);
const watch = new SeqWatch();
const transports = new TransportWatch();
const client = createClient<DemoState>({
  url: opts.wsUrl,
  channels: [...DEMO_CHANNELS],
  reducer,
  autoConnect: false,
  transport: faults.transport,
  // The fallback when WebSockets are blocked (§22); "Drop silently" applies to it too.
  httpTransport: faults.wrap(httpTransport(undefined, opts.http)),
  inspect: (ev: InspectionEvent) => {
    onInspect(ev);
    inspector?.inspect.next?.(ev);
  },
  ...opts.tuning,
});
(globalThis as { lifeline?: unknown }).lifeline = client; // for the console and tests
addEventListener('online', () => client.networkOnline()); // RC-3
$('inspect-note').hidden = !opts.isInspecting;

let lastSeqBeforeWelcome = 0n;
/** The fault in progress: its name and when its button was pressed (performance.now()). */
let pending: { name: string; at: number } | undefined;

function renderChannel(channel: string, version: bigint, state: DemoState): void {
  if (channel === COUNTER_CHANNEL) {
    $('counter-value').textContent = String((state as CounterState).value);
    $('counter-version').textContent = String(version);
  } else if (channel === TICKER_CHANNEL) {
    const t = state as TickerState;
    $('ticker').replaceChildren(
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

/** The transport badge beside the state, and the Connection panel's rows (issue 15). */
function renderTransport(): void {
  // The badge: the carrier of the last Welcome (the connection in use); while reconnecting, the
  // detail names the carrier of the next attempt too (client.transport, HT-20).
  const b = transportBadge(transports.state.current, client.state === 'connected', client.transport);
  const el = $('transport');
  el.textContent = b.text;
  el.dataset.transport = b.text;
  el.title = b.detail;
  $('transport-detail').textContent = b.detail;
  const sw = $('transport-switches');
  sw.textContent = transports.summary;
  sw.dataset.toHttp = String(transports.state.toHttp);
  sw.dataset.toWs = String(transports.state.toWs);
}

function renderNumbers(): void {
  const s = client.stats();
  watch.observe(client.lastSeq);
  $('seq').textContent = String(client.lastSeq);
  $('queue').textContent = `${s.queued} queued · ${s.inFlight} in flight`;
  $('queue').dataset.depth = String(s.queued + s.inFlight);
  const w = watch.state;
  $('gaps').textContent = String(w.gaps);
  $('gaps').dataset.gaps = String(w.gaps);
  $('welcomes').textContent = `${w.welcomes.new} new · ${w.welcomes.resumed} resumed · ${w.welcomes.snapshot} snapshot`;
  const sw = faults.swallowed;
  $('swallowed').textContent = faults.isDropping ? `dropping (${sw.sent} out, ${sw.received} in swallowed)` : sw.sent + sw.received > 0 ? `${sw.sent} out, ${sw.received} in swallowed so far` : 'none';
}

client.onEvent((e: ClientEvent<DemoState>) => {
  switch (e.type) {
    case 'state': {
      const el = $('state');
      el.textContent = e.state;
      el.dataset.state = e.state;
      log(`state ${e.previous} → ${e.state}${e.state === 'connected' ? ` over ${e.transport}` : ''}`);
      if (e.state !== 'connected') lastSeqBeforeWelcome = client.lastSeq;
      renderTransport();
      break;
    }
    case 'welcome': {
      watch.onWelcome(e.outcome, e.fromSeq, lastSeqBeforeWelcome);
      $('session').textContent = e.sessionId;
      const r = $('resume');
      r.textContent = `${e.outcome.toUpperCase()} (${e.reason}), from seq ${e.fromSeq}, ${e.replayed} replayed`;
      r.dataset.outcome = e.outcome;
      r.dataset.reason = e.reason;
      $('heartbeat').textContent = `${e.heartbeatIntervalMs} ms`;
      log(`welcome ${e.outcome} ${e.reason} from seq ${e.fromSeq}, replayed ${e.replayed}, over ${e.transport}`);
      const switched = transports.onWelcome(e.transport, e.outcome);
      if (switched !== undefined) log(switched);
      renderTransport();
      if (pending) {
        const ms = performance.now() - pending.at;
        const status = $('fault-status');
        status.textContent = `${pending.name}: recovered in ${(ms / 1000).toFixed(1)} s, ${e.outcome.toUpperCase()} (${e.reason}), ${e.replayed} replayed`;
        status.dataset.recovered = pending.name;
        status.dataset.ms = String(Math.round(ms));
        pending = undefined;
      }
      break;
    }
    case 'channel':
      renderChannel(e.channel, e.version, e.state);
      break;
    case 'rtt':
      $('rtt').textContent = `${e.smoothedRttMs.toFixed(1)} ms`;
      break;
    case 'drift':
      watch.onDrift(e.from, e.reason);
      log(`drift ${e.from} ${e.channel || '(session)'} ${e.reason}`);
      break;
    case 'drain':
      log(`drain notice: reconnect in ${e.reconnectAfterMs} ms (DR-6), deadline ${e.deadlineMs} ms`);
      break;
    case 'closed':
      logClose(e.code, e.reason, e.byClient);
      break;
    case 'refused':
      log(`refused: HTTP ${e.status}`);
      break;
    case 'error':
      log(`error ${e.error.message}`);
      break;
    case 'message':
      break;
  }
  renderNumbers();
});
setInterval(renderNumbers, 250); // the queue and swallowed counts move without client events

// ---- buttons ----

$('increment').addEventListener('click', () => {
  const status = $('send-status');
  status.textContent = 'sending…';
  client.send(incrementPayload(), { channel: COUNTER_CHANNEL }).then(
    () => (status.textContent = 'acknowledged'),
    (err: unknown) => (status.textContent = `failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  renderNumbers();
});

function startFault(name: string, note: string): void {
  pending = { name, at: performance.now() };
  const status = $('fault-status');
  status.textContent = `${name}: ${note}`;
  delete status.dataset.recovered;
  log(`fault: ${name}`);
}

/** POST a demo route (demo/demo-routes.ts); the header proves the page, not another site, asks. */
async function demoRoute(path: string): Promise<Record<string, unknown>> {
  const res = await fetch(path, { method: 'POST', headers: { 'x-lifeline-demo': '1' } });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${String(body.error ?? '')}`);
  return body;
}

function failFault(err: unknown): void {
  pending = undefined;
  $('fault-status').textContent = `failed: ${err instanceof Error ? err.message : String(err)}`;
}

$('fault-drop').addEventListener('click', () => {
  if (!faults.dropSilently()) return;
  startFault('drop', 'frames vanish both ways; waiting for the client to notice the silence (HB-4)…');
  renderNumbers();
});

$('fault-close').addEventListener('click', () => {
  const id = client.sessionId;
  if (!id) return;
  startFault('close', 'the server closes this socket with 1001 GOING_AWAY (CC-7)…');
  demoRoute(`/demo/close?session=${encodeURIComponent(id)}`).catch(failFault);
});

$('fault-drain').addEventListener('click', () => {
  const q = new URLSearchParams();
  for (const k of ['deadlineMs', 'spreadMs']) {
    const v = query.get(`drain${k[0]?.toUpperCase()}${k.slice(1)}`);
    if (v !== null) q.set(k, v);
  }
  startFault('drain', 'the server drains; the client waits for its slot, then reconnects (DR-6)…');
  demoRoute(`/demo/drain${q.toString() === '' ? '' : `?${q}`}`).then(
    (b) => log(`drain started: deadline ${String(b.deadlineMs)} ms, spread ${String(b.spreadMs)} ms`),
    failFault,
  );
});

client.connect();
void loadMermaid().catch((err: unknown) => log(`chart: cannot load Mermaid: ${err instanceof Error ? err.message : String(err)}`));
