/**
 * Backpressure (spec §11): with a receive window of 1 and no ack, the session's
 * queue fills; each policy must keep its promise when the client acks again.
 */
import { BackpressurePolicy, ResumeOutcome, ResumeReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, NotApplicable, check, checkCount, checkEqual } from '../../framework/failure.js';
import type { Feature } from '../../framework/types.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Peer } from '../../server-mode/peer.js';
import { bytesOf, expectClose, messagesOf, publishN, serverCase, sleep, type ServerCase } from './util.js';

type PolicyName = 'DROP_OLDEST' | 'DROP_NEWEST' | 'COALESCE_BY_KEY' | 'DISCONNECT';

/** A session with window 1 whose first message is in flight and unacked: every later publish queues. */
async function blocked(ctx: ServerCaseContext, policy: PolicyName) {
  const ch = ctx.channel();
  const peer = await ctx.peer();
  const w = await peer.handshake({ channels: [ch], receiveWindow: 1, preferredPolicy: BackpressurePolicy[policy] });
  if (w.policy !== BackpressurePolicy[policy]) {
    throw new CaseFailure(`asked for ${policy} (declared policy:${policy}), Welcome.policy is ${BackpressurePolicy[w.policy] ?? w.policy} (BP-2)`);
  }
  await publishN(ctx, ch, 1, 'first');
  await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'the first message');
  // the declared limit is the bound: a Welcome that states a larger one does not widen it (BP-3)
  return { ch, peer, limit: ctx.server.queueLimitMessages };
}

/** Ack whatever arrives until nothing more comes for `quietMs`; checks the window on the way (BP-1). */
const ackedBy = new WeakMap<Peer, bigint>();

async function drainWithAcks(peer: Peer, quietMs = 200, window = 1, isDone: () => boolean = () => false): Promise<void> {
  let acked = ackedBy.get(peer) ?? 0n;
  let lastChange = performance.now();
  let seen = 0;
  // isDone: what the case expects has arrived (no guess from a quiet spell, which a loaded machine stretches)
  while (performance.now() - lastChange < quietMs && !peer.closed && !isDone()) {
    const seqs = peer.sequenced();
    if (seqs.length !== seen) {
      seen = seqs.length;
      lastChange = performance.now();
    }
    const top = seqs.length ? (seqs[seqs.length - 1] as { seq: bigint }).seq : 0n;
    if (top - acked > BigInt(window)) throw new CaseFailure(`${top - acked} messages unacked with a receive window of ${window} (BP-1)`);
    if (top > acked) {
      peer.send(envelope('ack', { seq: top }));
      acked = top;
      ackedBy.set(peer, acked);
    }
    await sleep(10);
  }
}

function policyCase(policy: PolicyName, id: string, spec: string[], description: string, verify: (ctx: ServerCaseContext, delivered: ReturnType<typeof messagesOf>, n: number, limit: number) => void, keyOf?: (i: number) => string): ServerCase {
  return serverCase({
    id,
    spec,
    level: 'MUST',
    requires: ['publish', `policy:${policy}` as Feature],
    description,
    async run(ctx) {
      const { ch, peer, limit } = await blocked(ctx, policy);
      const n = limit * 3;
      await publishN(ctx, ch, n, 'v', 0, keyOf);
      await sleep(30);
      await drainWithAcks(peer);
      const delivered = messagesOf(peer, ch).slice(1);
      ctx.note(`published ${n} behind a full window, queue limit ${limit}: delivered ${delivered.map((d) => d.text).join(' ')}`);
      check(delivered.length <= limit, `${delivered.length} queued items delivered with a queue limit of ${limit} (BP-3)`);
      check(delivered.length > 0, 'nothing delivered after the window reopened');
      verify(ctx, delivered, n, limit);
    },
  });
}

const idx = (t: string) => Number(t.replace(/^\D+/, ''));

export const backpressureCases: ServerCase[] = [
  policyCase('DROP_OLDEST', 'BP-6/drop-oldest-keeps-newest', ['BP-6', 'BP-3', 'BP-2', 'BP-10'], 'DROP_OLDEST: the bound holds, the newest items arrive in order, dropped_before counts the drops', (_ctx, d, n) => {
    const got = d.map((x) => idx(x.text));
    const want = Array.from({ length: d.length }, (_, i) => n - d.length + i);
    checkEqual(got.join(','), want.join(','), 'delivered items (the newest, in order)');
    const dropped = d.reduce((a, x) => a + x.droppedBefore, 0);
    checkEqual(dropped, n - d.length, 'sum of dropped_before (BP-10)');
  }),
  policyCase('DROP_NEWEST', 'BP-7/drop-newest-keeps-oldest', ['BP-7', 'BP-3', 'BP-2', 'BP-10'], 'DROP_NEWEST: the bound holds, the oldest items arrive in order, dropped_before counts the drops', (_ctx, d, n) => {
    const got = d.map((x) => idx(x.text));
    const want = Array.from({ length: d.length }, (_, i) => i);
    checkEqual(got.join(','), want.join(','), 'delivered items (the oldest, in order)');
    const dropped = d.reduce((a, x) => a + x.droppedBefore, 0);
    checkEqual(dropped, n - d.length, 'sum of dropped_before (BP-10)');
  }),
  serverCase({
    id: 'BP-8/coalesce-latest-per-key',
    spec: ['BP-8', 'BP-3', 'BP-2'],
    level: 'MUST',
    requires: ['publish', 'policy:COALESCE_BY_KEY'],
    description: 'COALESCE_BY_KEY: each key delivers its latest value, never an older value after a newer one',
    async run(ctx) {
      const { ch, peer, limit } = await blocked(ctx, 'COALESCE_BY_KEY');
      const keyOf = (i: number) => `k${i % 3}`;
      // phase 1: one value per key flows through (acked one by one)
      await publishN(ctx, ch, 3, 'v', 0, keyOf);
      await drainWithAcks(peer, 120);
      // phase 2: many values per key behind a full window
      const n = limit * 3;
      await publishN(ctx, ch, n, 'v', 3, keyOf);
      await sleep(30);
      await drainWithAcks(peer);
      const delivered = messagesOf(peer, ch).slice(1);
      ctx.note(`delivered ${delivered.map((d) => `${d.key}=${d.text}`).join(' ')}`);
      const queued = delivered.filter((d) => idx(d.text) >= 3);
      check(queued.length <= limit, `${queued.length} queued items delivered with a queue limit of ${limit} (BP-3)`);
      const latest = new Map<string, number>();
      for (let i = 0; i < n + 3; i++) latest.set(keyOf(i), i);
      const seen = new Map<string, number>();
      for (const x of delivered) {
        const v = idx(x.text);
        check(x.key === keyOf(v), `value ${x.text} arrived under key ${x.key}`);
        const prev = seen.get(x.key);
        if (prev !== undefined && v <= prev) throw new CaseFailure(`key ${x.key}: value ${v} delivered after ${prev} (BP-8: never older after newer)`);
        seen.set(x.key, v);
      }
      for (const [k, v] of latest) checkEqual(seen.get(k), v, `last value delivered for ${k}`);
    },
  }),
  serverCase({
    id: 'BP-11/disconnect-slow-consumer-4202',
    spec: ['BP-11', 'BP-2'],
    level: 'MUST',
    requires: ['publish', 'resume', 'policy:DISCONNECT'],
    description: 'DISCONNECT: a queue over its limit closes with SLOW_CONSUMER (4202) and the session stays resumable',
    async run(ctx) {
      const { ch, peer, limit } = await blocked(ctx, 'DISCONNECT');
      const sessionId = peer.bodies('welcome')[0]?.sessionId ?? '';
      await publishN(ctx, ch, limit + 2);
      await expectClose(peer, ['SLOW_CONSUMER'], 2000);
      const again = await ctx.peer();
      const w = await again.handshake({ sessionId, lastServerSeq: 1n, channels: [ch] });
      check(w.resume?.outcome !== ResumeOutcome.NEW, `resume after 4202 started a NEW session (reason ${w.resume?.reason}): BP-11 keeps it resumable`);
    },
  }),
  serverCase({
    id: 'BP-15/detached-overflow-never-resumed',
    spec: ['BP-15', 'BP-11'],
    level: 'MUST',
    requires: ['publish', 'resume', 'policy:DISCONNECT'],
    description: 'DISCONNECT: a detached session whose queue overflowed lost an item, so its resume is SNAPSHOT (REPLAY_WINDOW_EXCEEDED), never RESUMED',
    async run(ctx) {
      const { ch, peer, limit } = await blocked(ctx, 'DISCONNECT');
      const sessionId = peer.bodies('welcome')[0]?.sessionId ?? '';
      peer.send(envelope('ack', { seq: 1n }));
      await sleep(50);
      peer.vanish(); // detached by the network, not by the policy
      await sleep(200); // the server notices the socket is gone
      await publishN(ctx, ch, limit + 2);
      const again = await ctx.peer();
      const w = await again.handshake({ sessionId, lastServerSeq: 1n, channels: [ch] });
      checkEqual(ResumeOutcome[w.resume?.outcome ?? 0], 'SNAPSHOT', 'resume outcome after an overflow while detached');
      checkEqual(ResumeReason[w.resume?.reason ?? 0], 'REPLAY_WINDOW_EXCEEDED', 'resume reason');
    },
  }),
  serverCase({
    id: 'BP-1/receive-window',
    spec: ['BP-1', 'BP-5'],
    level: 'MUST',
    requires: ['publish'],
    description: 'the server never has more unacked sequenced messages than Hello.receive_window',
    async run(ctx) {
      const ch = ctx.channel();
      const peer = await ctx.peer();
      await peer.handshake({ channels: [ch], receiveWindow: 3, preferredPolicy: BackpressurePolicy.DROP_NEWEST });
      await publishN(ctx, ch, 6);
      await peer.until(() => peer.sequenced().length >= 3, 2000, '3 messages');
      await sleep(100);
      checkEqual(peer.sequenced().length, 3, 'messages in flight with a window of 3 and no ack');
      peer.send(envelope('ack', { seq: 3n }));
      await peer.until(() => peer.sequenced().length >= 6, 2000, 'the next 3 after the ack');
      await sleep(50);
      checkEqual(peer.sequenced().length, 6, 'messages after acking 3');
    },
  }),
  serverCase({
    id: 'BP-4/high-water-holds-writes',
    spec: ['BP-4', 'BP-3'],
    level: 'MUST',
    requires: ['publish', 'policy:DROP_OLDEST'],
    description: 'a client that stops reading gets no more than the high-water mark written past its socket: the rest waits in the bounded queue, whose policy drops',
    async run(ctx) {
      const ch = ctx.channel();
      const peer = await ctx.peer();
      const w = await peer.handshake({ channels: [ch], receiveWindow: 65_535, preferredPolicy: BackpressurePolicy.DROP_OLDEST });
      const size = Math.min(16 * 1024, Math.floor(ctx.server.maxPayloadBytes / 2));
      const highWater = ctx.server.bufferedAmountHighWaterBytes ?? 1024 * 1024;
      // the window the server grants (it may clamp ours to its replay window, RS-3)
      // the window the server grants: ours clamped to its replay window, in messages and bytes (RS-3)
      const window = Math.min(65_535, ctx.server.replayWindowMessages, Math.floor((ctx.server.replayWindowBytes ?? 4 * 1024 * 1024) / size));
      void w;
      if (window * size < highWater + 12 * 1024 * 1024) throw new NotApplicable(`a window of ${window} × ${size} B cannot outgrow the high-water mark plus socket buffers`);
      const n = window * 2;
      peer.pauseReading();
      const body = new Uint8Array(size);
      for (let i = 0; i < n; i += 64) {
        await ctx.hooks.publish(ch, Array.from({ length: Math.min(64, n - i) }, (_, k) => ({ payload: body.map((_x, j) => (j < 8 ? (((i + k) >> (j * 4)) & 15) + 48 : 0)) })));
      }
      await sleep(100);
      peer.resumeReading();
      // every item is accounted for, delivered or counted in dropped_before; a long quiet spell ends a broken server's run
      const accounted = () => messagesOf(peer, ch).reduce((a, m) => a + 1 + m.droppedBefore, 0) >= n;
      await drainWithAcks(peer, 5000, window, accounted);
      const got = messagesOf(peer, ch);
      const dropped = got.reduce((a, m) => a + m.droppedBefore, 0);
      ctx.note(`${n} messages of ${size} B published to a paused reader with a window of ${window}: ${got.length} delivered, ${dropped} dropped`);
      checkCount(got.length < window * 0.75, `${got.length} of ${n} messages (${(got.length * size) >> 20} MiB) were written to a client that read nothing, about the whole window: no high-water mark (BP-4)`);
      checkEqual(got.length + dropped, n, 'delivered + dropped_before (BP-10)');
    },
  }),
  serverCase({
    id: 'BP-9/patch-never-dropped-alone',
    spec: ['BP-9', 'SD-1'],
    level: 'MUST',
    requires: ['state', 'policy:DROP_OLDEST'],
    description: 'patches dropped by the policy are replaced by one Snapshot (BACKPRESSURE): the client\'s version chain never breaks and ends at the latest state',
    async run(ctx) {
      const st = ctx.channel('state');
      await ctx.hooks.patch(st, bytesOf('s0'));
      const peer = await ctx.peer();
      const w = await peer.handshake({ channels: [st], receiveWindow: 1, preferredPolicy: BackpressurePolicy.DROP_OLDEST });
      await peer.until(() => peer.sequenced().length >= 1, 2000, 'the first Snapshot');
      const limit = ctx.server.queueLimitMessages;
      const n = limit * 3;
      for (let i = 1; i <= n; i++) await ctx.hooks.patch(st, bytesOf(`s${i}`));
      await drainWithAcks(peer);
      // replay the client's view: Snapshots set the version, patches must chain (SD-1)
      let version: bigint | undefined;
      let state = '';
      for (const { env } of peer.sequenced()) {
        const b = env.body;
        if (b.case === 'snapshot' && b.value.channel === st) {
          version = b.value.version;
          state = new TextDecoder().decode(b.value.state);
        } else if (b.case === 'statePatch' && b.value.channel === st) {
          if (version !== b.value.baseVersion) throw new CaseFailure(`StatePatch ${b.value.baseVersion}→${b.value.version} arrived at version ${version}: a patch was dropped alone (BP-9)`);
          version = b.value.version;
          state = new TextDecoder().decode(b.value.delta);
        }
      }
      checkEqual(state, `s${n}`, 'state after the last patch or snapshot');
    },
  }),
];
