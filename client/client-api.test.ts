/**
 * The application-facing API (issue 17.6): typed listeners, ready(), post(), send() without an
 * unhandled rejection, subscribe()/unsubscribe(). The wire behaviour underneath is create-client.test.ts's.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, test } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import { createClient, type ClientEvent, type ClientOptions } from './create-client.js';
import { ClientClosedError, ClientFailedError, InvalidMessageError, PayloadTooLargeError, QueueFullError, SubscribeError } from './errors.js';
import { advanceClock, env, fakeNetwork, flushMicrotasks, type WelcomeInit } from '../test/support/client.js';

function setup(o: Partial<ClientOptions> = {}) {
  const net = fakeNetwork();
  const clock = new SimulatedClock();
  const client = createClient({
    url: 'ws://127.0.0.1:1/lifeline',
    transport: net.transport,
    clock,
    random: () => 0.5,
    reconnectBaseMs: 100,
    reconnectCapMs: 1000,
    handshakeTimeoutMs: 500,
    ackDelayMs: 20,
    ...o,
  });
  const events: ClientEvent<Uint8Array>[] = [];
  client.onEvent((e) => events.push(e));
  const handshake = async (w: WelcomeInit = {}) => {
    await flushMicrotasks();
    net.last.open();
    net.last.welcome(w);
  };
  const advance = (ms: number) => advanceClock(clock, ms);
  return { net, clock, client, events, handshake, advance };
}

/** Settled or not, without waiting: 'pending' | 'resolved' | 'rejected'. */
async function stateOf(p: Promise<unknown>): Promise<string> {
  let s = 'pending';
  p.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await flushMicrotasks();
  return s;
}

describe('client API: listeners', () => {
  test('on(type) gets only its type, typed; the returned function stops it; onEvent gets everything in order', async () => {
    const t = setup({ autoConnect: false });
    const seen: string[] = [];
    const states: string[] = [];
    const offState = t.client.on('state', (e) => states.push(`${e.previous}>${e.state}`));
    t.client.on('welcome', (e) => seen.push(`welcome ${e.sessionId}`));
    t.client.on('message', (m) => seen.push(`message ${new TextDecoder().decode(m.payload)}`));
    t.client.on('message', () => {
      throw new Error('a listener that throws');
    });
    t.client.onEvent((e) => seen.push(`any ${e.type}`));
    t.client.connect();
    await t.handshake({ sessionId: 's1' });
    offState();
    t.net.last.deliver(env.message(1n, 'hi'));
    expect(states).toEqual(['idle>connecting', 'connecting>handshaking', 'handshaking>connected']);
    // Registration order across on() and onEvent(); the throwing listener disturbed nothing.
    expect(seen.filter((s) => !s.startsWith('any state'))).toEqual(['welcome s1', 'any welcome', 'message hi', 'any message']);
    expect(t.client.state).toBe('connected');
    t.client.close();
    expect(states).toHaveLength(3); // stopped before close
  });
});

describe('client API: ready() and connected', () => {
  test('HS-9 ready() waits for the Welcome, then resolves with its info; once connected it resolves at once', async () => {
    const t = setup();
    const p = t.client.ready();
    expect(t.client.connected).toBe(false);
    await flushMicrotasks();
    t.net.last.open();
    expect(await stateOf(p)).toBe('pending');
    t.net.last.welcome({ sessionId: 'abc' });
    expect(t.client.connected).toBe(true);
    await expect(p).resolves.toMatchObject({ sessionId: 'abc', outcome: 'new' });
    await expect(t.client.ready()).resolves.toMatchObject({ sessionId: 'abc' });
    t.client.close();
    expect(t.client.connected).toBe(false);
  });

  test('RC-4 ready() waits out a reconnect and resolves on the next Welcome', async () => {
    const t = setup();
    await t.handshake({ sessionId: 's1' });
    t.net.last.serverClose(codeOf('GOING_AWAY'));
    expect(t.client.state).toBe('reconnecting');
    const p = t.client.ready();
    t.advance(t.client.reconnectInfo.delayMs);
    await flushMicrotasks();
    t.net.last.open();
    expect(await stateOf(p)).toBe('pending');
    t.net.last.welcome({ sessionId: 's1', outcome: 2 /* RESUMED */ });
    await expect(p).resolves.toMatchObject({ sessionId: 's1', outcome: 'resumed' });
    t.client.close();
  });

  test('RC-6 ready() rejects with ClientFailedError when the client enters failed, and at once while failed', async () => {
    const t = setup();
    await flushMicrotasks();
    t.net.last.open();
    const p = t.client.ready();
    t.net.last.serverClose(codeOf('NORMAL'), 'bye');
    expect(t.client.state).toBe('failed');
    await expect(p).rejects.toBeInstanceOf(ClientFailedError);
    await expect(t.client.ready()).rejects.toBeInstanceOf(ClientFailedError);
    t.client.close();
  });

  test('RC-9 ready() rejects with ClientClosedError on close(), and at once after it', async () => {
    const t = setup();
    const p = t.client.ready();
    t.client.close();
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    await expect(t.client.ready()).rejects.toBeInstanceOf(ClientClosedError);
  });
});

describe('client API: send() and post()', () => {
  // Vitest also fails a run on an unhandled rejection; this listener makes the check explicit.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  test('RC-9 BP-13 a send() nobody catches never becomes an unhandled rejection; an awaiting caller still sees it', async () => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    const t = setup({ queueLimitMessages: 1 });
    await t.handshake();
    void t.client.send('ignored, closed before its ack');
    void t.client.send('ignored, queue full'); // rejected at once (BP-13)
    const awaited = t.client.send('awaited');
    t.client.close(); // RC-9: every unacked send rejects
    await expect(awaited).rejects.toBeInstanceOf(QueueFullError);
    void t.client.send('after close');
    // Node reports unhandled rejections after the microtask queue drains: give it a macrotask turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  test('SEQ-5 post() is fire and forget: acked like send(), failures come as sendFailed events with the message id', async () => {
    const t = setup({ queueLimitMessages: 2, maxPayloadBytes: 1024 });
    await t.handshake({ maxPayloadBytes: 64 });
    const id1 = t.client.post('one', { channel: 'c' });
    const id2 = t.client.post('two', { messageId: 'mine' });
    expect(id2).toBe('mine');
    expect(t.net.last.of('message').map((m) => [m.messageId, m.channel])).toEqual([
      [id1, 'c'],
      ['mine', ''],
    ]);
    const id3 = t.client.post('three'); // BP-13: two unacked already
    const id4 = t.client.post('x'.repeat(100)); // too big as well: the queue limit is checked first
    t.net.last.deliver(env.ack(2n));
    const id5 = t.client.post('y'.repeat(100)); // WIRE-4: larger than the server's 64 B
    const id6 = t.client.post('z', { messageId: 'm'.repeat(200) }); // WIRE-5: message id over 128 B
    const failed = t.events.filter((e) => e.type === 'sendFailed');
    expect(failed.map((e) => [e.messageId, e.error.constructor])).toEqual([
      [id3, QueueFullError],
      [id4, QueueFullError],
      [id5, PayloadTooLargeError],
      [id6, InvalidMessageError],
    ]);
    const id7 = t.client.post('unacked');
    t.client.close();
    const id8 = t.client.post('after close');
    expect(t.events.filter((e) => e.type === 'sendFailed').slice(4).map((e) => [e.messageId, e.error.kind])).toEqual([
      [id7, 'closed'],
      [id8, 'closed'],
    ]);
  });
});

describe('client API: subscribe() and unsubscribe()', () => {
  test('RS-9 channels given at creation are confirmed by the Welcome; subscribe() of one resolves with it', async () => {
    const t = setup({ channels: ['a'] });
    const p = t.client.subscribe('a');
    await flushMicrotasks();
    t.net.last.open();
    expect(t.net.last.hello?.channels).toEqual(['a']);
    expect(await stateOf(p)).toBe('pending');
    t.net.last.welcome();
    await expect(p).resolves.toBeUndefined();
    await expect(t.client.subscribe(['a'])).resolves.toBeUndefined(); // already in effect
    expect(t.net.last.of('subscribe')).toEqual([]);
    t.client.close();
  });

  test('RS-9 a subscribe() while the handshake runs goes out right after the Welcome, not lost with the Hello', async () => {
    const t = setup({ channels: ['a'] });
    await flushMicrotasks();
    t.net.last.open(); // Hello sent with ['a']
    const p = t.client.subscribe(['a', 'b']);
    t.client.unsubscribe('a');
    await expect(p).rejects.toMatchObject({ name: 'SubscribeError', kind: 'cancelled', channels: ['a'] });
    expect(t.net.last.sent).toHaveLength(1); // HS-8: nothing but Hello before the Welcome
    t.net.last.welcome();
    expect(t.net.last.of('unsubscribe').map((u) => u.channels)).toEqual([['a']]);
    expect(t.net.last.of('subscribe').map((s) => s.channels)).toEqual([['b']]);
    expect(t.client.channels).toEqual(['b']);
    t.client.close();
  });

  test('RS-9 a subscribe() while reconnecting is carried by the next Hello and confirmed by its Welcome', async () => {
    const t = setup({ channels: ['a'] });
    await t.handshake({ sessionId: 's1' });
    t.net.last.serverClose(codeOf('GOING_AWAY'));
    const p = t.client.subscribe('b');
    t.advance(t.client.reconnectInfo.delayMs);
    await flushMicrotasks();
    t.net.last.open();
    expect(t.net.last.hello?.channels).toEqual(['a', 'b']);
    expect(await stateOf(p)).toBe('pending');
    t.net.last.welcome({ sessionId: 's1', outcome: 2 });
    await expect(p).resolves.toBeUndefined();
    t.client.close();
  });

  test('CH-2 unsubscribe() sends Unsubscribe and forgets the channel state; a pending subscribe() of it rejects', async () => {
    const t = setup({ channels: ['a'] });
    await t.handshake();
    t.net.last.deliver(env.snapshot(1n, 'a', 1n, 'state'));
    expect(t.client.channel('a')?.version).toBe(1n);
    t.client.unsubscribe(['a', 'never-subscribed']);
    expect(t.net.last.of('unsubscribe').map((u) => u.channels)).toEqual([['a']]);
    expect(t.client.channel('a')).toBeUndefined();
    expect(t.client.channels).toEqual([]);
    t.client.close();
  });

  test('RC-6 RC-9 a pending subscribe() rejects when the client fails or closes; one after close() rejects at once', async () => {
    const t = setup();
    await flushMicrotasks();
    t.net.last.open();
    const p1 = t.client.subscribe('a');
    t.net.last.serverClose(codeOf('NORMAL'));
    await expect(p1).rejects.toBeInstanceOf(ClientFailedError);
    await expect(t.client.subscribe('b')).rejects.toBeInstanceOf(ClientFailedError);
    t.client.reconnect();
    await flushMicrotasks();
    t.net.last.open();
    const p2 = t.client.subscribe('c');
    t.client.close();
    await expect(p2).rejects.toBeInstanceOf(ClientClosedError);
    await expect(t.client.subscribe('d')).rejects.toBeInstanceOf(ClientClosedError);
  });

  test('CH-4 with a server that confirms, subscribe() resolves on its Subscribed, matched in order; a channel left out is refused', async () => {
    const t = setup({ channels: ['a'] });
    await flushMicrotasks();
    t.net.last.open();
    expect(t.net.last.hello?.capabilities).toContain('subscribed'); // WIRE-10: announced
    t.net.last.welcome({ capabilities: ['subscribed'] });
    const p1 = t.client.subscribe(['x', 'y']);
    const p2 = t.client.subscribe('z');
    const p3 = t.client.subscribe(['x', 'z']); // nothing new to send: waits for the two answers
    expect(t.net.last.of('subscribe').map((m) => m.channels)).toEqual([['x', 'y'], ['z']]);
    expect(await stateOf(p1)).toBe('pending');
    t.net.last.deliver(env.subscribed(['x'])); // answers the first Subscribe: y refused
    await expect(p1).rejects.toBeInstanceOf(SubscribeError);
    await expect(p1).rejects.toMatchObject({ kind: 'refused', channels: ['y'] });
    expect(t.client.channels).toEqual(['a', 'x', 'z']);
    expect(await stateOf(p2)).toBe('pending');
    expect(await stateOf(p3)).toBe('pending');
    t.net.last.deliver(env.subscribed(['z']));
    await expect(p2).resolves.toBeUndefined();
    await expect(p3).resolves.toBeUndefined();
    t.net.last.deliver(env.subscribed(['q'])); // answers nothing: ignored, the connection stays
    expect(t.client.state).toBe('connected');
    t.client.close();
  });

  test('CH-4 an answer lost with its socket: the next Hello restates the channel and its Welcome confirms it', async () => {
    const t = setup();
    await t.handshake({ sessionId: 's1', capabilities: ['subscribed'] });
    const p = t.client.subscribe('b');
    t.net.last.serverClose(codeOf('GOING_AWAY'));
    t.advance(t.client.reconnectInfo.delayMs);
    await flushMicrotasks();
    t.net.last.open();
    expect(t.net.last.hello?.channels).toEqual(['b']);
    expect(await stateOf(p)).toBe('pending');
    t.net.last.welcome({ sessionId: 's1', outcome: 2, capabilities: ['subscribed'] });
    await expect(p).resolves.toBeUndefined();
    t.client.close();
  });

  test('CH-4 WIRE-10 with a server that does not confirm (no subscribed in Welcome), subscribe() resolves once the Subscribe is written', async () => {
    const t = setup();
    await t.handshake();
    const p = t.client.subscribe('b');
    expect(t.net.last.of('subscribe').map((m) => m.channels)).toEqual([['b']]);
    await expect(p).resolves.toBeUndefined();
    t.client.close();
  });
});
