/**
 * The demo application behind `npm start` (Node side): it owns the state of
 * demo.counter and demo.ticker, answers the server's snapshot hook, turns
 * `{"op":"increment"}` messages into counter patches and publishes a ticker
 * patch every ~500 ms. The formats live in demo/demo-state.ts, shared with the page.
 */
import type { LifelineServerOptions } from '../server/options.js';
import type { ChannelState, ClientMessage } from '../server/types.js';
import type { LifelineServer } from '../server/server.js';
import { stateDigest } from '../spec/protocol/digest.js';
import {
  COUNTER_CHANNEL,
  INITIAL_COUNTER,
  TICKER_CHANNEL,
  encodeCounter,
  encodeTicker,
  encodeTickerDelta,
  incrementCounter,
  initialTicker,
  isIncrement,
  nextTick,
  type CounterState,
  type TickerState,
} from './demo-state.js';
import { mountDemoRoutes, type DemoRoutes } from './demo-routes.js';

export interface DemoAppOptions {
  /** Ticker period in ms. */
  readonly tickMs?: number;
  /** Uniform in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

export interface DemoApp {
  /** The server hooks: pass them to createServer. */
  readonly hooks: Pick<LifelineServerOptions, 'snapshot' | 'onMessage'>;
  /** Start publishing ticker patches to this server. */
  start(server: LifelineServer): void;
  stop(): void;
  readonly counter: CounterState;
  readonly ticker: TickerState;
  readonly versions: Readonly<Record<string, bigint>>;
}

interface Channel<S> {
  state: S;
  version: bigint;
  bytes: Uint8Array;
}

export function createDemoApp(opts: DemoAppOptions = {}): DemoApp {
  const random = opts.random ?? Math.random;
  const tickMs = opts.tickMs ?? 500;
  const counter: Channel<CounterState> = { state: INITIAL_COUNTER, version: 1n, bytes: encodeCounter(INITIAL_COUNTER) };
  const ticker: Channel<TickerState> = { state: initialTicker(), version: 1n, bytes: new Uint8Array() };
  ticker.bytes = encodeTicker(ticker.state);
  let server: LifelineServer | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let routes: DemoRoutes | undefined;

  // publishPatch rejects when it cannot publish; say so rather than lose the update silently.
  const onPublishFailed = (err: unknown): void => server?.log.error({ err }, 'demo publish failed');

  const snapshot = (channel: string): ChannelState | undefined => {
    const ch = channel === COUNTER_CHANNEL ? counter : channel === TICKER_CHANNEL ? ticker : undefined;
    return ch ? { version: ch.version, state: ch.bytes, digest: stateDigest(ch.bytes) } : undefined;
  };

  const onMessage = (m: ClientMessage): void => {
    if (m.channel !== COUNTER_CHANNEL || !isIncrement(m.payload)) return;
    const base = counter.version;
    counter.state = incrementCounter(counter.state);
    counter.version = base + 1n;
    counter.bytes = encodeCounter(counter.state);
    // The counter's delta is its whole new state (canonical JSON).
    server?.publishPatch(COUNTER_CHANNEL, { baseVersion: base, version: counter.version, delta: counter.bytes, digest: stateDigest(counter.bytes) }).catch(onPublishFailed);
  };

  const tick = () => {
    const d = nextTick(ticker.state, random);
    const base = ticker.version;
    ticker.state = { ...ticker.state, [d.symbol]: d.price };
    ticker.version = base + 1n;
    ticker.bytes = encodeTicker(ticker.state);
    server?.publishPatch(TICKER_CHANNEL, { baseVersion: base, version: ticker.version, delta: encodeTickerDelta(d), digest: stateDigest(ticker.bytes) }).catch(onPublishFailed);
  };

  return {
    hooks: { snapshot, onMessage },
    start(s) {
      server = s;
      routes ??= mountDemoRoutes(s); // the page's fault buttons (/demo/close, /demo/drain)
      if (!timer) {
        timer = setInterval(tick, tickMs);
        timer.unref();
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      server = undefined;
      routes?.unmount();
      routes = undefined;
    },
    get counter() {
      return counter.state;
    },
    get ticker() {
      return ticker.state;
    },
    get versions() {
      return { [COUNTER_CHANNEL]: counter.version, [TICKER_CHANNEL]: ticker.version };
    },
  };
}
