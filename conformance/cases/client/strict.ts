/**
 * The client as a strict receiver and a clean closer (issue 18): an Ack beyond
 * what it sent (SEQ-6), an Envelope with no body (WIRE-3), a DrainNotice that
 * names a target (DR-6), and a close frame the server never answers (CC-10:
 * the runner stops reading without pausing, so it sees the TCP connection end).
 */
import type { ServerConn } from '../../client-mode/fake-server.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { codeNamed as codeOf, exponentAfter } from '../../oracle/close-advice.js';
import { envelope } from '../../server-mode/peer.js';
import { deafen } from '../deafen.js';
import { checkWithin } from '../timing.js';
import { attempt, b64, backoffBoundMs, clientCase, connected, observedLossAt, plusClientWaitMs, sleep, type ClientCase } from './util.js';

function clientMessages(conn: ServerConn): { seq: bigint; text: string }[] {
  return conn.bodies('message').map((m) => ({ seq: m.seq, text: new TextDecoder().decode(m.payload) }));
}

export const strictClientCases: ClientCase[] = [
  clientCase({
    id: 'SEQ-6/client-ack-beyond-sent-1002',
    spec: ['SEQ-6'],
    level: 'MUST',
    description: 'an Ack of the highest seq the client sent is accepted and a stale lower one ignored; an Ack of one more than it sent is closed with PROTOCOL_ERROR (1002)',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      conn.autoAck = false;
      client.command({ cmd: 'send', id: 's1', payload: b64('c1') });
      client.command({ cmd: 'send', id: 's2', payload: b64('c2') });
      await conn.untilFrame(() => clientMessages(conn).length >= 2, 2000, '2 client messages');
      conn.send(envelope('ack', { seq: 2n }));
      conn.send(envelope('ack', { seq: 1n }));
      conn.send(envelope('heartbeat', { id: 606, sentAtMs: 1n }));
      await conn.untilFrame(() => conn.bodies('heartbeatAck').some((a) => a.id === 606) || conn.closed, 1000 + ctx.slackMs, 'a HeartbeatAck after the Acks');
      check(!conn.closed, `closed ${conn.closed?.code} on an Ack of what it sent, or a stale Ack (SEQ-6)`);
      conn.send(envelope('ack', { seq: 3n }));
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      check(!c.byServer, 'the runner closed, not the client');
      checkEqual(c.code, codeOf('PROTOCOL_ERROR'), 'close code for an Ack of 3 after sending 2');
    },
  }),
  clientCase({
    id: 'WIRE-3/client-closes-empty-envelope',
    spec: ['WIRE-3'],
    level: 'MUST',
    description: 'an Envelope with no body (an empty frame) is answered with PROTOCOL_ERROR (1002), and so is one whose only field is a body unknown to v1',
    timeoutMs: 30_000,
    async run(ctx) {
      const { conn } = await connected(ctx, { sessionId: 'sess-w3' });
      conn.sendBytes(new Uint8Array(0));
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      check(!c.byServer, 'the runner closed, not the client');
      checkEqual(c.code, codeOf('PROTOCOL_ERROR'), 'close code for an empty Envelope');
      // 1002 resets the session and waits at least 1 s (§14.2)
      const conn2 = await ctx.server.conn(2, backoffBoundMs(ctx, exponentAfter(0), 1000) + 2000);
      await conn2.hello(2000);
      conn2.welcome();
      await sleep(30);
      conn2.sendBytes(new Uint8Array([0xc2, 0x02, 0x02, 0x08, 0x01])); // field 40 (no v1 body): { 1: 1 }
      const c2 = await conn2.waitClosed(1000 + ctx.slackMs);
      checkEqual(c2.code, codeOf('PROTOCOL_ERROR'), 'close code for an Envelope whose only field is an unknown body');
    },
  }),
  clientCase({
    id: 'DR-6/drain-notice-target',
    spec: ['DR-6', 'RC-10'],
    level: 'MUST',
    description: 'a DrainNotice naming a target (same origin) makes the client reconnect there, not before reconnect_after_ms, and resume its session',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-t' });
      const delay = 300;
      const target = `${ctx.server.url}-elsewhere`; // same origin as the endpoint (§16.9)
      const from = client.events.length;
      const t0 = performance.now();
      conn.send(envelope('drainNotice', { reason: 2, reconnectAfterMs: delay, deadlineMs: 5000, target }));
      const at = await attempt(ctx, 2, delay + backoffBoundMs(ctx, exponentAfter(0)) + 2000);
      checkWithin(ctx, 'reconnected after the runner sent the notice', at - t0, { min: delay }, 'DR-6');
      const lossAt = observedLossAt(client, from, t0);
      checkWithin(ctx, 'reconnected after the client took the notice', at - lossAt, { max: plusClientWaitMs(ctx, client, delay + backoffBoundMs(ctx, exponentAfter(0)), lossAt, at) }, 'DR-6');
      const up = ctx.server.upgrades[1];
      const path = new URL(target).pathname;
      check(up !== undefined && new URL(up.url, 'ws://x').pathname === path, `the next upgrade went to ${up?.url}, not to the DrainNotice target's ${path} (DR-6)`);
      const hello = await (await ctx.server.conn(2, 2000)).hello(2000);
      checkEqual(hello.sessionId, 'sess-t', 'Hello.session_id at the target (a drain keeps the session)');
    },
  }),
  clientCase({
    id: 'CC-10/client-destroys-unanswered-close',
    spec: ['CC-10', 'RC-9'],
    level: 'MUST',
    description: 'after close() the client destroys its TCP connection within its close timeout (declared, else the handshake timeout) + slack when the server never answers the close frame',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      const closeTimeout = ctx.client.closeTimeoutMs ?? ctx.client.handshakeTimeoutMs;
      const d = deafen(conn.ws);
      const t0 = performance.now();
      client.command({ cmd: 'close' });
      const bound = closeTimeout + ctx.slackMs;
      const deadline = performance.now() + bound + 2000;
      while (d.endedAt === undefined && performance.now() < deadline) await sleep(10);
      if (d.endedAt === undefined) throw new CaseFailure(`the TCP connection was still open ${Math.round(bound + 2000)} ms after close() (CC-10: close timeout ${closeTimeout} ms)`);
      check(d.bytesIgnored > 0, 'the client sent nothing (no close frame) before ending the connection');
      checkWithin(ctx, 'transport destroyed after close()', d.endedAt - t0, { max: bound }, 'CC-10');
    },
  }),
];
