/**
 * HT-28 (issue 15): over the HTTP carrier every send is a request, so an Ack that waits for its delay
 * (SEQ-5) rides in the next send that goes anyway instead of a request of its own. The transport
 * asks the client through `onSendBatch` just before it makes a body; the client then sends the Ack
 * it owes, unless the server stated the delay (SEQ-12: no sooner).
 */
import { describe, expect, test, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import { Header, RecordDecoder, RecordKind } from '../../spec/protocol/http-carrier.js';
import { advanceClock, env, fakeNetwork, flushMicrotasks, welcomeEnvelope, type FakeSocket } from '../../test/support/client.js';
import { createClient } from '../create-client.js';
import type { Transport, TransportHandlers } from '../transport.js';
import { httpTransport, type FetchInit, type FetchLike, type FetchResponse } from './http.js';

/** The fake network, with each socket's handlers kept so the test can play the HTTP transport's onSendBatch. */
function network() {
  const net = fakeNetwork();
  const handlers: TransportHandlers[] = [];
  const transport: Transport = (url, h, opts) => {
    handlers.push(h);
    return net.transport(url, h, opts);
  };
  return { net, transport, get batch(): () => void {
    const h = handlers.at(-1);
    return () => h?.onSendBatch?.();
  } };
}

async function connected(clientAckDelayMs: number) {
  const n = network();
  const clock = new SimulatedClock();
  const client = createClient({ url: 'ws://h/lifeline', transport: n.transport, clock, random: () => 0.5, ackDelayMs: 50 });
  await flushMicrotasks();
  const s: FakeSocket = n.net.last;
  s.open();
  const w = welcomeEnvelope({ sessionId: 'S' });
  if (w.body.case === 'welcome') w.body.value.clientAckDelayMs = clientAckDelayMs;
  s.deliver(w);
  return { client, clock, s, batch: n.batch };
}

describe('HT-28 SEQ-5 an owed Ack rides with a send', () => {
  test('a send about to go takes the Ack at once; its timer is cancelled (one Ack, not two)', async () => {
    const { client, clock, s, batch } = await connected(0);
    s.deliver(env.message(1n, 'a'));
    s.deliver(env.message(2n, 'b'));
    expect(s.of('ack')).toEqual([]);
    batch();
    expect(s.of('ack').map((a) => a.seq)).toEqual([2n]);
    advanceClock(clock, 200);
    expect(s.of('ack').map((a) => a.seq)).toEqual([2n]);
    batch(); // nothing owed: nothing sent
    expect(s.of('ack')).toHaveLength(1);
    client.close();
  });

  test('HS-8 not beside the Hello: an Ack owed from the previous socket waits for the next Welcome', async () => {
    const n = network();
    const clock = new SimulatedClock();
    const client = createClient({ url: 'ws://h/lifeline', transport: n.transport, clock, random: () => 0.5, ackDelayMs: 50, reconnectBaseMs: 10, reconnectCapMs: 10 });
    await flushMicrotasks();
    const first = n.net.last;
    first.open();
    first.welcome({ sessionId: 'S' });
    first.deliver(env.message(1n, 'a')); // an Ack is owed
    first.serverClose(1001);
    advanceClock(clock, 20);
    await flushMicrotasks();
    const next = n.net.last;
    expect(next).not.toBe(first);
    next.open();
    n.batch(); // the Hello's request is being made
    expect(next.sent.map((e) => e.body.case)).toEqual(['hello']);
    client.close();
  });

  test('SEQ-12 not when the server stated the delay: the Ack waits for it', async () => {
    const { client, clock, s, batch } = await connected(250);
    s.deliver(env.message(1n, 'a'));
    batch();
    expect(s.of('ack')).toEqual([]);
    advanceClock(clock, 260);
    expect(s.of('ack').map((a) => a.seq)).toEqual([1n]);
    client.close();
  });
});

describe('HT-28 the HTTP transport asks for what rides along before it makes a body', () => {
  test('frames sent from onSendBatch go in the same request; none for the close record', async () => {
    const requests: { op: string; init: FetchInit; resolve: (r: FetchResponse) => void }[] = [];
    const fetch: FetchLike = (_u, init) => new Promise((resolve) => requests.push({ op: init.headers[Header.op] ?? '', init, resolve }));
    const ok = (status: number, headers: Record<string, string> = {}): FetchResponse => ({
      status, headers: { get: (k) => headers[k.toLowerCase()] ?? null }, body: null, arrayBuffer: async () => new ArrayBuffer(0),
    });
    let calls = 0;
    let sock: ReturnType<Transport> | undefined;
    const h: TransportHandlers = {
      onOpen: () => {}, onBinary: () => {}, onText: () => {}, onClose: () => {}, onRefused: () => {},
      onSendBatch: () => {
        calls++;
        sock?.send(new Uint8Array([0x2a, 0x02, 0x08, 0x05])); // Ack{5}
      },
    };
    sock = httpTransport(fetch)('ws://h/l', h, { token: undefined });
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    requests[0]?.resolve(ok(200, { 'lifeline-connection': 'C1' }));
    await vi.waitFor(() => expect(requests.some((r) => r.op === 'receive')).toBe(true));
    sock.send(new Uint8Array([0x32, 0x00])); // a Message envelope (empty)
    await vi.waitFor(() => expect(requests.some((r) => r.op === 'send')).toBe(true));
    const send = requests.find((r) => r.op === 'send');
    const recs = new RecordDecoder(1 << 20).push(send?.init.body as Uint8Array);
    expect(recs.map((r) => (r.kind === RecordKind.FRAME ? [...r.envelope] : r.kind))).toEqual([[0x32, 0x00], [0x2a, 0x02, 0x08, 0x05]]);
    expect(calls).toBe(1);
    expect(requests.filter((r) => r.op === 'send')).toHaveLength(1); // the Ack did not schedule a send of its own
    send?.resolve(ok(204));
    sock.close(1000, 'bye');
    await vi.waitFor(() => expect(requests.filter((r) => r.op === 'send')).toHaveLength(2));
    expect(calls).toBe(1);
  });
});
