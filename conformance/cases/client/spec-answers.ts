/**
 * Client cases for answers spec 1.1 settled (issue 18): a close the client sends for the server's
 * fault (CC-2), a NEW Welcome that claims client seqs (SEQ-11), the drain wait (DR-6) and the one
 * handshake deadline that also bounds the token fetch (HS-10). Expectations come from the spec's
 * prose (§14.1 CC-2, §6.2, §13.4, §6.3), not from the reference client.
 */
import { DriftReason, ResumeOutcome, ResumeReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { codeNamed as codeOf } from '../../oracle/close-advice.js';
import { check, checkEqual } from '../../framework/failure.js';
import { envelope } from '../../server-mode/peer.js';
import type { ClientProcess } from '../../client-mode/control.js';
import { attempt, backoffBoundMs, clientCase, connected, plusClientWaitMs, sleep, unb64, type ClientCase } from './util.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** The last `channel` event the client reported for a channel. */
function lastChannel(client: ClientProcess, channel: string): { version: bigint; state: string } | undefined {
  const evs = client.events.filter((t) => t.e.event === 'channel' && t.e.channel === channel);
  const last = evs[evs.length - 1]?.e;
  return last && last.event === 'channel' ? { version: BigInt(last.version), state: unb64(last.state) } : undefined;
}

/** PROTOCOL_ERROR's minimum delay, written from the spec's table (§14.2), not read from the registry. */
const PROTOCOL_ERROR_MIN_DELAY_MS = 1000;

export const specAnswerClientCases: ClientCase[] = [
  clientCase({
    id: 'CC-2/client-detected-fault-backs-off',
    spec: ['CC-2', 'WIRE-1', 'RC-10'],
    level: 'MUST',
    description: 'after closing 1003 for a text frame the client does not take 1003\'s advice (none): it resets its session and reconnects, no sooner than 1 s',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-fault' });
      conn.sendText('{"not":"lifeline"}');
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      checkEqual(c.code, codeOf('UNSUPPORTED_DATA'), 'close code for a text frame');
      const bound = backoffBoundMs(ctx, 0, PROTOCOL_ERROR_MIN_DELAY_MS);
      const at = await attempt(ctx, 2, bound + 2000);
      const waited = Math.round(at - c.at);
      ctx.note(`reconnected ${waited} ms after its own 1003 (window ${PROTOCOL_ERROR_MIN_DELAY_MS}…${bound} ms)`);
      check(waited >= PROTOCOL_ERROR_MIN_DELAY_MS - 50, `reconnected ${waited} ms after its 1003, before PROTOCOL_ERROR's 1 s minimum (CC-2)`);
      const max = Math.round(plusClientWaitMs(ctx, client, bound, c.at, at));
      check(waited <= max, `reconnected ${waited} ms after its 1003 > ${max} ms`);
      const hello = await (await ctx.server.conn(2, 2000)).hello(2000);
      checkEqual(hello.sessionId, '', 'Hello.session_id after a close for the server\'s fault (the session is reset)');
    },
  }),
  clientCase({
    id: 'SEQ-11/new-welcome-claims-client-seqs',
    spec: ['SEQ-11', 'HS-14'],
    level: 'MUST',
    description: 'a Welcome with outcome NEW and last_client_seq 3 (the new session has seen nothing) is answered with a close 1002',
    async run(ctx) {
      const client = await ctx.start();
      const fresh = { outcome: ResumeOutcome.NEW, reason: ResumeReason.NOT_REQUESTED, fromSeq: 1n, replayed: 0 };
      const { conn } = await ctx.server.acceptSession(1, 5000, { sessionId: 'sess-n', lastClientSeq: 3n, resume: fresh });
      const closed = await conn.waitClosed(2000 + ctx.slackMs);
      check(!closed.byServer, 'the runner closed the connection, not the client');
      checkEqual(closed.code, codeOf('PROTOCOL_ERROR'), 'close code for a NEW Welcome with last_client_seq 3');
      void client;
    },
  }),
  clientCase({
    id: 'DR-6/connected-until-slot',
    spec: ['DR-6', 'HB-5'],
    level: 'MUST',
    description: 'while it waits for its drain slot the client stays connected and keeps sending heartbeats; at the slot it closes 1001 and reconnects at once',
    async run(ctx) {
      const interval = 100;
      const { client, conn } = await connected(ctx, { sessionId: 'sess-slot', heartbeatIntervalMs: interval, heartbeatMissedMax: 2 });
      await sleep(interval);
      const delay = 8 * interval;
      const mark = client.events.length;
      const beatsBefore = conn.bodies('heartbeat').length;
      const t0 = performance.now();
      conn.send(envelope('drainNotice', { reason: 1, reconnectAfterMs: delay, deadlineMs: delay * 4 }));
      const c = await conn.waitClosed(delay + ctx.slackMs + 1000);
      const beats = conn.bodies('heartbeat').length - beatsBefore;
      const closedAfter = Math.round(c.at - t0);
      ctx.note(`${beats} heartbeats during a ${delay} ms drain wait; closed ${c.code} after ${closedAfter} ms`);
      check(!c.byServer, 'the runner closed the connection, not the client');
      checkEqual(c.code, codeOf('GOING_AWAY'), 'close code at the drain slot');
      check(closedAfter >= delay - 20, `closed ${closedAfter} ms after the notice, before reconnect_after_ms ${delay} (DR-6)`);
      // 8 intervals of waiting: a client that stopped its heartbeats sends none (HB-5 while connected).
      check(beats >= 4, `only ${beats} heartbeats in a ${delay} ms wait at an interval of ${interval} ms: the client stopped being connected (DR-6)`);
      // The client's own reports, in its order: no state change before its own close at the slot.
      const after = client.events.slice(mark);
      const own = after.findIndex((t) => t.e.event === 'closed');
      const left = after.slice(0, own < 0 ? after.length : own).filter((t) => t.e.event === 'state' && t.e.state !== 'connected');
      check(left.length === 0, `the client reported state ${left.map((t) => (t.e.event === 'state' ? t.e.state : '')).join(', ')} before its slot (DR-6: it stays connected)`);
      const at = await attempt(ctx, 2, ctx.slackMs + 2000);
      const reconnected = Math.round(at - t0);
      check(reconnected <= delay + ctx.slackMs, `reconnected ${reconnected} ms after the notice > reconnect_after_ms ${delay} + slack ${ctx.slackMs}: not at once (DR-6)`);
    },
  }),
  clientCase({
    id: 'HS-10/token-fetch-within-handshake-timeout',
    spec: ['HS-10', 'RC-5'],
    level: 'MUST',
    requires: ['client-token'],
    description: 'a token request left unanswered fails its attempt at the handshake timeout (one deadline per attempt covers the token fetch): the client reconnects and asks again',
    async run(ctx) {
      const t = ctx.client.handshakeTimeoutMs;
      const hold = 2 * t + ctx.slackMs; // answered, but long after the deadline
      const client = await ctx.start({ connect: false });
      client.holdTokens = 1;
      client.holdTokenMs = hold;
      client.command({ cmd: 'connect' });
      const req = await client.until((e) => e.event === 'tokenRequest', 5000, 'the first tokenRequest');
      const gaveUp = await client.until((e) => e.event === 'state' && e.state !== 'connecting', hold + 1000, 'the client leaving connecting');
      const elapsed = Math.round(gaveUp.at - req.at);
      ctx.note(`left connecting ${elapsed} ms after its unanswered tokenRequest (handshake timeout ${t} ms)`);
      check(gaveUp.e.event === 'state' && gaveUp.e.state !== 'connected', 'connected without a token');
      check(elapsed <= t + ctx.slackMs, `still connecting ${elapsed} ms after an unanswered tokenRequest > handshake timeout ${t} + slack ${ctx.slackMs} (HS-10)`);
      check(elapsed >= t * 0.5, `gave the token fetch up after ${elapsed} ms, before half the declared handshake timeout`);
      await client.until((e) => e.event === 'tokenRequest', backoffBoundMs(ctx, 0) + 2000, 'a second tokenRequest', client.events.indexOf(gaveUp));
    },
  }),
  clientCase({
    id: 'SD-1/patch-without-snapshot-is-drift',
    spec: ['SD-1', 'SD-2'],
    level: 'MUST',
    requires: ['client-state'],
    description: 'a channel without a Snapshot is at version 0, empty: a patch from 0 applies; a patch from 5 is a VERSION_GAP drift (actual 0), never a close',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-v0' });
      conn.send(envelope('statePatch', { seq: 1n, channel: 'conf.fresh', baseVersion: 0n, version: 1n, delta: enc('first') }));
      await client.until(() => lastChannel(client, 'conf.fresh')?.version === 1n, 1000 + ctx.slackMs, 'the patch from version 0 applied (SD-1)');
      checkEqual(lastChannel(client, 'conf.fresh')?.state, 'first', 'state after the first patch');
      conn.send(envelope('statePatch', { seq: 2n, channel: 'conf.unknown', baseVersion: 5n, version: 6n, delta: enc('six') }));
      const drift = await conn.untilFrame(() => conn.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'StateDrift VERSION_GAP');
      checkEqual(drift.channel, 'conf.unknown', 'StateDrift.channel');
      checkEqual(drift.reason, DriftReason.VERSION_GAP, 'StateDrift.reason');
      checkEqual(drift.actualVersion, 0n, 'StateDrift.actual_version of a channel without a Snapshot');
      await sleep(50);
      check(!conn.closed, `closed ${conn.closed?.code} on a patch it could not chain: drift is not a protocol error (SD-1)`);
    },
  }),
];
