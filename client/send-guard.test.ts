/**
 * An ack timer of a previous socket must neither throw on the next socket while it is still
 * connecting (a browser's send() throws then) nor put an Ack ahead of the Hello (HS-8); the owed
 * ack goes out after the next Welcome. Found by the demo page's e2e test after a drain.
 */
import { describe, expect, test } from 'vitest';
import { SimulatedClock } from 'xstate';
import { codeOf } from '../spec/protocol/close-codes.js';
import { createClient } from './create-client.js';
import { advanceClock, env, fakeNetwork, flushMicrotasks } from '../test/support/client.js';
import type { Transport } from './transport.js';

describe('client: frames wait for an open, welcomed socket', () => {
  test('HS-8 SEQ-5 an ack owed by the previous socket waits for the next Welcome', async () => {
    const net = fakeNetwork();
    const opened = new Set<unknown>();
    // Like a browser WebSocket: send() before open throws.
    const transport: Transport = (url, handlers, opts) => {
      const s = net.transport(url, { ...handlers, onOpen: () => { opened.add(s); handlers.onOpen(); } }, opts);
      return {
        send: (b) => {
          if (!opened.has(s)) throw new Error("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.");
          s.send(b);
        },
        close: (c, r) => s.close(c, r),
        get bufferedAmount() {
          return s.bufferedAmount;
        },
      };
    };
    const clock = new SimulatedClock();
    const errors: Error[] = [];
    const client = createClient({ url: 'ws://127.0.0.1:1/lifeline', transport, clock, random: () => 0.5, reconnectBaseMs: 10, reconnectCapMs: 10, ackDelayMs: 50 });
    client.onEvent((e) => e.type === 'error' && errors.push(e.error));
    await flushMicrotasks();
    net.last.open();
    net.last.welcome({ sessionId: 'S' });
    net.last.deliver(env.message(1n, 'a')); // an ack is now owed within ackDelayMs
    net.last.serverClose(codeOf('GOING_AWAY'));
    advanceClock(clock, 20); // the reconnect delay passes: a new socket, still connecting …
    await flushMicrotasks();
    expect(net.sockets).toHaveLength(2);
    expect(() => advanceClock(clock, 100)).not.toThrow(); // … when the ack timer fires
    const next = net.last;
    next.open();
    expect(next.sent.map((e) => e.body.case)).toEqual(['hello']); // HS-8: nothing ahead of or beside the Hello
    next.welcome({ sessionId: 'S', fromSeq: 2n });
    next.deliver(env.message(2n, 'b'));
    advanceClock(clock, 100);
    expect(next.of('ack').map((a) => a.seq)).toEqual([2n]);
    expect(errors).toEqual([]);
    client.close();
  });
});
