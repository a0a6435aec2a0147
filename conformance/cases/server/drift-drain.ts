/**
 * Drift and resync (spec §10), drain (§13), and server-sent close codes that
 * need a hook (§14, §16).
 */
import { BackpressurePolicy, DriftReason, SnapshotReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, isRefusal, type Peer } from '../../server-mode/peer.js';
import { rawEnvelope } from '../../wire.js';
import { checkWithin } from '../timing.js';
import { bytesOf, checkClose, expectClose, messagesOf, publishN, roundTrip, serverCase, session, sleep, type ServerCase } from './util.js';

function drainOf(ctx: ServerCaseContext) {
  return ctx.server.drain ?? { deadlineMs: 1000, spreadMs: 500 };
}

/** A session on two state channels, a and b, holding their initial Snapshots. */
async function twoStateChannels(ctx: ServerCaseContext): Promise<{ a: string; b: string; peer: Peer }> {
  const a = ctx.channel('a');
  const b = ctx.channel('b');
  await ctx.hooks.patch(a, bytesOf('A1'));
  await ctx.hooks.patch(b, bytesOf('B1'));
  const { peer } = await session(ctx, [a, b]);
  await peer.until(() => peer.bodies('snapshot').length >= 2, 2000, 'initial Snapshots');
  return { a, b, peer };
}

export const driftCases: ServerCase[] = [
  serverCase({
    id: 'SD-5/drift-answered-with-snapshot',
    spec: ['SD-5'],
    level: 'MUST',
    requires: ['state'],
    description: 'a StateDrift for a channel gets a Snapshot (DRIFT) of it; an empty-channel StateDrift gets every channel and a session Snapshot',
    async run(ctx) {
      const { a, b, peer } = await twoStateChannels(ctx);
      peer.send(envelope('stateDrift', { channel: a, reason: DriftReason.VERSION_GAP, expectedVersion: 1n, actualVersion: 0n }));
      const drift = await peer.until(() => peer.bodies('snapshot').find((s) => s.channel === a && s.reason === SnapshotReason.DRIFT), 2000, 'Snapshot DRIFT of the channel');
      checkEqual(new TextDecoder().decode(drift.state), 'A1', 'state in the DRIFT Snapshot');
      const before = peer.bodies('snapshot').length;
      peer.send(envelope('stateDrift', { channel: '', reason: DriftReason.SEQ_GAP }));
      await peer.until(() => peer.bodies('snapshot').slice(before).some((s) => s.channel === ''), 2000, 'the session Snapshot (empty channel)');
      // issue 18: decide only once the follow-up channel Snapshots had their time to arrive
      const all = () => {
        const after = peer.bodies('snapshot').slice(before);
        return after.some((s) => s.channel === a) && after.some((s) => s.channel === b);
      };
      await peer.until(() => all() || (peer.closed ? 'closed' : undefined), 2000 + ctx.slackMs, 'a Snapshot of each subscribed channel after an empty-channel StateDrift').catch(() => undefined);
      check(all(), 'an empty-channel StateDrift did not resend every subscribed channel (SD-5)');
    },
  }),
  serverCase({
    id: 'SD-11/session-snapshot-first',
    spec: ['SD-11', 'SD-5'],
    level: 'MUST',
    requires: ['state'],
    description: 'an empty-channel StateDrift is answered with the session Snapshot before any channel Snapshot, the session one at the lowest seq',
    async run(ctx) {
      const { peer } = await twoStateChannels(ctx);
      const before = peer.bodies('snapshot').length;
      peer.send(envelope('stateDrift', { channel: '', reason: DriftReason.SEQ_GAP }));
      await peer.until(() => peer.bodies('snapshot').slice(before).length >= 3, 2000, 'the session Snapshot and both channels');
      const after = peer.bodies('snapshot').slice(before);
      checkEqual(after[0]?.channel, '', 'channel of the first Snapshot after the StateDrift');
      const sessionSeq = after[0]?.seq ?? 0n;
      check(after.slice(1).every((s) => s.seq > sessionSeq), 'a channel Snapshot has a lower seq than the session Snapshot');
    },
  }),
  serverCase({
    id: 'SD-8/one-pending-snapshot',
    spec: ['SD-8', 'SD-7'],
    level: 'MUST',
    requires: ['state'],
    description: 'drifts reported while a snapshot is pending (window full) are coalesced into one Snapshot',
    async run(ctx) {
      const a = ctx.channel('a');
      await ctx.hooks.patch(a, bytesOf('A1'));
      const peer = await ctx.peer();
      await peer.handshake({ channels: [a], receiveWindow: 1, preferredPolicy: BackpressurePolicy.DROP_OLDEST });
      await peer.until(() => peer.sequenced().length >= 1, 2000, 'the first Snapshot');
      for (let i = 0; i < 5; i++) peer.send(envelope('stateDrift', { channel: a, reason: DriftReason.VERSION_GAP }));
      await roundTrip(peer);
      let acked = 0n;
      for (let i = 0; i < 10; i++) {
        const top = peer.sequenced().reduce((x, s) => (s.seq > x ? s.seq : x), 0n);
        if (top > acked) {
          peer.send(envelope('ack', { seq: top }));
          acked = top;
        }
        await sleep(30);
      }
      const drifts = peer.bodies('snapshot').filter((s) => s.channel === a && s.reason === SnapshotReason.DRIFT).length;
      check(drifts >= 1, 'no DRIFT Snapshot at all (SD-5)');
      check(drifts === 1, `${drifts} DRIFT Snapshots for 5 drifts reported while one was pending (SD-8)`);
    },
  }),
];

/** Open n sessions, each subscribed to its own channel. */
async function crowd(ctx: ServerCaseContext, n: number): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (let i = 0; i < n; i++) {
    const { peer } = await session(ctx, []);
    peers.push(peer);
  }
  return peers;
}

export const drainCases: ServerCase[] = [
  serverCase({
    id: 'HS-5/upgrade-rate-429',
    spec: ['HS-5'],
    level: 'MUST',
    requires: ['upgrade-rate-limit'],
    destructive: true,
    description: 'upgrades beyond the per-IP rate (switched on by reset limits) get 429 with Retry-After',
    async run(ctx) {
      const rate = ctx.server.upgradeRatePerSecond ?? 10;
      await ctx.hooks.reset({ upgradeRatePerSecond: rate });
      const first = await ctx.tryPeer();
      if (isRefusal(first)) throw new CaseFailure(`the first upgrade was refused with ${first.status}`);
      let refusal;
      for (let i = 0; i < rate * 4 && !refusal; i++) {
        const p = await ctx.tryPeer();
        if (isRefusal(p)) refusal = p;
        else p.destroy();
      }
      if (!refusal) throw new CaseFailure(`${rate * 4} upgrades in a burst at a declared ${rate}/s and no refusal`);
      checkEqual(refusal.status, 429, 'status of an upgrade over the rate');
      check(refusal.headers['retry-after'] !== undefined, '429 without Retry-After');
    },
  }),
  serverCase({
    id: 'CC-8/session-limit-1013',
    spec: ['CC-8'],
    level: 'MUST',
    requires: ['session-limit'],
    destructive: true,
    description: 'a session beyond the server\'s session limit (2, switched on by reset limits) is closed with TRY_AGAIN_LATER (1013)',
    async run(ctx) {
      await ctx.hooks.reset({ maxSessions: 2 });
      await session(ctx, []);
      await session(ctx, []);
      const third = await ctx.peer();
      third.hello({});
      await expectClose(third, ['TRY_AGAIN_LATER'], 2000);
    },
  }),
  serverCase({
    id: 'DR-1+HS-6/not-ready-then-503',
    spec: ['DR-1', 'HS-6'],
    level: 'MUST',
    requires: ['drain'],
    destructive: true,
    description: 'once draining, the server refuses upgrades with 503 and a Retry-After header',
    async run(ctx) {
      const d = drainOf(ctx);
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      const p = await ctx.tryPeer();
      if (!isRefusal(p)) throw new CaseFailure('an upgrade succeeded during a drain (HS-6)');
      checkEqual(p.status, 503, 'upgrade status while draining');
      check(p.headers['retry-after'] !== undefined, '503 without Retry-After');
    },
  }),
  serverCase({
    id: 'DR-2+DR-4/notice-then-1012',
    spec: ['DR-2', 'DR-4'],
    level: 'MUST',
    requires: ['drain', 'publish'],
    destructive: true,
    description: 'every session gets a DrainNotice before its close, its queue is flushed, and it is closed with SERVICE_RESTART (1012) by the deadline',
    async run(ctx) {
      const d = drainOf(ctx);
      const ch = ctx.channel();
      const peers: Peer[] = [];
      for (let i = 0; i < 4; i++) peers.push((await session(ctx, [ch], { receiveWindow: 64 })).peer);
      await publishN(ctx, ch, 3);
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      for (const p of peers) {
        const closed = await p.waitClose(d.deadlineMs + ctx.slackMs);
        checkClose(closed, ['SERVICE_RESTART']);
        const notice = p.frames.findIndex((f) => f.env.body.case === 'drainNotice');
        check(notice >= 0, `${p.label} closed without a DrainNotice (DR-2)`);
        checkEqual(messagesOf(p, ch).length, 3, `${p.label}: messages flushed before the close (DR-4)`);
      }
    },
  }),
  serverCase({
    id: 'DR-3/reconnect-after-spread',
    spec: ['DR-3'],
    level: 'MUST',
    requires: ['drain'],
    destructive: true,
    description: 'reconnect_after_ms values of one drain lie in the spread window, each its own slot: no 100 ms slice gets more than 1.5× its even share',
    async run(ctx) {
      const d = drainOf(ctx);
      const n = 16;
      const peers = await crowd(ctx, n);
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      const values: number[] = [];
      for (const p of peers) {
        const notice = await p.until(() => p.bodies('drainNotice')[0], d.deadlineMs + ctx.slackMs, 'DrainNotice');
        values.push(notice.reconnectAfterMs);
      }
      values.sort((x, y) => x - y);
      ctx.note(`reconnect_after_ms: ${values.join(' ')}`);
      for (const v of values) check(v <= d.spreadMs, `reconnect_after_ms ${v} beyond the spread window ${d.spreadMs}`);
      const slices = new Map<number, number>();
      for (const v of values) slices.set(Math.floor(v / 100), (slices.get(Math.floor(v / 100)) ?? 0) + 1);
      const share = (n * 100) / Math.max(100, d.spreadMs);
      const worst = Math.max(...slices.values());
      // DR-3's exact bound (§13.2): max(⌈e⌉, 1.5 e) clients, and counts are integers.
      const bound = Math.max(Math.ceil(share), Math.floor(1.5 * share + 1e-9));
      check(worst <= bound, `${worst} of ${n} clients in one 100 ms slice > ${bound}; even share ${share.toFixed(2)} (DR-3)`);
    },
  }),
  serverCase({
    id: 'DR-5/deadline-destroys',
    spec: ['DR-5', 'DR-4'],
    level: 'MUST',
    requires: ['drain', 'publish'],
    destructive: true,
    description: 'a session whose queue cannot flush (window full, no ack) is still closed by the drain deadline',
    async run(ctx) {
      const d = drainOf(ctx);
      const ch = ctx.channel();
      const peer = await ctx.peer();
      await peer.handshake({ channels: [ch], receiveWindow: 1 });
      await publishN(ctx, ch, 4);
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'first message');
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      // the hook resolves once the drain has started (spec/conformance-control.md §3): measured from
      // there, not from before the HTTP call, whose own latency (tens of ms under load) is not the server's
      const t0 = performance.now();
      const closed = await peer.waitClose(d.deadlineMs + ctx.slackMs + 1000);
      checkWithin(ctx, 'closed after the drain hook returned', closed.at - t0, { max: d.deadlineMs + ctx.slackMs }, 'DR-5');
      // issue 18: nor far earlier than the deadline its DrainNotice announced: the queue cannot flush, so
      // the server keeps trying until then (DR-4). A leftover timer of an older drain closes early. The
      // slack covers the runner reading the notice late (which makes the close look early).
      const noticeAt = peer.frames.find((f) => f.env.body.case === 'drainNotice');
      if (!noticeAt || noticeAt.env.body.case !== 'drainNotice') throw new CaseFailure('closed without a DrainNotice (DR-2)');
      const announced = noticeAt.env.body.value.deadlineMs;
      checkWithin(ctx, `closed after the DrainNotice announcing deadline_ms ${announced}`, closed.at - noticeAt.at, { min: announced - ctx.slackMs }, 'DR-4, DR-5');
    },
  }),
];

export const closeCodeCases: ServerCase[] = [
  serverCase({
    id: 'SEC-7/too-many-channels-1008',
    spec: ['SEC-7'],
    level: 'MUST',
    requires: ['channel-limit'],
    description: 'more channels than the declared per-session bound, in Hello or by Subscribe, closes POLICY_VIOLATION (1008); at the bound the session is served',
    async run(ctx) {
      const max = ctx.server.maxChannelsPerSession;
      if (!max) throw new CaseFailure('channel-limit is declared without maxChannelsPerSession');
      const names = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ctx.channel(`${tag}${i}`));
      const atBound = await ctx.peer();
      await atBound.handshake({ channels: names(max, 'b') });
      await roundTrip(atBound);
      atBound.send(envelope('subscribe', { channels: [ctx.channel('one-more')] }));
      await expectClose(atBound, ['POLICY_VIOLATION'], 2000);
      const over = await ctx.peer();
      over.hello({ channels: names(max + 1, 'o') });
      await expectClose(over, ['POLICY_VIOLATION'], 2000);
    },
  }),
  serverCase({
    id: 'SEC-6/revoke-4102',
    spec: ['SEC-6'],
    level: 'MUST',
    requires: ['revoke'],
    description: 'revoking the principal of a session closes it at once with REVOKED (4102)',
    async run(ctx) {
      const { peer, welcome } = await session(ctx, []);
      await ctx.hooks.revoke(welcome.sessionId);
      await expectClose(peer, ['REVOKED'], 1000 + ctx.slackMs);
    },
  }),
  serverCase({
    id: 'SEC-5/expired-credential-4100',
    spec: ['SEC-5'],
    level: 'MUST',
    requires: ['expire'],
    description: 'a session whose credential expired is closed with TOKEN_EXPIRED (4100) and may resume',
    async run(ctx) {
      const { peer, welcome } = await session(ctx, []);
      await ctx.hooks.expire(welcome.sessionId);
      await expectClose(peer, ['TOKEN_EXPIRED'], 1000 + ctx.slackMs);
      if (ctx.server.features.includes('resume')) {
        const again = await ctx.peer();
        const w = await again.handshake({ sessionId: welcome.sessionId });
        check(w.resume?.outcome !== 1, 'the session could not be resumed after TOKEN_EXPIRED, whose advice keeps it');
      }
    },
  }),
  serverCase({
    id: 'CC-5/application-failure-1011',
    spec: ['CC-5', 'SEC-4'],
    level: 'MUST',
    requires: ['throw'],
    description: 'when the application fails while serving a session, that session is closed with INTERNAL_ERROR (1011) and no other is disturbed',
    async run(ctx) {
      const b = await session(ctx, []);
      const { peer } = await session(ctx, []);
      peer.send(envelope('message', { seq: 1n, payload: bytesOf('lifeline-conformance:throw') }));
      await expectClose(peer, ['INTERNAL_ERROR'], 2000);
      await roundTrip(b.peer);
    },
  }),
  serverCase({
    id: 'CC-1/closes-are-registered',
    spec: ['CC-1'],
    level: 'MUST',
    description: 'every close the server sends for a protocol fault uses a registry code and a reason of at most 123 bytes',
    async run(ctx) {
      const faults: [string, (p: Peer) => void][] = [
        ['text frame', (p) => p.sendText('x'.repeat(200))],
        ['garbage', (p) => p.sendBytes(new Uint8Array(300).fill(0xff))],
        ['a long out-of-range channel', (p) => p.sendBytes(rawEnvelope('message', [{ no: 1, varint: 1 }, { no: 3, str: 'é'.repeat(400) }]))],
        ['an Ack far beyond', (p) => p.send(envelope('ack', { seq: 99_999_999n }))],
      ];
      for (const [what, fault] of faults) {
        const { peer } = await session(ctx, []);
        ctx.transcript.event('runner', what);
        fault(peer);
        const closed = await peer.waitClose(2000);
        checkClose(closed, ['UNSUPPORTED_DATA', 'INVALID_PAYLOAD', 'PROTOCOL_ERROR', 'MESSAGE_TOO_BIG']);
      }
    },
  }),
  serverCase({
    id: 'BP-14/message-rate-4203',
    spec: ['BP-14'],
    level: 'MUST',
    requires: ['message-rate-limit'],
    description: 'a client sending faster than the declared per-session message rate is closed with RATE_LIMITED (4203)',
    async run(ctx) {
      const rate = ctx.server.messageRatePerSecond ?? 100;
      const { peer } = await session(ctx, []);
      const window = Math.max(1, peer.bodies('welcome')[0]?.receiveWindow ?? 64);
      let seq = 0;
      const end = performance.now() + 3000;
      // stay inside the server's receive window (BP-1) and still exceed the rate
      while (!peer.closed && performance.now() < end) {
        const acked = peer.bodies('ack').reduce((a, x) => (x.seq > a ? x.seq : a), 0n);
        while (BigInt(seq) - acked < BigInt(window) && seq < rate * 4) {
          seq++;
          peer.send(envelope('message', { seq: BigInt(seq), payload: bytesOf('x') }));
        }
        await sleep(5);
      }
      if (!peer.closed) throw new CaseFailure(`${seq} messages in 3 s at a declared limit of ${rate}/s and no 4203`);
      checkClose(peer.closed, ['RATE_LIMITED']);
    },
  }),
];
