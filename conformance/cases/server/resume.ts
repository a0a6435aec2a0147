/**
 * Resume (spec §9): replay and snapshot paths, expiry, takeover, reconciled
 * subscriptions; channels (§12).
 */
import { ResumeOutcome, ResumeReason, SnapshotReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { check, checkEqual } from '../../framework/failure.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Peer } from '../../server-mode/peer.js';
import { bytesOf, expectClose, messagesOf, publishN, roundTrip, serverCase, session, sleep, type ServerCase } from './util.js';

/** A session that received n messages of `ch` without acking them, then vanished. */
async function detached(ctx: ServerCaseContext, channels: string[], ch: string, n: number) {
  const { peer, welcome } = await session(ctx, channels);
  if (n > 0) {
    await publishN(ctx, ch, n);
    await peer.until(() => messagesOf(peer, ch).length >= n, 2000, `${n} messages`);
  }
  const last = peer.sequenced().reduce((a, s) => (s.seq > a ? s.seq : a), 0n);
  peer.vanish();
  await peer.waitClose(1000);
  return { sessionId: welcome.sessionId, last };
}

async function resume(ctx: ServerCaseContext, sessionId: string, lastServerSeq: bigint, channels: string[]): Promise<{ peer: Peer; welcome: Awaited<ReturnType<Peer['handshake']>> }> {
  const peer = await ctx.peer();
  const welcome = await peer.handshake({ sessionId, lastServerSeq, channels });
  return { peer, welcome };
}

const outcomeName = (o: number | undefined) => ResumeOutcome[o ?? 0] ?? String(o);
const reasonName = (o: number | undefined) => ResumeReason[o ?? 0] ?? String(o);

export const resumeCases: ServerCase[] = [
  serverCase({
    id: 'RS-2/replay-after-silent-drop',
    spec: ['RS-2', 'RS-5', 'SEQ-7'],
    level: 'MUST',
    requires: ['publish', 'resume'],
    description: 'after a silent drop, a resume replays the unacked and the missed messages in order with their original seq, as Welcome says',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer: first, welcome } = await session(ctx, [ch]);
      await publishN(ctx, ch, 5);
      await first.until(() => messagesOf(first, ch).length >= 5, 2000, '5 messages');
      first.send(envelope('ack', { seq: 2n }));
      await roundTrip(first);
      first.vanish();
      await first.waitClose(1000);
      await publishN(ctx, ch, 3, 'm', 5);
      // the client processed 1..3, acked 1..2: the server must resume from 4
      const { peer, welcome: w } = await resume(ctx, welcome.sessionId, 3n, [ch]);
      checkEqual(outcomeName(w.resume?.outcome), 'RESUMED', 'Welcome.resume.outcome');
      checkEqual(w.resume?.fromSeq, 4n, 'Welcome.resume.from_seq');
      checkEqual(w.sessionId, welcome.sessionId, 'session id');
      await peer.until(() => messagesOf(peer, ch).length >= 5, 2000, 'the replay and the missed messages');
      await sleep(50);
      const got = messagesOf(peer, ch);
      checkEqual(got.map((m) => `${m.seq}:${m.text}`).join(','), '4:m3,5:m4,6:m5,7:m6,8:m7', 'seq:payload after resume');
      // RS-5 leaves open whether messages queued while detached count as replayed: accept 2 (sent before the drop) to 5 (all that follow)
      const replayed = w.resume?.replayed ?? 0;
      check(replayed >= 2 && replayed <= 5, `Welcome.resume.replayed is ${replayed}; 2 were sent before the drop, 5 follow (RS-5)`);
    },
  }),
  serverCase({
    id: 'RS-3+RS-4/trimmed-replay-snapshot',
    spec: ['RS-3', 'RS-4', 'RS-5'],
    level: 'MUST',
    requires: ['publish', 'state', 'resume'],
    description: 'a resume that needs messages already released (acked, trimmed) answers SNAPSHOT, replays nothing partially, and sends a Snapshot before any Message',
    async run(ctx) {
      const ch = ctx.channel('msgs');
      const st = ctx.channel('state');
      await ctx.hooks.patch(st, bytesOf('{"v":1}'));
      const { peer: first, welcome } = await session(ctx, [ch, st]);
      await first.until(() => first.bodies('snapshot').some((s) => s.channel === st), 2000, 'Snapshot of the state channel');
      await publishN(ctx, ch, 6);
      await first.until(() => messagesOf(first, ch).length >= 6, 2000, '6 messages');
      const last = first.sequenced().reduce((a, s) => (s.seq > a ? s.seq : a), 0n);
      first.send(envelope('ack', { seq: last }));
      await roundTrip(first);
      first.vanish();
      await first.waitClose(1000);
      await ctx.hooks.patch(st, bytesOf('{"v":2}'));
      // the client lost its state and asks from seq 2: seqs 2..last were acked and released (RS-3)
      const { peer, welcome: w } = await resume(ctx, welcome.sessionId, 1n, [ch, st]);
      checkEqual(outcomeName(w.resume?.outcome), 'SNAPSHOT', 'Welcome.resume.outcome');
      checkEqual(reasonName(w.resume?.reason), 'REPLAY_WINDOW_EXCEEDED', 'Welcome.resume.reason');
      checkEqual(w.resume?.replayed, 0, 'Welcome.resume.replayed on a SNAPSHOT');
      await peer.until(() => peer.bodies('snapshot').some((s) => s.channel === st), 2000, 'Snapshot of the state channel');
      await roundTrip(peer);
      const seq = peer.sequenced();
      const firstSnap = seq.findIndex((s) => s.env.body.case === 'snapshot');
      const firstOther = seq.findIndex((s) => s.env.body.case !== 'snapshot');
      check(firstOther === -1 || firstSnap < firstOther, `a ${seq[firstOther]?.env.body.case} arrived before the Snapshot (RS-4)`);
      checkEqual(messagesOf(peer, ch).length, 0, 'old messages replayed on a SNAPSHOT resume (partial replay, RS-3)');
      checkEqual(seq[0]?.seq, w.resume?.fromSeq, 'seq of the first Snapshot vs Welcome.resume.from_seq (RS-5)');
      check((seq[0]?.seq ?? 0n) > last, `the snapshot reuses seq ${seq[0]?.seq} (≤ ${last} already sent, SEQ-2)`);
      const snap = peer.bodies('snapshot').find((s) => s.channel === st);
      checkEqual(new TextDecoder().decode(snap?.state), '{"v":2}', 'Snapshot state is the current one');
    },
  }),
  serverCase({
    id: 'RS-8/client-ahead-snapshot',
    spec: ['RS-8'],
    level: 'MUST',
    requires: ['publish', 'resume'],
    description: 'a Hello whose last_server_seq is beyond anything sent gets SNAPSHOT with reason CLIENT_AHEAD',
    async run(ctx) {
      const ch = ctx.channel();
      const { sessionId, last } = await detached(ctx, [ch], ch, 2);
      const { welcome: w } = await resume(ctx, sessionId, last + 50n, [ch]);
      checkEqual(outcomeName(w.resume?.outcome), 'SNAPSHOT', 'Welcome.resume.outcome');
      checkEqual(reasonName(w.resume?.reason), 'CLIENT_AHEAD', 'Welcome.resume.reason');
    },
  }),
  serverCase({
    id: 'RS-6/unknown-session-new',
    spec: ['RS-6'],
    level: 'MUST',
    requires: ['state'],
    description: 'an unknown session id gets a NEW session (UNKNOWN_SESSION) with a Snapshot of each Hello channel',
    async run(ctx) {
      const st = ctx.channel('state');
      await ctx.hooks.patch(st, bytesOf('{"n":1}'));
      const peer = await ctx.peer();
      const w = await peer.handshake({ sessionId: 'no-such-session-zz', lastServerSeq: 12n, channels: [st] });
      checkEqual(outcomeName(w.resume?.outcome), 'NEW', 'Welcome.resume.outcome');
      checkEqual(reasonName(w.resume?.reason), 'UNKNOWN_SESSION', 'Welcome.resume.reason');
      check(w.sessionId !== 'no-such-session-zz', 'the NEW session kept the unknown id');
      await peer.until(() => peer.bodies('snapshot').some((s) => s.channel === st), 2000, 'Snapshot of the Hello channel');
      checkEqual(peer.sequenced()[0]?.seq, 1n, 'seq of the first message of a NEW session');
    },
  }),
  serverCase({
    id: 'RS-6/expired-session',
    spec: ['RS-6', 'RS-1'],
    level: 'MUST',
    requires: ['resume'],
    description: 'a session detached for longer than resume_ttl_ms is gone: NEW with reason EXPIRED or UNKNOWN_SESSION',
    async run(ctx) {
      const ch = ctx.channel();
      const { sessionId } = await detached(ctx, [ch], ch, 0);
      // over HTTP the server learns of the vanished client one receive gap later (HT-12): the TTL starts then
      await sleep(ctx.silentDropMs + ctx.server.resumeTtlMs + ctx.slackMs + ctx.server.heartbeatIntervalMs);
      const { welcome: w } = await resume(ctx, sessionId, 0n, [ch]);
      checkEqual(outcomeName(w.resume?.outcome), 'NEW', `resume after ${ctx.server.resumeTtlMs} ms + slack: outcome`);
      check(['EXPIRED', 'UNKNOWN_SESSION'].includes(reasonName(w.resume?.reason)), `reason ${reasonName(w.resume?.reason)}`);
    },
  }),
  serverCase({
    id: 'RS-1/kept-within-ttl',
    spec: ['RS-1'],
    level: 'MUST',
    requires: ['resume'],
    description: 'a session detached for half its resume_ttl_ms resumes (RESUMED)',
    async run(ctx) {
      const ch = ctx.channel();
      const { sessionId, last } = await detached(ctx, [ch], ch, 1);
      await sleep(ctx.server.resumeTtlMs / 2);
      const { welcome: w } = await resume(ctx, sessionId, last, [ch]);
      checkEqual(outcomeName(w.resume?.outcome), 'RESUMED', 'Welcome.resume.outcome');
    },
  }),
  serverCase({
    id: 'RS-1/normal-close-ends-session',
    spec: ['RS-1', 'CC-6'],
    level: 'MUST',
    requires: ['resume'],
    description: 'a session the client closed with NORMAL (1000) is not resumable: its advice resets the session',
    async run(ctx) {
      const { peer, welcome } = await session(ctx, []);
      peer.close(1000, 'bye');
      await peer.waitClose(1000);
      await sleep(50);
      const { welcome: w } = await resume(ctx, welcome.sessionId, 0n, []);
      checkEqual(outcomeName(w.resume?.outcome), 'NEW', 'outcome after a NORMAL close');
    },
  }),
  serverCase({
    id: 'RS-7/takeover-4002',
    spec: ['RS-7'],
    level: 'MUST',
    requires: ['resume'],
    description: 'resuming a session that still has a socket closes the older socket with SESSION_TAKEN_OVER (4002)',
    async run(ctx) {
      const { peer: a, welcome } = await session(ctx, []);
      const { welcome: w } = await resume(ctx, welcome.sessionId, 0n, []);
      checkEqual(outcomeName(w.resume?.outcome), 'RESUMED', 'outcome of the takeover');
      await expectClose(a, ['SESSION_TAKEN_OVER'], 2000);
    },
  }),
  serverCase({
    id: 'RS-9+CH-3/subscriptions-reconciled',
    spec: ['RS-9', 'CH-3', 'CH-1'],
    level: 'MUST',
    requires: ['publish', 'state', 'resume'],
    description: 'a resume makes the subscriptions equal to Hello.channels: kept ones keep flowing, added ones get a Snapshot, dropped ones stop',
    async run(ctx) {
      const a = ctx.channel('a');
      const b = ctx.channel('b');
      const s = ctx.channel('s');
      await ctx.hooks.patch(s, bytesOf('{"s":1}'));
      const { sessionId, last } = await detached(ctx, [a, b], a, 1);
      const { peer } = await resume(ctx, sessionId, last, [a, s]);
      await peer.until(() => peer.bodies('snapshot').some((x) => x.channel === s), 2000, 'Snapshot of the added channel');
      await publishN(ctx, a, 1, 'a');
      await publishN(ctx, b, 1, 'b');
      await peer.until(() => messagesOf(peer, a).length >= 1, 2000, 'message on the kept channel');
      await roundTrip(peer);
      await sleep(30);
      checkEqual(messagesOf(peer, b).length, 0, 'messages of the channel Hello no longer lists');
    },
  }),
  serverCase({
    id: 'CH-1/snapshot-before-patch',
    spec: ['CH-1'],
    level: 'MUST',
    requires: ['state'],
    description: 'Subscribe to a state channel gets a Snapshot (SUBSCRIBED) before any StatePatch of it',
    async run(ctx) {
      const st = ctx.channel('state');
      await ctx.hooks.patch(st, bytesOf('{"x":1}'));
      const { peer } = await session(ctx, []);
      peer.send(envelope('subscribe', { channels: [st] }));
      await roundTrip(peer); // the Subscribe is in effect before the patch (over HTTP a send is a request of its own)
      await ctx.hooks.patch(st, bytesOf('{"x":2}'));
      await peer.until(() => peer.bodies('statePatch').some((p) => p.channel === st) && peer.bodies('snapshot').some((p) => p.channel === st), 2000, 'Snapshot and StatePatch');
      const order = peer.sequenced().filter((x) => (x.env.body.value as { channel?: string }).channel === st).map((x) => x.env.body.case);
      checkEqual(order[0], 'snapshot', 'first frame of the new channel');
      const snap = peer.bodies('snapshot').find((x) => x.channel === st);
      checkEqual(snap?.reason, SnapshotReason.SUBSCRIBED, 'Snapshot.reason');
      const patch = peer.bodies('statePatch').find((x) => x.channel === st);
      checkEqual(patch?.baseVersion, snap?.version, 'the patch applies to the snapshot version');
    },
  }),
  serverCase({
    id: 'CH-2/unsubscribe-stops',
    spec: ['CH-2'],
    level: 'MUST',
    requires: ['publish'],
    description: 'after Unsubscribe is processed, no further message of that channel arrives',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch]);
      await publishN(ctx, ch, 1);
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'first message');
      peer.send(envelope('unsubscribe', { channels: [ch] }));
      await roundTrip(peer); // frames are processed in order: the Unsubscribe is done
      await publishN(ctx, ch, 3, 'late');
      await sleep(100);
      await roundTrip(peer);
      checkEqual(messagesOf(peer, ch).length, 1, 'messages after Unsubscribe');
    },
  }),
  serverCase({
    id: 'CH-4/subscribe-confirmed-before-publish',
    spec: ['CH-4', 'WIRE-10'],
    level: 'MUST',
    requires: ['publish', 'subscribed'],
    description:
      'with subscribed announced, Welcome states it and each Subscribe gets one Subscribed listing its channels, in order; a publish made once the Subscribed arrived reaches the session',
    async run(ctx) {
      const a = ctx.channel('a');
      const b = ctx.channel('b');
      const c = ctx.channel('c');
      const { peer, welcome } = await session(ctx, [], { capabilities: ['subscribed'] });
      check(welcome.capabilities.includes('subscribed'), `Welcome.capabilities lists subscribed (got ${JSON.stringify(welcome.capabilities)})`);
      peer.send(envelope('subscribe', { channels: [a, b] }));
      peer.send(envelope('subscribe', { channels: [c] }));
      await peer.until(() => (peer.bodies('subscribed').length >= 2 ? true : peer.closed ? 'closed' : undefined), 2000, 'a Subscribed for each Subscribe');
      const [first, second] = peer.bodies('subscribed');
      checkEqual([...(first?.channels ?? [])].sort().join(' '), [a, b].sort().join(' '), 'channels of the first Subscribed');
      checkEqual((second?.channels ?? []).join(' '), c, 'channels of the second Subscribed');
      // Published only now that the Subscribed arrived: CH-4 says it reaches the session.
      await publishN(ctx, b, 1, 'after-confirm');
      await publishN(ctx, c, 1, 'after-confirm');
      await peer.until(() => messagesOf(peer, b).length >= 1 && messagesOf(peer, c).length >= 1, 2000, 'the messages published after the Subscribed');
    },
  }),
  serverCase({
    id: 'WIRE-10/no-subscribed-unless-announced',
    spec: ['WIRE-10', 'CH-4'],
    level: 'MUST',
    requires: ['publish'],
    description: 'a client that did not announce subscribed gets no Subscribed body (added after v1) and no subscribed in Welcome.capabilities; its Subscribe still takes effect',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer, welcome } = await session(ctx, [], { capabilities: ['state', 'drain'] });
      check(!welcome.capabilities.includes('subscribed'), `Welcome.capabilities without subscribed (got ${JSON.stringify(welcome.capabilities)})`);
      peer.send(envelope('subscribe', { channels: [ch] }));
      await roundTrip(peer); // frames are processed in order: the Subscribe is done
      await publishN(ctx, ch, 1);
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'the message of the subscribed channel');
      await roundTrip(peer);
      checkEqual(peer.bodies('subscribed').length, 0, 'Subscribed bodies sent to a client that did not announce subscribed');
    },
  }),
  serverCase({
    id: 'CH-2/unsubscribe-drops-queued',
    spec: ['CH-2', 'SEQ-2'],
    level: 'MUST',
    requires: ['publish'],
    description: 'items of a channel still queued, not yet numbered, when Unsubscribe is processed are removed: after the window reopens none of them arrives',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch], { receiveWindow: 1 });
      await publishN(ctx, ch, 4, 'q');
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'the first message (the window of 1 holds the other 3 in the queue)');
      await roundTrip(peer);
      peer.send(envelope('unsubscribe', { channels: [ch] }));
      await roundTrip(peer); // frames are processed in order: the Unsubscribe is done
      const top = peer.sequenced().reduce((a, x) => (x.seq > a ? x.seq : a), 0n);
      peer.send(envelope('ack', { seq: top })); // the window reopens: anything still queued would go out now
      await sleep(100 + ctx.server.ackDelayMs);
      await roundTrip(peer);
      const got = messagesOf(peer, ch).map((m) => m.text);
      checkEqual(got.join(','), 'q0', 'messages of the channel after Unsubscribe (§12.3: queued items of it are removed)');
    },
  }),
  serverCase({
    id: 'RS-4/snapshot-resume-keeps-queued',
    spec: ['RS-4', 'RS-3', 'SEQ-2'],
    level: 'MUST',
    requires: ['publish', 'state', 'resume'],
    description: 'a SNAPSHOT resume loses the sent, unacked Messages but not the queued ones (never numbered, §9.4): they follow the Snapshots in order, on fresh seqs; a channel the Hello adds gets its Snapshot too',
    async run(ctx) {
      const ch = ctx.channel('msgs');
      const st = ctx.channel('state');
      const added = ctx.channel('added');
      await ctx.hooks.patch(st, bytesOf('{"v":1}'));
      await ctx.hooks.patch(added, bytesOf('{"a":1}'));
      const { peer: first, welcome } = await session(ctx, [ch, st], { receiveWindow: 2 });
      await first.until(() => first.bodies('snapshot').some((x) => x.channel === st), 2000, 'Snapshot of the state channel');
      const snapSeq = first.sequenced()[0]?.seq ?? 1n;
      first.send(envelope('ack', { seq: snapSeq })); // released: a resume from before it cannot replay (RS-3)
      await roundTrip(first);
      await publishN(ctx, ch, 6, 'q');
      // a window of 2: q0 and q1 are numbered and sent, q2..q5 wait in the queue, never numbered (§7.2)
      await first.until(() => messagesOf(first, ch).length >= 2, 2000, 'the first two messages (window 2)');
      await roundTrip(first);
      checkEqual(messagesOf(first, ch).length, 2, 'messages sent within a window of 2');
      first.vanish();
      await first.waitClose(1000);
      const peer = await ctx.peer();
      const w = await peer.handshake({ sessionId: welcome.sessionId, lastServerSeq: 0n, channels: [ch, st, added], receiveWindow: 64 });
      checkEqual(ResumeOutcome[w.resume?.outcome ?? 0], 'SNAPSHOT', 'Welcome.resume.outcome (seq 1 was acked and released)');
      await peer.until(() => messagesOf(peer, ch).length >= 4, 2000, 'the four queued messages after the Snapshots');
      await roundTrip(peer);
      const seq = peer.sequenced();
      const got = messagesOf(peer, ch).map((m) => m.text);
      checkEqual(got.join(','), 'q2,q3,q4,q5', 'messages after a SNAPSHOT resume: the queued ones, in order, and not the lost q0, q1 (§9.4)');
      for (const c of [st, added]) {
        const i = seq.findIndex((x) => x.env.body.case === 'snapshot' && x.env.body.value.channel === c);
        const firstMsg = seq.findIndex((x) => x.env.body.case === 'message');
        check(i >= 0, `no Snapshot of ${c} after the SNAPSHOT resume (RS-4)`);
        check(i < firstMsg, `the Snapshot of ${c} came after a Message (RS-4)`);
      }
      check((seq[0]?.seq ?? 0n) > 3n, `the resume reuses seq ${seq[0]?.seq}: 1..3 were already sent (SEQ-2)`);
    },
  }),
];
