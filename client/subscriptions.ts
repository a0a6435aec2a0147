/**
 * The client's channel subscriptions: what every Hello restates (RS-9), and which `subscribe()`
 * promises wait for a confirmation (CH-4). Browser-safe.
 *
 * A channel is confirmed by the Welcome that answers a Hello listing it, or by the `Subscribed` that
 * answers the `Subscribe` adding it. The server answers Subscribes in order, one `Subscribed` each, so
 * the client matches them first in, first out; a channel missing from its answer was refused. A server
 * that does not announce `subscribed` in its Welcome never confirms: there a channel counts as
 * confirmed once its Subscribe is written, which is the most the client can know (CH-4).
 */
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, SubscribeSchema, UnsubscribeSchema, type Envelope } from '../gen/lifeline/v1/envelope_pb.js';
import { SubscribeError } from './errors.js';
import { handled } from './handled.js';

/** No channels (shared). */
const NONE: readonly string[] = Object.freeze([]);

/**
 * The empty set every client without channels shares until its first subscribe() (issue 16: two
 * Sets per idle client). Reads and deletes are those of an empty set; an add would change every
 * client's channels, so it throws: subscribe() replaces it with a set of the client's own first.
 */
class SharedEmptySet extends Set<string> {
  override add(): this {
    throw new Error('lifeline client: the shared empty channel set is read-only');
  }
}
const NO_CHANNELS: Set<string> = new SharedEmptySet();

interface Waiter {
  /** Channels of the call not yet confirmed. */
  readonly remaining: Set<string>;
  resolve(): void;
  reject(err: Error): void;
}

export class ClientSubscriptions {
  /** Every channel the application wants: Hello.channels of each connection (RS-9). */
  private wanted: Set<string>;
  /** Wanted, not yet confirmed on this session. */
  private unconfirmed: Set<string>;
  private waiters: Waiter[] = [];
  /** The channels of this connection's Hello: its Welcome confirms them. */
  private helloChannels: readonly string[] = NONE;
  /** Subscribes written on this connection and not yet answered, oldest first (CH-4). */
  private outstanding: (readonly string[])[] = [];
  /** The server of this connection confirms with Subscribed (Welcome.capabilities). */
  private doesServerConfirm = false;

  /**
   * @param sendControl writes a control body on the current connection; false when there is none
   *   that may carry it yet (no socket, or no Welcome).
   */
  constructor(initial: readonly string[], private readonly sendControl: (env: Envelope) => boolean) {
    this.wanted = initial.length === 0 ? NO_CHANNELS : new Set(initial);
    this.unconfirmed = initial.length === 0 ? NO_CHANNELS : new Set(initial);
  }

  get channels(): readonly string[] {
    return [...this.wanted];
  }

  /** Hello.channels for a new connection (RS-9); its Welcome will confirm them. */
  forHello(): string[] {
    const list = [...this.wanted];
    this.helloChannels = list;
    if (this.outstanding.length > 0) this.outstanding = [];
    return list;
  }

  /**
   * The Welcome arrived: the Hello's channels are subscribed (CH-4). Channels added while the
   * handshake ran (after the Hello was written, before the Welcome) are subscribed now.
   */
  onWelcome(doesServerConfirm: boolean): void {
    this.doesServerConfirm = doesServerConfirm;
    // No channel in the Hello and none wanted since: nothing to confirm or restate (most connects,
    // with no Set and arrays built for them: issue 16).
    if (this.helloChannels.length === 0 && this.wanted.size === 0) return;
    this.confirm(this.helloChannels);
    const hello = new Set(this.helloChannels);
    // Removed while the handshake ran: the Unsubscribe could not be written before the Welcome (HS-8).
    const dropped = this.helloChannels.filter((c) => !this.wanted.has(c));
    if (dropped.length > 0) this.writeUnsubscribe(dropped);
    const late = [...this.unconfirmed].filter((c) => !hello.has(c));
    if (late.length > 0) this.writeSubscribe(late);
  }

  /** The connection ended: unanswered Subscribes are restated by the next Hello (RS-9). */
  onDisconnect(): void {
    if (this.outstanding.length > 0) this.outstanding = [];
    this.helloChannels = NONE;
  }

  /** Add channels; the promise resolves when every one of them is confirmed (CH-4). */
  subscribe(channels: readonly string[]): Promise<void> {
    const added = channels.filter((c) => !this.wanted.has(c));
    if (added.length > 0 && this.wanted === NO_CHANNELS) this.wanted = new Set();
    if (added.length > 0 && this.unconfirmed === NO_CHANNELS) this.unconfirmed = new Set();
    for (const c of added) {
      this.wanted.add(c);
      this.unconfirmed.add(c);
    }
    if (added.length > 0) this.writeSubscribe(added);
    const remaining = new Set(channels.filter((c) => this.unconfirmed.has(c)));
    if (remaining.size === 0) return Promise.resolve();
    return handled(
      new Promise<void>((resolve, reject) => {
        this.waiters.push({ remaining, resolve, reject });
      }),
    );
  }

  /** Remove channels (CH-2); returns those that were wanted. A pending `subscribe()` of one rejects. */
  unsubscribe(channels: readonly string[]): string[] {
    const removed = channels.filter((c) => this.wanted.has(c));
    if (removed.length === 0) return removed;
    for (const c of removed) {
      this.wanted.delete(c);
      this.unconfirmed.delete(c);
    }
    this.rejectWaiting(removed, (chs) => new SubscribeError('cancelled', chs));
    this.writeUnsubscribe(removed);
    return removed;
  }

  /**
   * A Subscribed (CH-4): it answers the oldest unanswered Subscribe. Its channels are in effect; a
   * channel of that Subscribe it leaves out was refused. One nothing asked for changes nothing.
   */
  onSubscribed(channels: readonly string[]): void {
    const asked = this.outstanding.shift();
    if (asked === undefined) return;
    const granted = new Set(channels);
    this.confirm(asked.filter((c) => granted.has(c)));
    const later = new Set(this.outstanding.flat());
    // A channel asked for again in a later Subscribe waits for that answer instead.
    const refused = asked.filter((c) => !granted.has(c) && this.unconfirmed.has(c) && !later.has(c));
    if (refused.length === 0) return;
    for (const c of refused) {
      this.wanted.delete(c);
      this.unconfirmed.delete(c);
    }
    this.rejectWaiting(refused, (chs) => new SubscribeError('refused', chs));
  }

  /** Some `subscribe()` waits for its confirmation. */
  get hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** Reject every pending `subscribe()` (close(), `failed`); the channels stay wanted. */
  failAll(err: Error): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(err);
  }

  private writeSubscribe(channels: readonly string[]): void {
    const env = create(EnvelopeSchema, { body: { case: 'subscribe', value: create(SubscribeSchema, { channels: [...channels] }) } });
    if (!this.sendControl(env)) return; // the next Hello (or Welcome, onWelcome) carries them
    if (this.doesServerConfirm) this.outstanding.push(channels);
    else this.confirm(channels); // provisional: written is all a client can know here (CH-4)
  }

  private writeUnsubscribe(channels: readonly string[]): void {
    // Not written without a Welcome: the next Hello leaves the channels out (RS-9), or onWelcome sends it.
    this.sendControl(create(EnvelopeSchema, { body: { case: 'unsubscribe', value: create(UnsubscribeSchema, { channels: [...channels] }) } }));
  }

  private confirm(channels: readonly string[]): void {
    let isAny = false;
    for (const c of channels) if (this.unconfirmed.delete(c)) isAny = true;
    if (!isAny) return;
    const done: Waiter[] = [];
    this.waiters = this.waiters.filter((w) => {
      for (const c of w.remaining) if (!this.unconfirmed.has(c)) w.remaining.delete(c);
      if (w.remaining.size > 0) return true;
      done.push(w);
      return false;
    });
    for (const w of done) w.resolve();
  }

  private rejectWaiting(channels: readonly string[], error: (channels: readonly string[]) => Error): void {
    const gone = new Set(channels);
    this.waiters = this.waiters.filter((w) => {
      const hit = [...w.remaining].filter((c) => gone.has(c));
      if (hit.length === 0) return true;
      w.reject(error(hit));
      return false;
    });
  }
}
