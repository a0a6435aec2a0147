/**
 * Server cases for answers spec 1.1 settled (issue 18): a drift on a channel without state
 * (SD-5, SD-1: every channel starts at version 0, empty). Expectations come from the spec's prose.
 */
import { BackpressurePolicy, DriftReason, SnapshotReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { envelope, isRefusal, openPeer } from '../../server-mode/peer.js';
import { bytesOf, expectClose, messagesOf, publishN, roundTrip, serverCase, session, sleep, type ServerCase } from './util.js';

export const specAnswerServerCases: ServerCase[] = [
  serverCase({
    id: 'SD-5/drift-on-stateless-channel',
    spec: ['SD-5', 'SD-1'],
    level: 'MUST',
    requires: ['state'],
    description: 'a StateDrift for a subscribed channel never patched gets a Snapshot at version 0 with the empty state; one for a channel not subscribed gets nothing and no close',
    async run(ctx) {
      const quiet = ctx.channel('never-patched');
      const { peer } = await session(ctx, [quiet]);
      await roundTrip(peer);
      checkEqual(peer.bodies('snapshot').length, 0, 'Snapshots on subscribe to a channel never patched (§12.3)');
      peer.send(envelope('stateDrift', { channel: ctx.channel('not-subscribed'), reason: DriftReason.VERSION_GAP, expectedVersion: 3n }));
      peer.send(envelope('stateDrift', { channel: quiet, reason: DriftReason.VERSION_GAP, expectedVersion: 3n }));
      const snap = await peer.until(() => peer.bodies('snapshot').find((s) => s.channel === quiet), 2000 + ctx.slackMs, 'a Snapshot of the channel without state (SD-5)');
      checkEqual(snap.version, 0n, 'Snapshot.version of a channel never patched (SD-1)');
      checkEqual(snap.state.length, 0, 'Snapshot.state length of a channel never patched');
      checkEqual(snap.reason, SnapshotReason.DRIFT, 'Snapshot.reason');
      await roundTrip(peer);
      check(!peer.closed, `closed ${peer.closed?.code} on a StateDrift for a channel not subscribed`);
      const others = peer.bodies('snapshot').filter((s) => s.channel !== quiet);
      checkEqual(others.length, 0, 'Snapshots for a channel not subscribed');
    },
  }),
  serverCase({
    id: 'HS-13/used-ticket-not-rescued-by-headers',
    spec: ['HS-13', 'HS-4'],
    level: 'MUST',
    requires: ['tickets', 'upgrade-auth'],
    description: 'a ticket presented a second time gets 401 even when the same upgrade also carries valid credentials: the ticket alone decides (§5.4.2)',
    async run(ctx) {
      const { param, ticket } = await ctx.hooks.ticket();
      const sep = ctx.url.includes('?') ? '&' : '?';
      const url = `${ctx.url}${sep}${encodeURIComponent(param)}=${encodeURIComponent(ticket)}`;
      const first = await openPeer(url, 't1', ctx.transcript, { headers: ctx.authHeaders, transport: ctx.transport });
      if (isRefusal(first)) throw new CaseFailure(`first use of a fresh ticket refused with HTTP ${first.status}`);
      ctx.defer(() => first.destroy());
      const second = await openPeer(url, 't2', ctx.transcript, { headers: ctx.authHeaders, transport: ctx.transport });
      if (!isRefusal(second)) {
        second.destroy();
        throw new CaseFailure('a used ticket was accepted because valid headers came with it (HS-13)');
      }
      checkEqual(second.status, 401, 'second use of a ticket, with valid headers');
    },
  }),
  serverCase({
    id: 'BP-5/window-zero-means-256',
    spec: ['BP-5', 'BP-1'],
    level: 'MUST',
    requires: ['publish', 'policy:DROP_NEWEST'],
    description: 'a Hello with receive_window 0 gets the §17 default window, 256 (bounded by the declared replay window): exactly that many unacked messages, not more, not fewer',
    async run(ctx) {
      const ch = ctx.channel();
      const peer = await ctx.peer();
      await peer.handshake({ channels: [ch], receiveWindow: 0, preferredPolicy: BackpressurePolicy.DROP_NEWEST });
      const window = Math.min(256, ctx.server.replayWindowMessages);
      await publishN(ctx, ch, window + 40);
      await peer.until(() => peer.sequenced().length >= window, 3000 + ctx.slackMs, `${window} messages in flight`);
      await sleep(100);
      checkEqual(peer.sequenced().length, window, 'messages in flight with receive_window 0 and no ack (BP-5: 0 means 256)');
    },
  }),
  serverCase({
    id: 'BP-8/coalesce-below-the-limit',
    spec: ['BP-8', 'BP-10'],
    level: 'MUST',
    requires: ['publish', 'policy:COALESCE_BY_KEY'],
    description: 'COALESCE_BY_KEY replaces a queued value of the same key even when the queue is far from full, and the replaced value counts in dropped_before',
    async run(ctx) {
      const ch = ctx.channel();
      const peer = await ctx.peer();
      await peer.handshake({ channels: [ch], receiveWindow: 1, preferredPolicy: BackpressurePolicy.COALESCE_BY_KEY });
      await ctx.hooks.publish(ch, [{ payload: bytesOf('head') }]); // in flight: the window of 1 is full
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000 + ctx.slackMs, 'the first message');
      await ctx.hooks.publish(ch, [{ payload: bytesOf('v1'), key: 'k' }, { payload: bytesOf('v2'), key: 'k' }]); // 2 of a limit ≥ 2: not full
      await sleep(30);
      peer.send(envelope('ack', { seq: messagesOf(peer, ch)[0]?.seq ?? 1n }));
      await peer.until(() => messagesOf(peer, ch).length >= 2, 2000 + ctx.slackMs, 'the coalesced value');
      const second = messagesOf(peer, ch)[1];
      checkEqual(second?.text, 'v2', 'the value delivered for key k (BP-8: the latest, replaced in place)');
      checkEqual(second?.droppedBefore, 1, 'dropped_before of the coalesced value (the replaced v1 counts, BP-10)');
      peer.send(envelope('ack', { seq: second?.seq ?? 2n }));
      await roundTrip(peer);
      await sleep(50);
      check(!messagesOf(peer, ch).some((m) => m.text === 'v1'), 'v1 was delivered: the queue held two values of one key');
    },
  }),
  serverCase({
    id: 'DR-4/handshaking-socket-closed-1012',
    spec: ['DR-4', 'DR-2'],
    level: 'MUST',
    requires: ['drain'],
    destructive: true,
    description: 'a connection still before its Hello when the drain starts gets no DrainNotice: it is closed with SERVICE_RESTART (1012) at once, not left to its handshake timeout',
    async run(ctx) {
      const d = ctx.server.drain ?? { deadlineMs: 1000, spreadMs: 500 };
      const peer = await ctx.peer({ heartbeatMs: 0 }); // upgraded, no Hello
      await sleep(20);
      const t0 = performance.now();
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      const closed = await expectClose(peer, ['SERVICE_RESTART'], Math.max(d.deadlineMs, ctx.server.handshakeTimeoutMs) + ctx.slackMs);
      const elapsed = Math.round(performance.now() - t0);
      ctx.note(`closed ${elapsed} ms after the drain began (handshake timeout ${ctx.server.handshakeTimeoutMs} ms)`);
      checkEqual(peer.bodies('drainNotice').length, 0, 'DrainNotices to a connection without a session');
      check(elapsed < Math.min(d.deadlineMs, ctx.server.handshakeTimeoutMs), `closed only after ${elapsed} ms: not at once (§13.2)`);
    },
  }),
];
