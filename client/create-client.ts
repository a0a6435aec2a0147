/**
 * The reference client's public API: LifelineClient and createClient(). Browser-safe: no Node API
 * here (client/node.ts adds the `ws` transport, client/browser.ts the page's `online` event).
 */
import type { ClientStateName, TransportKind } from '../spec/machines/client-connection.machine.js';
import { ClientClosedError } from './errors.js';
import type { ClientEvent, ClientEventOf, ClientEventType, WelcomeInfo } from './events.js';
import { ClientConnection } from './connection.js';
import { handled } from './handled.js';
import type { ChannelView } from './inbound.js';
import type { ClientOptions } from './options.js';
import type { SendOptions, SendSettled } from './outbound.js';

export type { ClientEvent, ClientEventOf, ClientEventType, InboundMessage, ResumeOutcomeName, WelcomeInfo } from './events.js';
export type { ClientOptions, MaybePromise, TokenContext } from './options.js';

/** Counters of the client's two directions, for UIs and tests. */
export interface ClientStats {
  readonly queued: number;
  readonly inFlight: number;
  readonly lastSentSeq: bigint;
  readonly ackedSeq: bigint;
  readonly lastReceivedSeq: bigint;
  readonly duplicatesDropped: number;
}

/**
 * A Lifeline client: one session that outlives its sockets (§9, §15). Create it with
 * `createClient()` (or `createNodeClient()`, `createBrowserClient()`); by default it connects at once.
 *
 * ```ts
 * const client = createNodeClient({ url: 'ws://localhost:8080/lifeline', channels: ['news'] });
 * client.on('message', (m) => console.log(m.channel, new TextDecoder().decode(m.payload)));
 * await client.ready();
 * client.post('hello');
 * ```
 */
export class LifelineClient<S = Uint8Array> {
  private readonly core: ClientConnection<S>;
  /** How every post() ends: one function per client, not a closure per message (issue 16). */
  private readonly postSettled: SendSettled = (error, messageId) => {
    if (error) this.core.emit({ type: 'sendFailed', messageId, error });
  };

  constructor(options: ClientOptions<S>) {
    this.core = new ClientConnection<S>(options);
    if (options.autoConnect ?? true) this.connect();
  }

  // ---- public API ----

  /** The RC-1 state: idle, connecting, handshaking, connected, reconnecting, suspended, failed, closed. */
  get state(): ClientStateName {
    return this.core.state;
  }
  /**
   * The carrier of the current (or next) connection (HT-20): `ws`, or `http` after a fallback from
   * blocked WebSockets (§22.7). Shown with the state, so a user sees "connected over HTTP".
   */
  get transport(): TransportKind {
    return this.core.transportKind;
  }
  /** True while a Welcome's connection is in service (state `connected`). */
  get connected(): boolean {
    return this.core.state === 'connected';
  }
  /** Session id of the last Welcome, kept while it may be resumed (RC-10). */
  get sessionId(): string | undefined {
    return this.core.actor.getSnapshot().context.sessionId || undefined;
  }
  /** Smoothed RTT in ms (HB-9), once a HeartbeatAck arrived. */
  get rttMs(): number | undefined {
    return this.core.smoothedRtt;
  }
  /** Highest server seq processed contiguously. */
  get lastSeq(): bigint {
    return this.core.inbound.lastSeq;
  }
  /** What the last Welcome said, if one arrived. */
  get lastWelcome(): WelcomeInfo | undefined {
    return this.core.lastWelcomeInfo;
  }
  /** The channels subscribed or being subscribed: the next Hello's channels (RS-9). */
  get channels(): readonly string[] {
    return this.core.subs.channels;
  }
  /** The current reconnect wait and the consecutive failed attempts (for UIs and tests). */
  get reconnectInfo(): { delayMs: number; failures: number } {
    const c = this.core.actor.getSnapshot().context;
    return { delayMs: c.reconnectDelayMs, failures: c.failures };
  }

  /** A state channel's version and state, once its Snapshot arrived (§10). */
  channel(name: string): ChannelView<S> | undefined {
    return this.core.inbound.channel(name);
  }

  /** Counters of both directions. */
  stats(): ClientStats {
    return {
      queued: this.core.outbound.queuedCount,
      inFlight: this.core.outbound.inFlightCount,
      lastSentSeq: this.core.outbound.lastSentSeq,
      ackedSeq: this.core.outbound.ackedSeq,
      lastReceivedSeq: this.core.inbound.lastSeq,
      duplicatesDropped: this.core.duplicates,
    };
  }

  /** Start connecting (only needed with `autoConnect: false`). */
  connect(): void {
    this.core.actor.send({ type: 'app.connect' });
  }

  /**
   * Wait until the client is connected. Resolves at once with the last Welcome's info when
   * `connected`, else on the next Welcome. Rejects with ClientFailedError when the client enters
   * `failed` (RC-6; at once if it is there), with ClientClosedError on close() (RC-9). Reconnects in
   * between (`reconnecting`, `suspended`) are waited out. The promise is marked handled: ignoring it
   * never stops Node with an unhandled rejection.
   */
  ready(): Promise<WelcomeInfo> {
    return this.core.ready();
  }

  /**
   * Send one application message and wait for the server to take it. Resolves when the server's
   * cumulative Ack covers it (SEQ-5, SEQ-10); rejects with a SendError: QueueFullError (BP-13),
   * PayloadTooLargeError (WIRE-4), InvalidMessageError (WIRE-5), ClientClosedError (RC-9) or
   * ClientFailedError (RC-6). Sent while not connected, it waits for the next Welcome (SEQ-9).
   *
   * The promise is marked handled: a caller who ignores it never gets an unhandled rejection (a
   * caller who awaits it still sees the rejection). Use `post()` when nothing waits for the ack.
   */
  send(payload: Uint8Array | string, opts?: SendOptions): Promise<void> {
    const w = new SendWaiter();
    this.core.enqueue(payload, opts, w.settled);
    return w.promise;
  }

  /**
   * Fire and forget: send one application message without a promise. Delivery is as for `send()`;
   * a failure (the same SendErrors) is reported as a `sendFailed` event with the message id, never
   * thrown. A refusal at once (queue full, too big) is emitted before post() returns. Returns the
   * message id (SEQ-8): `opts.messageId`, or the one generated.
   */
  post(payload: Uint8Array | string, opts?: SendOptions): string {
    return this.core.enqueue(payload, opts, this.postSettled);
  }

  /** End for good: close NORMAL (RC-9); unacknowledged sends reject with ClientClosedError. */
  close(): void {
    if (this.core.state === 'closed') return;
    this.core.actor.send({ type: 'app.close' });
    this.core.shutdown();
  }

  /** Leave `suspended` or `failed` and try again now (RC-3). */
  reconnect(): void {
    this.core.actor.send({ type: 'app.reconnect' });
  }

  /** The platform says the network is back (RC-3), e.g. the browser's `online` event. */
  networkOnline(): void {
    this.core.actor.send({ type: 'network.online' });
  }

  /**
   * Subscribe to channels (Subscribe, CH-1); they stay subscribed across reconnects (RS-9, CH-3).
   * Resolves when the server confirms every one of them (its `Subscribed`, or the Welcome for a
   * channel sent in Hello, CH-4): from then on, whatever is published to them reaches this client.
   * Channels already subscribed resolve at once. While disconnected the subscription waits for the
   * next Welcome. Rejects with SubscribeError (the server refused a channel, or `unsubscribe()` came
   * first), ClientFailedError (`failed`, RC-6) or ClientClosedError (close()). Marked handled, like
   * `send()`'s promise.
   */
  subscribe(channels: string | readonly string[]): Promise<void> {
    if (this.core.state === 'closed') return handled(Promise.reject(new ClientClosedError('the subscription was confirmed')));
    if (this.core.state === 'failed') return handled(Promise.reject(this.core.failedError('subscription unconfirmed')));
    return this.core.subs.subscribe(typeof channels === 'string' ? [channels] : channels);
  }

  /**
   * Unsubscribe from channels (Unsubscribe, CH-2) and forget their local state. Not confirmed by the
   * server: bodies of the channels already on their way may still arrive (§12.3).
   */
  unsubscribe(channels: string | readonly string[]): void {
    for (const c of this.core.subs.unsubscribe(typeof channels === 'string' ? [channels] : channels)) this.core.inbound.forget(c);
  }

  /**
   * Listen to one event type, typed by it: `client.on('message', (m) => m.payload)`. Returns the
   * function that stops listening. A listener that throws does not disturb the client.
   */
  on<K extends ClientEventType>(type: K, fn: (e: ClientEventOf<S, K>) => void): () => void {
    return this.core.events.on(type, fn);
  }

  /** Listen to every event (switch on `e.type`). Returns the function that stops listening. */
  onEvent(fn: (e: ClientEvent<S>) => void): () => void {
    return this.core.events.onEvent(fn);
  }
}

function ignore(): void {}

/**
 * One send()'s promise and the callback that settles it (issue 16: per send, one promise and one
 * closure; it was a promise, the executor, the callback, and the derived promise and handler of
 * handled()). Marked handled as it is rejected, before anyone could observe it unhandled: the same
 * guarantee as handled() at creation, without a second promise for every send that succeeds.
 */
class SendWaiter {
  readonly promise: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  readonly settled: SendSettled = (err) => {
    if (err === undefined) {
      this.resolve();
      return;
    }
    this.promise.catch(ignore);
    this.reject(err);
  };

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** Create (and by default connect) a Lifeline client. */
export function createClient<S = Uint8Array>(options: ClientOptions<S>): LifelineClient<S> {
  return new LifelineClient<S>(options);
}
