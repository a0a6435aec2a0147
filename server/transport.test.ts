/**
 * The transport seam proven without ws (issue 12, deliverable 5): an in-memory PeerTransport carries a
 * whole session through the real core (admission aside): Hello → Welcome, Message → Ack and the
 * application's echo, ping/pong, a peer close, a server close. A second transport needs no more than
 * this file's fake does.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatSchema,
  HelloSchema,
  MessageSchema,
  ResumeOutcome,
  type Envelope,
} from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import { decodeOrThrow, encode } from '../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../spec/protocol/defaults.js';
import { createServer, type LifelineServer } from './server.js';
import type { LifelineServerOptions } from './options.js';
import type { PeerSink, PeerTransport } from './transport.js';
import type { BodyCase, BodyOf } from '../testkit/raw-client.js';

/** A peer in memory: what the server writes is decoded into `received`; the test plays the client. */
class MemoryPeer implements PeerTransport {
  readonly kind = 'ws'; // the only kind today; the core never reads it but for logs
  isOpen = true;
  bufferedAmount = 0;
  readonly received: Envelope[] = [];
  closedWith: { name: WsCloseCodeName; reason: string } | undefined;
  isTerminated = false;
  pings = 0;
  sink: PeerSink | undefined;

  write(bytes: Uint8Array, onFlushed?: () => void): void {
    this.received.push(decodeOrThrow(bytes, { from: 'server' }));
    if (onFlushed) queueMicrotask(onFlushed);
  }
  close(name: WsCloseCodeName, reason: string): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.closedWith = { name, reason };
    // The peer answers the close frame: the transport reports it gone with the code it sent.
    queueMicrotask(() => this.sink?.closed(codeOf(name)));
  }
  terminate(): void {
    this.isTerminated = true;
    if (this.isOpen) {
      this.isOpen = false;
      queueMicrotask(() => this.sink?.closed(1006));
    }
  }
  ping(): void {
    this.pings++;
  }

  send(body: Envelope['body']): void {
    this.sink?.frame(encode(create(EnvelopeSchema, { body })), true);
  }
  bodies<C extends BodyCase>(c: C): BodyOf<C>[] {
    return this.received.filter((e) => e.body.case === c).map((e) => e.body.value as BodyOf<C>);
  }
}

function request(): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.url = '/lifeline';
  req.headers = {};
  return req;
}

const servers: LifelineServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server that never listens: peers reach its core only through the seam. */
function server(o: LifelineServerOptions = {}): LifelineServer {
  const srv = createServer({ heartbeatIntervalMs: 1000, handshakeTimeoutMs: 2000, ackDelayMs: 5, ...o });
  servers.push(srv);
  return srv;
}

function attach(srv: LifelineServer): MemoryPeer {
  const peer = new MemoryPeer();
  peer.sink = srv.accept(peer, { principal: 'alice', req: request(), upgradeStartedAtMs: Date.now() });
  expect(peer.sink).toBeDefined();
  return peer;
}

function hello(init: MessageInitShape<typeof HelloSchema> = {}): Envelope['body'] {
  return { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...init }) };
}

function message(seq: bigint, payload: number[]): Envelope['body'] {
  return { case: 'message', value: create(MessageSchema, { seq, channel: 'chat', payload: new Uint8Array(payload) }) };
}

describe('a session over an in-memory transport (issue 12, the transport seam)', () => {
  test('HS-9 SEQ-5 SEQ-7 Hello → Welcome, Message → Ack and the echo, then the peer closes: the session detaches (RS-1)', async () => {
    const srv = server();
    srv.on('message', (session, m) => session.send({ payload: m.payload }));
    const closed: { id: string; code: number; byPeer: boolean }[] = [];
    srv.on('sessionClosed', (s, info) => closed.push({ id: s.id, ...info }));
    const peer = attach(srv);
    peer.send(hello());
    await vi.waitFor(() => expect(peer.bodies('welcome')).toHaveLength(1));
    const welcome = peer.bodies('welcome')[0];
    expect(welcome?.resume?.outcome).toBe(ResumeOutcome.NEW);
    const id = welcome?.sessionId as string;
    expect(srv.session(id)?.principal).toBe('alice');

    peer.send(message(1n, [7]));
    await vi.waitFor(() => expect(peer.bodies('ack').at(-1)?.seq).toBe(1n)); // SEQ-5: the server acks our seq 1
    await vi.waitFor(() => expect(peer.bodies('message')).toHaveLength(1));
    const echo = peer.bodies('message')[0];
    expect(echo?.seq).toBe(1n);
    expect([...(echo?.payload ?? [])]).toEqual([7]);
    peer.send({ case: 'ack', value: create(AckSchema, { seq: 1n }) }); // SEQ-7: the replay drops it
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(1n));
    expect(srv.session(id)?.stats().inFlight).toBe(0);

    peer.isOpen = false;
    peer.sink?.closed(1006); // the transport died under the peer
    await vi.waitFor(() => expect(closed).toEqual([{ id, code: 1006, byPeer: true }]));
    expect(srv.session(id)?.state).toBe('detached');
    expect(srv.session(id)).toBeDefined(); // resumable until its TTL
    expect(srv.stats().connections).toBe(0);
  });

  test('HB-1 HB-2 the sweep pings through the transport; a pong is proof of the path', async () => {
    const srv = server({ heartbeatIntervalMs: 50, heartbeatMissedMax: 2 });
    const peer = attach(srv);
    peer.send(hello());
    await vi.waitFor(() => expect(peer.bodies('welcome')).toHaveLength(1));
    // Answer every ping with a pong and send a Heartbeat now and then: more than missed_max + 1
    // intervals go by and the session lives (neither HB-3 nor HB-7).
    let id = 1;
    await vi.waitFor(
      () => {
        if (peer.pings > 0) peer.sink?.pong();
        peer.send({ case: 'heartbeat', value: create(HeartbeatSchema, { id: id++, sentAtMs: 1n }) });
        expect(peer.pings).toBeGreaterThan(4);
      },
      { timeout: 5000, interval: 20 },
    );
    expect(peer.closedWith).toBeUndefined();
    expect(srv.sessions()[0]?.stats().rttMs).toBeTypeOf('number');
  });

  test('CC-11 a protocol error the transport caught ends the session by the registry (reset), not a detach', async () => {
    const srv = server();
    const ended: string[] = [];
    srv.on('sessionEnded', (s) => ended.push(s.id));
    const peer = attach(srv);
    peer.send(hello());
    await vi.waitFor(() => expect(peer.bodies('welcome')).toHaveLength(1));
    const id = peer.bodies('welcome')[0]?.sessionId as string;
    peer.sink?.protocolError('MESSAGE_TOO_BIG', 'CC-11: frame over maxPayload');
    await vi.waitFor(() => expect(ended).toEqual([id]));
    expect(peer.closedWith?.name).toBe('MESSAGE_TOO_BIG');
    expect(srv.session(id)).toBeUndefined();
  });

  test('WIRE-1 a text frame from the transport closes UNSUPPORTED_DATA', async () => {
    const srv = server();
    const peer = attach(srv);
    peer.sink?.frame(new TextEncoder().encode('hi'), false);
    await vi.waitFor(() => expect(peer.closedWith?.name).toBe('UNSUPPORTED_DATA'));
  });

  test('CC-7 HS-7 the server closes GOING_AWAY and destroys the transport; a peer offered after close() is refused', async () => {
    const srv = server();
    const peer = attach(srv);
    peer.send(hello());
    await vi.waitFor(() => expect(peer.bodies('welcome')).toHaveLength(1));
    await srv.close();
    expect(peer.closedWith?.name).toBe('GOING_AWAY');
    expect(peer.isTerminated).toBe(true);
    const late = new MemoryPeer();
    expect(srv.accept(late, { principal: 'alice', req: request(), upgradeStartedAtMs: Date.now() })).toBeUndefined();
    expect(late.isTerminated).toBe(true);
  });
});
