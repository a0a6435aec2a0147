/**
 * Sequencing and acknowledgement (spec §7), one rule per case, plus the
 * model-based sequence check of seq-model.ts.
 */
import { ResumeOutcome } from '../../../gen/lifeline/v1/envelope_pb.js';
import { check, checkEqual } from '../../framework/failure.js';
import { checkWithin } from '../timing.js';
import { envelope } from '../../server-mode/peer.js';
import { runSeqModel } from './seq-model.js';
import { bytesOf, checkContiguous, expectClose, messagesOf, publishN, roundTrip, serverCase, session, sleep, textOf, type ServerCase } from './util.js';

export const sequencingCases: ServerCase[] = [
  serverCase({
    id: 'SEQ-2/numbered-from-one',
    spec: ['SEQ-2', 'SEQ-1'],
    level: 'MUST',
    requires: ['publish'],
    description: 'server messages of a new session are numbered 1, 2, 3 … with no gap and no reuse, in publish order',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch]);
      const sent = await publishN(ctx, ch, 6);
      await peer.until(() => messagesOf(peer, ch).length >= 6, 3000, '6 messages');
      checkContiguous(peer);
      checkEqual(peer.sequenced()[0]?.seq, 1n, 'first seq of a new session');
      checkEqual(messagesOf(peer, ch).map((m) => m.text).join(','), sent.join(','), 'payload order');
    },
  }),
  serverCase({
    id: 'SEQ-2+RS-2/model-based-sequences',
    spec: ['SEQ-2', 'SEQ-3', 'SEQ-7', 'SEQ-10', 'RS-2', 'RS-5', 'RS-10'],
    level: 'MUST',
    requires: ['publish', 'resume'],
    property: true,
    timeoutMs: 120_000,
    description: 'publishes, client sends, acks, clean and silent disconnects and resumes, generated and shrunk: each message exactly once, in order, gap-free both ways',
    run: runSeqModel,
  }),
  serverCase({
    id: 'SEQ-3/client-duplicate-discarded',
    spec: ['SEQ-3', 'SEQ-10'],
    level: 'MUST',
    requires: ['inbox'],
    description: 'a repeated client seq is discarded (the application gets it once) and still acknowledged: a duplicate sent after Ack 3 gets an Ack of its own',
    async run(ctx) {
      const { peer, welcome } = await session(ctx, []);
      const send = (seq: number, text: string) => peer.send(envelope('message', { seq: BigInt(seq), payload: bytesOf(text) }));
      send(1, 'a');
      send(2, 'b');
      send(2, 'b-again');
      send(1, 'a-again');
      send(3, 'c');
      await peer.until(() => peer.bodies('ack').some((a) => a.seq >= 3n), 1000 + ctx.slackMs, 'Ack 3');
      // issue 18: the pending ack of the originals covered the duplicates above; now nothing is pending
      await sleep(ctx.server.ackDelayMs + 20);
      const acksBefore = peer.bodies('ack').length;
      const t0 = performance.now();
      send(2, 'b-late-again');
      const ack = await peer.until(() => peer.bodies('ack').slice(acksBefore)[0], ctx.server.ackDelayMs + ctx.slackMs + 1000, 'an Ack for a duplicate sent after everything was acked (SEQ-3)');
      checkWithin(ctx, 'acked the late duplicate', performance.now() - t0, { max: ctx.server.ackDelayMs + ctx.slackMs }, 'SEQ-3, SEQ-5');
      check(ack.seq >= 2n && ack.seq <= 3n, `Ack ${ack.seq} for a duplicate of 2 after 3 was processed (cumulative: 3)`);
      const inbox = (await ctx.hooks.inbox(welcome.sessionId)).map(textOf);
      checkEqual(inbox.join(','), 'a,b,c', 'what the application received');
      check(!peer.closed, 'closed on a duplicate');
    },
  }),
  serverCase({
    id: 'SEQ-4/client-gap-1002',
    spec: ['SEQ-4'],
    level: 'MUST',
    description: 'a client message whose seq skips one is closed with PROTOCOL_ERROR (1002)',
    async run(ctx) {
      const { peer } = await session(ctx, []);
      peer.send(envelope('message', { seq: 1n, payload: bytesOf('one') }));
      peer.send(envelope('message', { seq: 3n, payload: bytesOf('three') }));
      await expectClose(peer, ['PROTOCOL_ERROR'], 2000);
    },
  }),
  serverCase({
    id: 'SEQ-5/acks-client-messages',
    spec: ['SEQ-5'],
    level: 'MUST',
    description: 'client messages get a cumulative Ack within the ack delay (plus slack)',
    async run(ctx) {
      const { peer } = await session(ctx, []);
      const t0 = performance.now();
      for (let i = 1; i <= 5; i++) peer.send(envelope('message', { seq: BigInt(i), payload: bytesOf(`m${i}`) }));
      await peer.until(() => peer.bodies('ack').some((a) => a.seq === 5n), ctx.server.ackDelayMs + ctx.slackMs, 'Ack{seq: 5}');
      ctx.note(`Ack 5 after ${Math.round(performance.now() - t0)} ms (declared ack delay ${ctx.server.ackDelayMs} ms)`);
      for (const a of peer.bodies('ack')) check(a.seq <= 5n, `Ack ${a.seq} beyond what was sent`);
    },
  }),
  serverCase({
    id: 'SEQ-6/ack-beyond-sent-1002',
    spec: ['SEQ-6'],
    level: 'MUST',
    requires: ['publish'],
    description: 'an Ack above the highest seq the server sent is closed with 1002; a stale lower Ack is ignored',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch]);
      await publishN(ctx, ch, 3);
      await peer.until(() => messagesOf(peer, ch).length >= 3, 2000, '3 messages');
      peer.send(envelope('ack', { seq: 3n }));
      peer.send(envelope('ack', { seq: 1n }));
      await roundTrip(peer);
      check(!peer.closed, 'closed on a stale Ack');
      peer.send(envelope('ack', { seq: 1000n }));
      await expectClose(peer, ['PROTOCOL_ERROR'], 2000);
    },
  }),
  serverCase({
    id: 'SEQ-6/ack-one-beyond-sent-1002',
    spec: ['SEQ-6'],
    level: 'MUST',
    requires: ['publish'],
    description: 'the exact bound: an Ack of the highest seq sent is accepted, an Ack of one more is closed with 1002',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch]);
      await publishN(ctx, ch, 3);
      await peer.until(() => messagesOf(peer, ch).length >= 3, 2000, '3 messages');
      await roundTrip(peer);
      const top = peer.sequenced().reduce((a, x) => (x.seq > a ? x.seq : a), 0n);
      peer.send(envelope('ack', { seq: top }));
      await roundTrip(peer);
      check(!peer.closed, `closed on an Ack of ${top}, the highest seq sent (SEQ-6)`);
      peer.send(envelope('ack', { seq: top + 1n }));
      await expectClose(peer, ['PROTOCOL_ERROR'], 2000);
    },
  }),
  serverCase({
    id: 'SEQ-10/ack-only-what-the-application-has',
    spec: ['SEQ-10', 'CC-5'],
    level: 'MUST',
    requires: ['throw', 'resume'],
    description: 'a message the application failed on is never acknowledged: no Ack covers it, and a resume names the last one the application has in last_client_seq',
    async run(ctx) {
      const { peer, welcome } = await session(ctx, []);
      peer.send(envelope('message', { seq: 1n, payload: bytesOf('kept') }));
      await peer.until(() => peer.bodies('ack').some((a) => a.seq >= 1n), ctx.server.ackDelayMs + ctx.slackMs + 1000, 'Ack 1');
      peer.send(envelope('message', { seq: 2n, payload: bytesOf('lifeline-conformance:throw') }));
      await expectClose(peer, ['INTERNAL_ERROR'], 2000);
      const acked = peer.bodies('ack').reduce((a, x) => (x.seq > a ? x.seq : a), 0n);
      checkEqual(acked, 1n, 'highest Ack: the application never received seq 2 (SEQ-10)');
      const again = await ctx.peer();
      const w = await again.handshake({ sessionId: welcome.sessionId, lastServerSeq: 0n });
      if (w.resume?.outcome === ResumeOutcome.NEW) {
        ctx.note('the session was not kept after 1011: nothing to check in last_client_seq');
        return;
      }
      checkEqual(w.lastClientSeq, 1n, 'Welcome.last_client_seq after a handler failure on seq 2 (SEQ-10: a client releases what it names)');
    },
  }),
  serverCase({
    id: 'SEQ-7/released-after-ack',
    spec: ['SEQ-7', 'BP-1'],
    level: 'MUST',
    requires: ['publish'],
    description: 'with a receive window of 2, acking releases room: all of 8 messages arrive in order, never more than 2 unacked',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch], { receiveWindow: 2 });
      await publishN(ctx, ch, 4);
      let acked = 0n;
      const end = performance.now() + 4000;
      let published = 4;
      while (messagesOf(peer, ch).length < 8 && performance.now() < end) {
        await sleep(20);
        const seqs = peer.sequenced().map((s) => s.seq);
        const top = seqs.length ? seqs[seqs.length - 1]! : 0n;
        check(top - acked <= 2n, `${top - acked} messages unacked with a receive window of 2 (BP-1)`);
        if (top > acked) {
          peer.send(envelope('ack', { seq: top }));
          acked = top;
        }
        if (published < 8 && messagesOf(peer, ch).length >= 2) {
          await publishN(ctx, ch, 4, 'm', 4);
          published = 8;
        }
      }
      checkEqual(messagesOf(peer, ch).map((m) => m.text).join(','), 'm0,m1,m2,m3,m4,m5,m6,m7', 'delivered in order');
      checkContiguous(peer);
    },
  }),
];
