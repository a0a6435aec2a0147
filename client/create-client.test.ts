import { SimulatedClock } from 'xstate';
import { describe, expect, test } from 'vitest';
import { DriftReason, ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { stateDigest } from '../spec/protocol/digest.js';
import { createClient, type ClientEvent, type ClientOptions, type TokenContext } from './create-client.js';
import { ClientClosedError, ClientFailedError, PayloadTooLargeError, QueueFullError } from './errors.js';
import { advanceClock, env, fakeNetwork, flushMicrotasks, type WelcomeInit } from '../test/support/client.js';

const text = new TextEncoder();
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function setup(o: Partial<ClientOptions> = {}) {
  const net = fakeNetwork();
  const clock = new SimulatedClock();
  const events: ClientEvent<Uint8Array>[] = [];
  const tokens: TokenContext[] = [];
  const client = createClient({
    url: 'ws://127.0.0.1:1/lifeline',
    transport: net.transport,
    clock,
    random: () => 0.5,
    getToken: (ctx) => {
      tokens.push(ctx);
      return `tok${tokens.length}`;
    },
    reconnectBaseMs: 100,
    reconnectCapMs: 1000,
    handshakeTimeoutMs: 500,
    ackDelayMs: 20,
    channels: ['c'],
    ...o,
  });
  client.onEvent((e) => events.push(e));
  const advance = (ms: number) => advanceClock(clock, ms);
  /** Let getToken settle, open the newest socket and answer with a Welcome. */
  const handshake = async (w: WelcomeInit = {}) => {
    await flushMicrotasks();
    net.last.open();
    net.last.welcome(w);
  };
  /** Wait out the current reconnect delay and let getToken settle. */
  const waitReconnect = async () => {
    advance(client.reconnectInfo.delayMs);
    await flushMicrotasks();
  };
  return { net, clock, client, events, tokens, advance, handshake, waitReconnect };
}

const of = <T extends ClientEvent<Uint8Array>['type']>(events: ClientEvent<Uint8Array>[], t: T) =>
  events.filter((e): e is Extract<ClientEvent<Uint8Array>, { type: T }> => e.type === t);

describe('client: handshake and liveness', () => {
  test('HS-8 HS-3 RC-5 the first frame is Hello with the token, protocol version and channels', async () => {
    const t = setup();
    await flushMicrotasks();
    t.net.last.open();
    expect(t.net.last.sent).toHaveLength(1);
    expect(t.net.last.hello).toMatchObject({ protocolVersion: 1, sessionId: '', lastServerSeq: 0n, token: 'tok1', channels: ['c'], receiveWindow: 256 });
    expect(t.tokens).toEqual([{ forceRefresh: false, sessionId: undefined }]);
    t.net.last.welcome();
    expect(t.client.state).toBe('connected');
    t.client.close();
  });

  test('HS-10 no Welcome within the handshake timeout: close 4201, then reconnect', async () => {
    const t = setup();
    await flushMicrotasks();
    t.net.last.open();
    t.advance(499);
    expect(t.client.state).toBe('handshaking');
    t.advance(1);
    expect(t.net.sockets[0]?.closedWith?.code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(t.client.state).toBe('reconnecting');
    await t.waitReconnect();
    expect(t.net.sockets).toHaveLength(2);
    t.client.close();
  });

  test('HS-9 WIRE-7 a body other than Welcome first is a protocol error (1002)', async () => {
    const t = setup();
    await flushMicrotasks();
    t.net.last.open();
    t.net.last.deliver(env.message(1n, 'x'));
    expect(t.net.sockets[0]?.closedWith?.code).toBe(codeOf('PROTOCOL_ERROR'));
    expect(t.client.state).toBe('reconnecting');
    t.client.close();
  });

  test('HB-5 HB-9 HB-6 heartbeats every interval carry the smoothed RTT; server heartbeats are answered at once', async () => {
    const t = setup();
    await t.handshake({ heartbeatIntervalMs: 100, heartbeatMissedMax: 2 });
    const s = t.net.last;
    t.advance(100);
    const [hb1] = s.of('heartbeat');
    expect(hb1?.rttMs).toBe(0);
    t.advance(30);
    s.deliver(env.of({ case: 'heartbeatAck', value: { id: hb1?.id ?? 0, echoSentAtMs: hb1?.sentAtMs ?? 0n, intervalMs: 0 } }));
    expect(t.client.rttMs).toBe(30);
    t.advance(70);
    expect(s.of('heartbeat')[1]?.rttMs).toBe(30);
    s.deliver(env.of({ case: 'heartbeat', value: { id: 7, sentAtMs: 1234n, rttMs: 0 } }));
    expect(s.sent.at(-1)?.body).toMatchObject({ case: 'heartbeatAck', value: { id: 7, echoSentAtMs: 1234n } });
    t.client.close();
  });

  test('HB-4 HB-8 a silent server is closed 4200 after interval × (missed + 1); any frame is proof of life', async () => {
    const t = setup();
    await t.handshake({ heartbeatIntervalMs: 100, heartbeatMissedMax: 2 });
    t.advance(250);
    t.net.last.deliver(env.ack(0n)); // HB-8
    t.advance(299);
    expect(t.client.state).toBe('connected');
    t.advance(1);
    expect(t.net.sockets[0]?.closedWith?.code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(of(t.events, 'closed').at(-1)).toMatchObject({ code: 4200, byClient: true });
    expect(t.client.state).toBe('reconnecting');
    t.client.close();
  });

  test('HB-11 HeartbeatAck.interval_ms changes the interval in force', async () => {
    const t = setup();
    await t.handshake({ heartbeatIntervalMs: 100 });
    t.net.last.deliver(env.of({ case: 'heartbeatAck', value: { id: 0, echoSentAtMs: 0n, intervalMs: 300 } }));
    t.advance(299);
    expect(t.net.last.of('heartbeat')).toHaveLength(0);
    t.advance(1);
    expect(t.net.last.of('heartbeat')).toHaveLength(1);
    t.client.close();
  });
});

describe('client: inspection', () => {
  test('RC-1 the connection actor can be inspected (the inspect option)', async () => {
    const seen: string[] = [];
    const t = setup({ inspect: (ev) => { if (ev.type === '@xstate.event') seen.push((ev.event as { type: string }).type); } });
    await t.handshake();
    expect(seen).toEqual(expect.arrayContaining(['app.connect', 'socket.opened', 'frame.welcome']));
    t.client.close();
  });
});

describe('client: reconnect policy', () => {
  test('RC-5 CC-2 after TOKEN_EXPIRED the next attempt gets a fresh token (forceRefresh) and resumes', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    t.net.last.serverClose(codeOf('TOKEN_EXPIRED'), 'expired');
    expect(t.client.state).toBe('reconnecting');
    await t.waitReconnect();
    expect(t.tokens.at(-1)).toEqual({ forceRefresh: true, sessionId: 'S' });
    t.net.last.open();
    expect(t.net.last.hello).toMatchObject({ sessionId: 'S', token: 'tok2' });
    t.client.close();
  });

  test('RC-3 after reconnectMaxAttempts failures the client is suspended; networkOnline() leaves it', async () => {
    const t = setup({ reconnectMaxAttempts: 2, suspendedRetryMs: 60_000 });
    await flushMicrotasks();
    t.net.last.serverClose(1006);
    await t.waitReconnect();
    t.net.last.serverClose(1006);
    expect(t.client.state).toBe('suspended');
    t.advance(59_999);
    expect(t.net.sockets).toHaveLength(2);
    t.client.networkOnline();
    await flushMicrotasks();
    expect(t.net.sockets).toHaveLength(3);
    expect(t.client.state).toBe('connecting');
    t.client.close();
  });

  test('RC-6 CC-6 NORMAL from the server ends in failed; pending sends fail visibly (BP-13)', async () => {
    const t = setup();
    await t.handshake();
    const p = t.client.send('x');
    t.net.last.serverClose(codeOf('NORMAL'), 'bye');
    expect(t.client.state).toBe('failed');
    await expect(p).rejects.toBeInstanceOf(ClientFailedError);
    t.advance(60_000);
    expect(t.net.sockets).toHaveLength(1);
    t.client.close();
  });

  test('WIRE-1 CC-2 a text frame closes UNSUPPORTED_DATA (1003); the client resets its session and backs off from 1 s', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    t.net.last.deliverText();
    expect(t.net.last.closedWith?.code).toBe(codeOf('UNSUPPORTED_DATA'));
    expect(t.client.state).toBe('reconnecting'); // 1003's advice none is for the offender, not the detector
    expect(t.client.reconnectInfo.delayMs).toBeGreaterThanOrEqual(1000);
    await t.waitReconnect();
    t.net.last.open();
    expect(t.net.last.hello?.sessionId).toBe('');
    t.client.close();
  });

  test('SEQ-11 HS-14 a NEW Welcome with last_client_seq above 0 closes PROTOCOL_ERROR', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S', outcome: ResumeOutcome.NEW, lastClientSeq: 2n });
    expect(t.net.last.closedWith?.code).toBe(codeOf('PROTOCOL_ERROR'));
    expect(t.client.state).toBe('reconnecting');
    t.client.close();
  });

  test('RC-9 close() sends NORMAL, rejects unacked sends and never reconnects', async () => {
    const t = setup();
    await t.handshake();
    const p = t.client.send('x');
    t.client.close();
    expect(t.net.last.closedWith?.code).toBe(codeOf('NORMAL'));
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    await expect(t.client.send('y')).rejects.toBeInstanceOf(ClientClosedError);
    t.advance(600_000);
    expect(t.net.sockets).toHaveLength(1);
    expect(t.client.state).toBe('closed');
  });

  test('DR-6 a DrainNotice: no reconnect before reconnect_after_ms, then to target, old socket released', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    t.net.last.deliver(env.drain(400, 5000, 'ws://127.0.0.1:2/lifeline'));
    expect(of(t.events, 'drain')).toHaveLength(1);
    t.advance(399);
    await flushMicrotasks();
    expect(t.net.sockets).toHaveLength(1);
    t.advance(1);
    await flushMicrotasks();
    expect(t.net.sockets).toHaveLength(2);
    expect(t.net.last.url).toBe('ws://127.0.0.1:2/lifeline');
    expect(t.net.sockets[0]?.closedWith?.code).toBe(codeOf('GOING_AWAY')); // never NORMAL: the session lives on
    t.net.last.open();
    expect(t.net.last.hello?.sessionId).toBe('S');
    t.client.close();
  });

  test('DR-6 while it waits for its drain slot the client stays connected: heartbeats and sends go on', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S', heartbeatIntervalMs: 100, heartbeatMissedMax: 2 });
    const s = t.net.last;
    s.deliver(env.drain(1000, 5000));
    expect(t.client.state).toBe('connected');
    const sent = t.client.send('during-wait');
    for (let i = 0; i < 19; i++) {
      t.advance(50);
      s.deliver(env.ack(0n)); // the server keeps talking (HB-8)
    }
    expect(s.of('heartbeat').length).toBeGreaterThanOrEqual(9);
    expect(s.of('message').map((m) => str(m.payload))).toEqual(['during-wait']);
    s.deliver(env.ack(1n));
    await expect(sent).resolves.toBeUndefined();
    t.advance(50);
    await flushMicrotasks();
    expect(s.closedWith?.code).toBe(codeOf('GOING_AWAY'));
    expect(t.net.sockets).toHaveLength(2);
    t.client.close();
  });

  test('DR-4 DR-6 frames flushed after a DrainNotice are still processed and acked', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    const s = t.net.last;
    s.deliver(env.drain(1000));
    s.deliver(env.message(1n, 'late'));
    t.advance(20);
    expect(of(t.events, 'message').map((m) => str(m.payload))).toEqual(['late']);
    expect(s.of('ack').at(-1)?.seq).toBe(1n);
    s.serverClose(codeOf('SERVICE_RESTART'), 'drain');
    expect(t.client.state).toBe('reconnecting');
    t.client.close();
  });
});

describe('client: sending (no loss, no duplicates)', () => {
  test('SEQ-2 SEQ-7 BP-1 sends are numbered 1, 2, … as written, at most receive_window in flight, resolved by cumulative acks', async () => {
    const t = setup();
    await t.handshake({ receiveWindow: 2 });
    const s = t.net.last;
    const done: number[] = [];
    const ps = [1, 2, 3, 4].map((i) => t.client.send(`m${i}`).then(() => done.push(i)));
    expect(s.of('message').map((m) => m.seq)).toEqual([1n, 2n]);
    s.deliver(env.ack(2n));
    await flushMicrotasks();
    expect(done).toEqual([1, 2]);
    expect(s.of('message').map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n]);
    s.deliver(env.ack(4n));
    await Promise.all(ps);
    expect(done).toEqual([1, 2, 3, 4]);
    t.client.close();
  });

  test('SEQ-9 RS-10 after RESUMED the unacked messages above last_client_seq are resent in order with their seqs, before new ones', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    const ps = [1, 2, 3, 4, 5].map((i) => t.client.send(`m${i}`));
    t.net.last.deliver(env.ack(2n));
    t.net.last.serverClose(1006);
    const p6 = t.client.send('m6'); // queued while disconnected
    await t.waitReconnect();
    t.net.last.open();
    expect(t.net.last.hello).toMatchObject({ sessionId: 'S' });
    t.net.last.welcome({ sessionId: 'S', outcome: ResumeOutcome.RESUMED, lastClientSeq: 3n });
    const resent = t.net.last.of('message');
    expect(resent.map((m) => [m.seq, str(m.payload)])).toEqual([[4n, 'm4'], [5n, 'm5'], [6n, 'm6']]);
    await expect(ps[2]).resolves.toBeUndefined(); // covered by last_client_seq
    t.net.last.deliver(env.ack(6n));
    await Promise.all([...ps, p6]);
    t.client.close();
  });

  test('SEQ-9 after a NEW session the unacked messages are renumbered from 1, keeping their message ids', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    const ps = [1, 2, 3].map((i) => t.client.send(`m${i}`, { messageId: `id${i}` }));
    t.net.last.deliver(env.ack(1n));
    const ids = t.net.last.of('message').map((m) => m.messageId);
    t.net.last.serverClose(1006);
    await t.waitReconnect();
    t.net.last.open();
    t.net.last.welcome({ sessionId: 'S2', outcome: ResumeOutcome.NEW, reason: ResumeReason.UNKNOWN_SESSION });
    const resent = t.net.last.of('message');
    expect(resent.map((m) => [m.seq, str(m.payload), m.messageId])).toEqual([[1n, 'm2', ids[1]], [2n, 'm3', ids[2]]]);
    t.net.last.deliver(env.ack(2n));
    await Promise.all(ps);
    t.client.close();
  });

  test('BP-13 a send beyond queueLimitMessages fails with QueueFullError, never silently', async () => {
    const t = setup({ queueLimitMessages: 3 });
    const ok = [1, 2, 3].map((i) => t.client.send(`m${i}`));
    await expect(t.client.send('m4')).rejects.toBeInstanceOf(QueueFullError);
    await t.handshake();
    t.net.last.deliver(env.ack(3n));
    await Promise.all(ok);
    const p5 = t.client.send('m5'); // room again
    expect(t.net.last.of('message').map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n]);
    t.net.last.deliver(env.ack(4n));
    await p5;
    t.client.close();
  });

  test('WIRE-4 a message larger than Welcome.max_payload_bytes is rejected locally', async () => {
    const t = setup();
    await t.handshake({ maxPayloadBytes: 100 });
    await expect(t.client.send(new Uint8Array(200))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(t.net.last.of('message')).toHaveLength(0);
    t.client.close();
  });

  test('SEQ-6 an Ack beyond the last sent seq closes PROTOCOL_ERROR and resets the session', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    t.net.last.deliver(env.ack(5n));
    expect(t.net.last.closedWith?.code).toBe(codeOf('PROTOCOL_ERROR'));
    expect(t.client.sessionId).toBeUndefined(); // 1002 resets the session (RC-10)
    t.client.close();
  });
});

describe('client: receiving', () => {
  test('SEQ-3 SEQ-5 duplicates are discarded but acknowledged; acks come within ackDelayMs', async () => {
    const t = setup();
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.message(1n, 'a'));
    s.deliver(env.message(2n, 'b'));
    s.deliver(env.message(1n, 'a'));
    expect(of(t.events, 'message').map((m) => m.seq)).toEqual([1n, 2n]);
    t.advance(19);
    expect(s.of('ack')).toHaveLength(0);
    t.advance(1);
    expect(s.of('ack').map((a) => a.seq)).toEqual([2n]);
    s.deliver(env.message(2n, 'b'));
    t.advance(20);
    expect(s.of('ack').map((a) => a.seq)).toEqual([2n, 2n]); // SEQ-3: a duplicate is acked again
    t.client.close();
  });

  test('SEQ-5 an ack is sent at once when half the receive window is unacked', async () => {
    const t = setup({ receiveWindow: 4 });
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.message(1n, 'a'));
    expect(s.of('ack')).toHaveLength(0);
    s.deliver(env.message(2n, 'b'));
    expect(s.of('ack').map((a) => a.seq)).toEqual([2n]);
    t.client.close();
  });

  test('SEQ-8 a server message whose message id was seen is delivered once', async () => {
    const t = setup();
    await t.handshake();
    t.net.last.deliver(env.message(1n, 'a', { messageId: 'm-1' }));
    t.net.last.deliver(env.message(2n, 'a', { messageId: 'm-1' }));
    t.net.last.deliver(env.message(3n, 'b', { messageId: 'm-2' }));
    expect(of(t.events, 'message').map((m) => m.seq)).toEqual([1n, 3n]);
    expect(t.client.lastSeq).toBe(3n);
    t.client.close();
  });

  test('SEQ-4 SD-2 SD-4 SD-5 a seq gap sends StateDrift{SEQ_GAP}, ignores frames until the session Snapshot, then resyncs', async () => {
    const t = setup();
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.snapshot(1n, 'c', 1n, 'v1'));
    s.deliver(env.patch(3n, 'c', 1n, 2n, 'v2')); // seq 2 is missing
    const [drift] = s.of('stateDrift');
    expect(drift).toMatchObject({ channel: '', reason: DriftReason.SEQ_GAP, serverSeq: 3n, clientSeq: 1n });
    s.deliver(env.message(4n, 'ignored'));
    expect(of(t.events, 'message')).toHaveLength(0);
    expect(t.client.channel('c')?.version).toBe(1n);
    s.deliver(env.snapshot(5n, '', 0n)); // the session re-baseline
    s.deliver(env.patch(6n, 'c', 1n, 2n, 'stale')); // SD-2: still waiting for c's Snapshot
    s.deliver(env.snapshot(7n, 'c', 3n, 'v3'));
    s.deliver(env.patch(8n, 'c', 3n, 4n, 'v4'));
    expect(str(t.client.channel('c')?.state ?? new Uint8Array())).toBe('v4');
    expect(t.client.lastSeq).toBe(8n);
    t.advance(20);
    expect(s.of('ack').at(-1)?.seq).toBe(8n);
    t.client.close();
  });

  test('SD-2 SD-5 channel Snapshots sent before the session Snapshot of a re-baseline are kept', async () => {
    const t = setup();
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.snapshot(1n, 'c', 1n, 'v1'));
    s.deliver(env.message(3n, 'gap'));
    s.deliver(env.snapshot(4n, 'c', 5n, 'v5')); // this server answers channel first …
    s.deliver(env.snapshot(5n, '', 0n)); // … then re-baselines the session
    s.deliver(env.patch(6n, 'c', 5n, 6n, 'v6'));
    expect(t.client.channel('c')).toMatchObject({ version: 6n });
    expect(t.client.lastSeq).toBe(6n);
    t.client.close();
  });

  test('SD-1 SD-2 a patch whose base_version is not the local version is not applied; StateDrift{VERSION_GAP}; ignored until Snapshot', async () => {
    const t = setup();
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.snapshot(1n, 'c', 1n, 'v1'));
    s.deliver(env.patch(2n, 'c', 2n, 3n, 'v3'));
    expect(s.of('stateDrift')).toEqual([expect.objectContaining({ channel: 'c', reason: DriftReason.VERSION_GAP, expectedVersion: 2n, actualVersion: 1n })]);
    s.deliver(env.patch(3n, 'c', 1n, 2n, 'v2')); // would fit, but the channel waits for its Snapshot
    expect(str(t.client.channel('c')?.state ?? new Uint8Array())).toBe('v1');
    expect(s.of('stateDrift')).toHaveLength(1);
    s.deliver(env.snapshot(4n, 'c', 3n, 'v3'));
    s.deliver(env.patch(5n, 'c', 3n, 4n, 'v4'));
    expect(t.client.channel('c')).toMatchObject({ version: 4n });
    expect(of(t.events, 'channel').map((e) => [e.cause, e.version])).toEqual([['snapshot', 1n], ['snapshot', 3n], ['patch', 4n]]);
    t.client.close();
  });

  test('SD-1 a channel without a Snapshot is at version 0, empty: a patch from 0 applies, another is VERSION_GAP drift, never a close', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    const s = t.net.last;
    s.deliver(env.patch(1n, 'fresh', 0n, 1n, 'f1'));
    expect(t.client.channel('fresh')).toMatchObject({ version: 1n });
    s.deliver(env.patch(2n, 'other', 7n, 8n, 'o8'));
    expect(s.closedWith).toBeUndefined();
    expect(s.of('stateDrift')).toEqual([expect.objectContaining({ channel: 'other', reason: DriftReason.VERSION_GAP, expectedVersion: 7n, actualVersion: 0n })]);
    // A NEW Welcome discards channel state: back to version 0 before the snapshots that follow.
    s.serverClose(codeOf('GOING_AWAY'), 'bye');
    await t.waitReconnect();
    await t.handshake({ sessionId: 'S2', outcome: ResumeOutcome.NEW });
    expect(t.client.channel('fresh')).toBeUndefined();
    t.net.last.deliver(env.patch(1n, 'fresh', 0n, 1n, 'again'));
    expect(str(t.client.channel('fresh')?.state ?? new Uint8Array())).toBe('again');
    t.client.close();
  });

  test('SD-3 a patch whose digest differs from the CRC-32C of the canonical state sends StateDrift{DIGEST_MISMATCH}', async () => {
    const t = setup();
    await t.handshake();
    const s = t.net.last;
    s.deliver(env.snapshot(1n, 'c', 1n, 'v1'));
    s.deliver(env.patch(2n, 'c', 1n, 2n, 'v2', stateDigest(text.encode('v2'))));
    expect(s.of('stateDrift')).toHaveLength(0);
    s.deliver(env.patch(3n, 'c', 2n, 3n, 'v3', stateDigest(text.encode('something else'))));
    expect(s.of('stateDrift')).toEqual([expect.objectContaining({ channel: 'c', reason: DriftReason.DIGEST_MISMATCH })]);
    s.deliver(env.patch(4n, 'c', 3n, 4n, 'v4'));
    expect(t.client.channel('c')?.version).toBe(3n); // waiting for the Snapshot
    t.client.close();
  });

  test('SD-6 a StateDrift from the server is accepted and reported', async () => {
    const t = setup();
    await t.handshake();
    t.net.last.deliver(env.of({ case: 'stateDrift', value: { channel: 'c', reason: DriftReason.SEQ_GAP } }));
    expect(t.client.state).toBe('connected');
    expect(of(t.events, 'drift')).toEqual([expect.objectContaining({ channel: 'c', from: 'server' })]);
    t.client.close();
  });

  test('RS-10 RC-10 a resuming Hello carries the session id and last processed seq; the cursor moves to from_seq', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    t.net.last.deliver(env.message(1n, 'a'));
    t.net.last.deliver(env.message(2n, 'b'));
    t.net.last.serverClose(1006);
    await t.waitReconnect();
    t.net.last.open();
    expect(t.net.last.hello).toMatchObject({ sessionId: 'S', lastServerSeq: 2n });
    // The server replays from 3, and what it sends is new (not a duplicate).
    t.net.last.welcome({ sessionId: 'S', outcome: ResumeOutcome.RESUMED, fromSeq: 3n, replayed: 1 });
    t.net.last.deliver(env.message(3n, 'c'));
    expect(of(t.events, 'message').map((m) => str(m.payload))).toEqual(['a', 'b', 'c']);
    expect(of(t.events, 'welcome').at(-1)).toMatchObject({ outcome: 'resumed', reason: 'REPLAYED', fromSeq: 3n });
    t.client.close();
  });

  test('RS-6 RS-10 after a NEW session the client starts a new seq space at from_seq', async () => {
    const t = setup();
    await t.handshake({ sessionId: 'S' });
    for (let i = 1n; i <= 5n; i++) t.net.last.deliver(env.message(i, `m${i}`));
    t.net.last.serverClose(1006);
    await t.waitReconnect();
    t.net.last.open();
    t.net.last.welcome({ sessionId: 'S2', outcome: ResumeOutcome.NEW, reason: ResumeReason.UNKNOWN_SESSION, fromSeq: 1n });
    t.net.last.deliver(env.snapshot(1n, 'c', 9n, 'fresh'));
    expect(t.client.lastSeq).toBe(1n);
    expect(t.client.channel('c')?.version).toBe(9n);
    expect(of(t.events, 'welcome').at(-1)).toMatchObject({ outcome: 'new', reason: 'UNKNOWN_SESSION' });
    t.client.close();
  });
});
