/**
 * Client delivery (spec §4, §7, §9, §10, §11): resume parameters, ordered
 * replay of unacked sends, dedupe, acks, gaps and drift, window and queue
 * bounds, and the client as a receiver of malformed frames.
 */
import { ResumeOutcome, ResumeReason, DriftReason, SnapshotReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { codeNamed as codeOf } from '../../oracle/close-advice.js';
import { checkWithin } from '../timing.js';
import { stateDigest } from '../../../spec/protocol/digest.js';
import type { ClientProcess } from '../../client-mode/control.js';
import type { ServerConn } from '../../client-mode/fake-server.js';
import { check, checkEqual } from '../../framework/failure.js';
import { envelope } from '../../server-mode/peer.js';
import { rawEnvelope } from '../../wire.js';
import { b64, backoffBoundMs, clientCase, connected, sleep, unb64, type ClientCase } from './util.js';

const enc = (s: string) => new TextEncoder().encode(s);

function delivered(client: ClientProcess): string[] {
  return client.events.flatMap((t) => (t.e.event === 'message' ? [unb64(t.e.payload)] : []));
}

function send(client: ClientProcess, id: string, text: string): void {
  client.command({ cmd: 'send', id, payload: b64(text) });
}

function clientMessages(conn: ServerConn): { seq: bigint; text: string }[] {
  return conn.bodies('message').map((m) => ({ seq: m.seq, text: new TextDecoder().decode(m.payload) }));
}

function channelVersion(client: ClientProcess, channel: string): { version: bigint; state: string } | undefined {
  const evs = client.events.filter((t) => t.e.event === 'channel' && t.e.channel === channel);
  const last = evs[evs.length - 1]?.e;
  return last && last.event === 'channel' ? { version: BigInt(last.version), state: unb64(last.state) } : undefined;
}

export const deliveryClientCases: ClientCase[] = [
  clientCase({
    id: 'HS-8/hello-first',
    spec: ['HS-8', 'RC-1'],
    level: 'MUST',
    description: 'the client\'s first frame is a Hello for protocol 1 with no session, and it reports connected only after Welcome',
    async run(ctx) {
      const client = await ctx.start();
      const conn = await ctx.server.conn(1, 5000);
      const hello = await conn.hello(2000);
      checkEqual(hello.protocolVersion, 1, 'Hello.protocol_version');
      checkEqual(hello.sessionId, '', 'Hello.session_id of a first connection');
      await sleep(50);
      check(!client.states().includes('connected'), 'reported connected before any Welcome');
      conn.welcome();
      await client.until((e) => e.event === 'state' && e.state === 'connected', 2000, 'connected after Welcome');
    },
  }),
  clientCase({
    id: 'RS-10+RC-10/resume-hello',
    spec: ['RS-10', 'RC-10', 'SEQ-5'],
    level: 'MUST',
    description: 'after a drop the client resumes with the session id of its last Welcome and the highest seq it processed, and rebases on Welcome.from_seq',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-r' });
      for (let i = 1; i <= 5; i++) conn.message(enc(`m${i}`));
      await client.until(() => delivered(client).length >= 5, 2000, '5 messages delivered');
      conn.terminate();
      const conn2 = await ctx.server.conn(2, backoffBoundMs(ctx, 0) + 2000);
      const hello = await conn2.hello(2000);
      checkEqual(hello.sessionId, 'sess-r', 'Hello.session_id');
      checkEqual(hello.lastServerSeq, 5n, 'Hello.last_server_seq');
      conn2.welcome({ sessionId: 'sess-r', resume: { outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.REPLAY_WINDOW_EXCEEDED, fromSeq: 9n, replayed: 0 } });
      conn2.setNextSeq(9n);
      conn2.message(enc('m9'));
      await client.until(() => delivered(client).includes('m9'), 2000, 'seq 9 delivered after Welcome.from_seq 9 (RS-10)');
      check(!client.events.some((t) => t.e.event === 'closed' && t.at > conn2.openedAt), 'the client closed after a rebase');
    },
  }),
  clientCase({
    id: 'SEQ-9/ordered-replay-of-unacked',
    spec: ['SEQ-9', 'SEQ-2', 'SEQ-7'],
    level: 'MUST',
    description: 'unacked sends are resent after Welcome.last_client_seq, in order, with their original seq, before any new message',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-q' });
      conn.autoAck = false;
      for (let i = 1; i <= 5; i++) send(client, `s${i}`, `c${i}`);
      await conn.untilFrame(() => clientMessages(conn).length >= 5, 2000, '5 client messages');
      checkEqual(clientMessages(conn).map((m) => `${m.seq}:${m.text}`).join(','), '1:c1,2:c2,3:c3,4:c4,5:c5', 'first sends');
      conn.send(envelope('ack', { seq: 1n }));
      await sleep(30);
      conn.terminate();
      send(client, 's6', 'c6');
      const conn2 = await ctx.server.conn(2, backoffBoundMs(ctx, 0) + 2000);
      await conn2.hello(2000);
      conn2.autoAck = true;
      conn2.welcome({ sessionId: 'sess-q', lastClientSeq: 2n, resume: { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 1n, replayed: 0 } });
      await conn2.untilFrame(() => clientMessages(conn2).length >= 4, 2000, 'the resent and the new message');
      checkEqual(clientMessages(conn2).map((m) => `${m.seq}:${m.text}`).join(','), '3:c3,4:c4,5:c5,6:c6', 'resent after last_client_seq 2, then the new one');
      for (const id of ['s1', 's2', 's3', 's4', 's5', 's6']) {
        await client.until((e) => e.event === 'sendResult' && e.id === id, 2000, `send result of ${id}`);
      }
      const failed = client.events.filter((t) => t.e.event === 'sendResult' && !t.e.ok);
      checkEqual(failed.length, 0, 'sends reported failed');
    },
  }),
  clientCase({
    id: 'SEQ-9/renumbered-after-new-session',
    spec: ['SEQ-9'],
    level: 'MUST',
    description: 'when the resume answers NEW, unacked sends are resent renumbered from 1, in order',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-n' });
      conn.autoAck = false;
      for (let i = 1; i <= 3; i++) send(client, `s${i}`, `c${i}`);
      await conn.untilFrame(() => clientMessages(conn).length >= 3, 2000, '3 client messages');
      conn.send(envelope('ack', { seq: 1n }));
      await sleep(30);
      conn.terminate();
      const conn2 = await ctx.server.conn(2, backoffBoundMs(ctx, 0) + 2000);
      await conn2.hello(2000);
      conn2.welcome({ sessionId: 'sess-new', resume: { outcome: ResumeOutcome.NEW, reason: ResumeReason.EXPIRED, fromSeq: 1n, replayed: 0 } });
      await conn2.untilFrame(() => clientMessages(conn2).length >= 2, 2000, 'the resent messages');
      checkEqual(clientMessages(conn2).map((m) => `${m.seq}:${m.text}`).join(','), '1:c2,2:c3', 'renumbered from 1 in the NEW session');
    },
  }),
  clientCase({
    id: 'SEQ-3/duplicates-discarded',
    spec: ['SEQ-3', 'SEQ-5'],
    level: 'MUST',
    description: 'a repeated server seq is delivered once and still acknowledged: a duplicate sent after Ack 3 gets an Ack of its own',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      conn.message(enc('a'), { seq: 1n });
      conn.message(enc('b'), { seq: 2n });
      conn.message(enc('b'), { seq: 2n });
      conn.message(enc('a'), { seq: 1n });
      conn.message(enc('c'), { seq: 3n });
      await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq >= 3n), 1000 + ctx.slackMs, 'Ack 3');
      await sleep(50);
      checkEqual(delivered(client).join(','), 'a,b,c', 'delivered to the application');
      // issue 18: the originals' pending ack covered the duplicates above; now nothing is pending
      await sleep(ctx.client.ackDelayMs + 20);
      const acksBefore = conn.bodies('ack').length;
      const t0 = performance.now();
      conn.message(enc('b'), { seq: 2n });
      const ack = await conn.untilFrame(() => conn.bodies('ack').slice(acksBefore)[0], ctx.client.ackDelayMs + ctx.slackMs + 1000, 'an Ack for a duplicate sent after everything was acked (SEQ-3)');
      checkWithin(ctx, 'acked the late duplicate', performance.now() - t0, { max: ctx.client.ackDelayMs + ctx.slackMs }, 'SEQ-3, SEQ-5');
      check(ack.seq >= 2n && ack.seq <= 3n, `Ack ${ack.seq} for a duplicate of 2 after 3 was processed (cumulative: 3)`);
      await sleep(30);
      checkEqual(delivered(client).join(','), 'a,b,c', 'delivered to the application after the late duplicate');
    },
  }),
  clientCase({
    id: 'SEQ-8/dedupe-by-message-id',
    spec: ['SEQ-8'],
    level: 'SHOULD',
    description: 'the same message_id under two seqs (a broker redelivery) reaches the application once',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      conn.message(enc('x'), { messageId: 'm-1' });
      conn.message(enc('x again'), { messageId: 'm-1' });
      conn.message(enc('y'), { messageId: 'm-2' });
      await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq >= 3n), 1000 + ctx.slackMs, 'Ack 3');
      await sleep(30);
      checkEqual(delivered(client).join(','), 'x,y', 'delivered to the application');
    },
  }),
  clientCase({
    id: 'WIRE-6/client-ignores-unknown-fields',
    spec: ['WIRE-6'],
    level: 'MUST',
    description: 'a Welcome with unknown fields and unknown enum values, and a Message with an unknown field, are accepted',
    async run(ctx) {
      const client = await ctx.start();
      const conn = await ctx.server.conn(1, 5000);
      await conn.hello(2000);
      conn.sendBytes(
        rawEnvelope('welcome', [
          { no: 1, str: 'sess-u' },
          { no: 2, varint: 1000 },
          { no: 3, varint: 2 },
          { no: 4, varint: 1 << 20 },
          { no: 7, msg: [{ no: 1, varint: 1 }, { no: 3, varint: 1 }, { no: 99, str: 'future' }] },
          { no: 9, varint: 64 },
          { no: 10, varint: 77 },
          { no: 50, str: 'a field from v2' },
        ]),
      );
      await client.until((e) => e.event === 'state' && e.state === 'connected', 2000, 'connected after a Welcome with unknown fields');
      conn.sendBytes(rawEnvelope('message', [{ no: 1, varint: 1 }, { no: 5, bytes: enc('hi') }, { no: 42, varint: 7 }]));
      await client.until(() => delivered(client).includes('hi'), 2000, 'the Message with an unknown field delivered');
      check(!conn.closed, `closed ${conn.closed?.code}`);
    },
  }),
  clientCase({
    id: 'SEQ-5/acks-within-delay',
    spec: ['SEQ-5'],
    level: 'MUST',
    description: 'server messages are acknowledged cumulatively within the client\'s ack delay (plus slack)',
    async run(ctx) {
      const { conn } = await connected(ctx);
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) conn.message(enc(`m${i}`));
      await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq === 3n), ctx.client.ackDelayMs + ctx.slackMs, 'Ack{seq: 3}');
      ctx.note(`Ack 3 after ${Math.round(performance.now() - t0)} ms`);
    },
  }),
  clientCase({
    id: 'SEQ-12/acks-within-welcome-delay',
    spec: ['SEQ-12', 'SEQ-5'],
    level: 'MUST',
    description: 'a Welcome that states client_ack_delay_ms bounds the client\'s ack delay: server messages are acked within it',
    async run(ctx) {
      const delay = 600;
      const { conn } = await connected(ctx, { clientAckDelayMs: delay });
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) conn.message(enc(`m${i}`));
      await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq === 3n), delay + ctx.slackMs, 'Ack{seq: 3} within the Welcome\'s delay');
      ctx.note(`Ack 3 after ${Math.round(performance.now() - t0)} ms (Welcome.client_ack_delay_ms ${delay})`);
    },
  }),
  clientCase({
    id: 'SEQ-12/acks-coalesced-to-welcome-delay',
    spec: ['SEQ-12'],
    level: 'SHOULD',
    description: 'with client_ack_delay_ms stated, the client does not ack sooner at its own shorter delay: one Ack covers messages sent over a few hundred ms',
    async run(ctx) {
      const delay = 600;
      const { conn } = await connected(ctx, { clientAckDelayMs: delay });
      const t0 = performance.now();
      for (let i = 0; i < 4; i++) {
        conn.message(enc(`m${i}`));
        await sleep(60);
      }
      await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq === 4n), delay + ctx.slackMs, 'Ack{seq: 4}');
      const first = Math.round((conn.frames.find((f) => f.env.body.case === 'ack')?.at ?? performance.now()) - t0);
      const acks = conn.bodies('ack').length;
      ctx.note(`first Ack after ${first} ms, ${acks} Ack(s) for 4 messages (own delay ${ctx.client.ackDelayMs} ms)`);
      check(first >= delay / 2, `acked after ${first} ms although Welcome asked for ${delay} ms: the client used its own delay (SEQ-12)`);
    },
  }),
  clientCase({
    id: 'SD-2/seq-gap-resync',
    spec: ['SD-2', 'SEQ-4', 'SD-4', 'SD-5'],
    level: 'MUST',
    description: 'a seq gap makes the client send StateDrift SEQ_GAP and ignore sequenced frames until a session Snapshot, then expect snapshot.seq + 1',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      conn.message(enc('one'), { seq: 1n });
      conn.message(enc('three'), { seq: 3n });
      const drift = await conn.untilFrame(() => conn.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'StateDrift after the gap');
      checkEqual(drift.reason, DriftReason.SEQ_GAP, 'StateDrift.reason');
      conn.message(enc('four'), { seq: 4n });
      conn.send(envelope('snapshot', { seq: 5n, channel: '', reason: SnapshotReason.DRIFT }));
      conn.message(enc('six'), { seq: 6n });
      await client.until(() => delivered(client).includes('six'), 2000, 'seq 6 delivered after the re-baseline');
      const got = delivered(client);
      check(!got.includes('three') && !got.includes('four'), `delivered ${got.join(',')}: frames after a gap must be ignored until the Snapshot (SD-2)`);
    },
  }),
  clientCase({
    id: 'SD-1/version-gap-resync',
    spec: ['SD-1', 'SD-2', 'SD-4'],
    level: 'MUST',
    requires: ['client-state'],
    description: 'a StatePatch whose base_version is not the local version is not applied: StateDrift VERSION_GAP, then the Snapshot replaces the state',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      const ch = 'conf.state';
      conn.send(envelope('snapshot', { seq: 1n, channel: ch, version: 1n, state: enc('v1'), reason: SnapshotReason.SUBSCRIBED }));
      conn.send(envelope('statePatch', { seq: 2n, channel: ch, baseVersion: 1n, version: 2n, delta: enc('v2') }));
      await client.until(() => channelVersion(client, ch)?.version === 2n, 2000, 'version 2 applied');
      checkEqual(channelVersion(client, ch)?.state, 'v2', 'state after the patch');
      conn.send(envelope('statePatch', { seq: 3n, channel: ch, baseVersion: 3n, version: 4n, delta: enc('v4') }));
      const drift = await conn.untilFrame(() => conn.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'StateDrift VERSION_GAP');
      checkEqual(drift.reason, DriftReason.VERSION_GAP, 'StateDrift.reason');
      checkEqual(drift.channel, ch, 'StateDrift.channel');
      conn.send(envelope('statePatch', { seq: 4n, channel: ch, baseVersion: 4n, version: 5n, delta: enc('v5') }));
      await sleep(50);
      checkEqual(channelVersion(client, ch)?.version, 2n, 'version while drifting (patches ignored, SD-2)');
      conn.send(envelope('snapshot', { seq: 5n, channel: ch, version: 7n, state: enc('v7'), reason: SnapshotReason.DRIFT }));
      await client.until(() => channelVersion(client, ch)?.version === 7n, 2000, 'the Snapshot replaces the state (SD-4)');
      conn.send(envelope('statePatch', { seq: 6n, channel: ch, baseVersion: 7n, version: 8n, delta: enc('v8') }));
      await client.until(() => channelVersion(client, ch)?.version === 8n, 2000, 'patches apply again after the Snapshot');
    },
  }),
  clientCase({
    id: 'SD-3/digest-mismatch-resync',
    spec: ['SD-3', 'SD-6'],
    level: 'MUST',
    requires: ['client-state'],
    description: 'a StatePatch whose digest does not match the state after applying gets StateDrift DIGEST_MISMATCH; a server StateDrift before a Snapshot is accepted',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      const ch = 'conf.digest';
      conn.send(envelope('snapshot', { seq: 1n, channel: ch, version: 1n, state: enc('a'), digest: stateDigest(enc('a')), reason: SnapshotReason.SUBSCRIBED }));
      conn.send(envelope('statePatch', { seq: 2n, channel: ch, baseVersion: 1n, version: 2n, delta: enc('b'), digest: stateDigest(enc('b')) }));
      await client.until(() => channelVersion(client, ch)?.version === 2n, 2000, 'a patch with a correct digest applied');
      check(conn.bodies('stateDrift').length === 0, 'StateDrift for a correct digest');
      conn.send(envelope('statePatch', { seq: 3n, channel: ch, baseVersion: 2n, version: 3n, delta: enc('c'), digest: stateDigest(enc('not c')) }));
      const drift = await conn.untilFrame(() => conn.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'StateDrift DIGEST_MISMATCH');
      checkEqual(drift.reason, DriftReason.DIGEST_MISMATCH, 'StateDrift.reason');
      conn.send(envelope('stateDrift', { channel: ch, reason: DriftReason.DIGEST_MISMATCH }));
      conn.send(envelope('snapshot', { seq: 4n, channel: ch, version: 9n, state: enc('z'), reason: SnapshotReason.DRIFT }));
      await client.until(() => channelVersion(client, ch)?.version === 9n, 2000, 'the Snapshot after a server StateDrift (SD-6)');
      check(!conn.closed, `closed on a server StateDrift (${conn.closed?.code})`);
    },
  }),
  clientCase({
    id: 'BP-1/client-respects-window',
    spec: ['BP-1'],
    level: 'MUST',
    description: 'the client never has more unacked messages in flight than Welcome.receive_window',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { receiveWindow: 2 });
      conn.autoAck = false;
      for (let i = 1; i <= 5; i++) send(client, `s${i}`, `c${i}`);
      await conn.untilFrame(() => clientMessages(conn).length >= 2, 2000, '2 messages');
      await sleep(150);
      checkEqual(clientMessages(conn).length, 2, 'messages in flight with a window of 2');
      conn.send(envelope('ack', { seq: 2n }));
      await conn.untilFrame(() => clientMessages(conn).length >= 4, 2000, '2 more after the ack');
      await sleep(100);
      checkEqual(clientMessages(conn).length, 4, 'messages in flight after acking 2');
    },
  }),
  clientCase({
    id: 'BP-13/queue-overflow-reported',
    spec: ['BP-13'],
    level: 'MUST',
    description: 'sends beyond the client\'s queue limit fail visibly; none is dropped silently',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { receiveWindow: 1 });
      conn.autoAck = false;
      const n = ctx.client.queueLimitMessages + 4;
      for (let i = 1; i <= n; i++) send(client, `s${i}`, `c${i}`);
      await client.until(() => client.events.some((t) => t.e.event === 'sendResult' && !t.e.ok), 2000, 'a failed send result (queue full)');
      // ack everything as it comes; every send must end as ok or failed
      conn.autoAck = true;
      const ackTimer = setInterval(() => {
        const top = clientMessages(conn).reduce((a, m) => (m.seq > a ? m.seq : a), 0n);
        if (top > 0n) conn.send(envelope('ack', { seq: top }));
      }, 20);
      ctx.defer(() => clearInterval(ackTimer));
      for (let i = 1; i <= n; i++) await client.until((e) => e.event === 'sendResult' && e.id === `s${i}`, 3000, `a result for send s${i} (never silent)`);
      const results = client.events.flatMap((t) => (t.e.event === 'sendResult' ? [t.e] : []));
      const okTexts = results.filter((r) => r.ok).map((r) => `c${r.id.slice(1)}`).sort();
      const got = [...new Set(clientMessages(conn).map((m) => m.text))].sort();
      checkEqual(got.join(','), okTexts.join(','), 'messages the server got vs sends reported ok');
      check(results.filter((r) => !r.ok).length <= 4 + 1, `${results.filter((r) => !r.ok).length} sends failed with only ${n - ctx.client.queueLimitMessages} over the limit`);
    },
  }),
  clientCase({
    id: 'WIRE-4/client-rejects-oversized-send',
    spec: ['WIRE-4'],
    level: 'MUST',
    description: 'a send larger than Welcome.max_payload_bytes fails locally and never reaches the wire',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { maxPayloadBytes: 512 });
      client.command({ cmd: 'send', id: 'big', payload: b64(new Uint8Array(2000)) });
      const r = await client.until((e) => e.event === 'sendResult' && e.id === 'big', 2000, 'the result of an oversized send');
      check(r.e.event === 'sendResult' && !r.e.ok, 'an oversized send was reported ok');
      await sleep(50);
      check(!conn.closed, 'the connection closed');
      checkEqual(clientMessages(conn).length, 0, 'frames of the oversized send on the wire');
    },
  }),
  clientCase({
    id: 'WIRE-1/client-closes-text-frame',
    spec: ['WIRE-1'],
    level: 'MUST',
    description: 'a text frame from the server is answered with a close UNSUPPORTED_DATA (1003)',
    async run(ctx) {
      const { conn } = await connected(ctx);
      conn.sendText('{"hello":"json"}');
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      checkEqual(c.code, codeOf('UNSUPPORTED_DATA'), 'close code');
    },
  }),
  clientCase({
    id: 'WIRE-2/client-closes-garbage',
    spec: ['WIRE-2'],
    level: 'MUST',
    description: 'a binary frame that is not an Envelope is answered with a close INVALID_PAYLOAD (1007)',
    async run(ctx) {
      const { conn } = await connected(ctx);
      conn.sendBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      checkEqual(c.code, codeOf('INVALID_PAYLOAD'), 'close code');
    },
  }),
  clientCase({
    id: 'WIRE-7/client-closes-wrong-role',
    spec: ['WIRE-7', 'WIRE-5'],
    level: 'MUST',
    description: 'a client-only body (Subscribe) or a Message with seq 0 from the server is answered with PROTOCOL_ERROR (1002)',
    async run(ctx) {
      const { conn } = await connected(ctx, { sessionId: 'x' });
      conn.sendBytes(rawEnvelope('subscribe', [{ no: 1, str: 'a' }]));
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      checkEqual(c.code, codeOf('PROTOCOL_ERROR'), 'close code for a Subscribe from the server');
      const conn2 = await ctx.server.conn(2, backoffBoundMs(ctx, 0, 1000) + 2000);
      await conn2.hello(2000);
      conn2.welcome();
      await sleep(30);
      conn2.sendBytes(rawEnvelope('message', [{ no: 5, bytes: enc('zero') }]));
      const c2 = await conn2.waitClosed(1000 + ctx.slackMs);
      checkEqual(c2.code, codeOf('PROTOCOL_ERROR'), 'close code for seq 0');
    },
  }),
  clientCase({
    id: 'SEQ-11/last-client-seq-beyond-sent',
    spec: ['SEQ-11', 'SEQ-9'],
    level: 'MUST',
    description: 'a resuming Welcome whose last_client_seq is above the highest seq the client sent is a protocol error: close 1002',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-l' });
      conn.autoAck = false;
      send(client, 's1', 'c1');
      send(client, 's2', 'c2');
      await conn.untilFrame(() => clientMessages(conn).length >= 2, 2000, '2 client messages');
      conn.terminate();
      const resumed = { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 1n, replayed: 0 };
      const { conn: conn2 } = await ctx.server.acceptSession(2, backoffBoundMs(ctx, 0) + 2000, { sessionId: 'sess-l', lastClientSeq: 7n, resume: resumed });
      const closed = await conn2.waitClosed(2000 + ctx.slackMs);
      check(!closed.byServer, 'the runner closed the connection, not the client');
      checkEqual(closed.code, codeOf('PROTOCOL_ERROR'), 'close code for last_client_seq 7 after sending 2');
    },
  }),
  clientCase({
    id: 'SD-9/drift-resent-after-resumed',
    spec: ['SD-9', 'SD-1'],
    level: 'MUST',
    requires: ['client-state'],
    description: 'a client still waiting for a channel snapshot when a new Welcome says RESUMED sends that StateDrift again: the first may have died with the socket',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-g' });
      const ch = 'conf.state';
      conn.send(envelope('snapshot', { seq: 1n, channel: ch, version: 1n, state: enc('v1'), reason: SnapshotReason.SUBSCRIBED }));
      await client.until(() => channelVersion(client, ch)?.version === 1n, 2000, 'version 1');
      conn.send(envelope('statePatch', { seq: 2n, channel: ch, baseVersion: 3n, version: 4n, delta: enc('v4') }));
      await conn.untilFrame(() => conn.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'StateDrift VERSION_GAP');
      conn.terminate(); // the runner never answers it: the report is lost with the socket
      const resumed = { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 3n, replayed: 0 };
      const { conn: conn2 } = await ctx.server.acceptSession(2, backoffBoundMs(ctx, 0) + 2000, { sessionId: 'sess-g', resume: resumed });
      const again = await conn2.untilFrame(() => conn2.bodies('stateDrift')[0], 1000 + ctx.slackMs, 'the StateDrift sent again after RESUMED');
      checkEqual(again.channel, ch, 'StateDrift.channel on the new connection');
    },
  }),
  clientCase({
    id: 'CH-4/client-accepts-subscribed',
    spec: ['CH-4', 'WIRE-10'],
    level: 'MUST',
    requires: ['client-subscribed'],
    description: 'a client that announces subscribed takes the Subscribed answering its Subscribe in stride: it stays connected and delivers what follows on the channel',
    async run(ctx) {
      const client = await ctx.start();
      const { conn, hello } = await ctx.server.acceptSession(1, 5000, { capabilities: ['subscribed'] });
      check(hello.capabilities.includes('subscribed'), `Hello.capabilities lists subscribed (got ${JSON.stringify(hello.capabilities)})`);
      await client.until((e) => e.event === 'state' && e.state === 'connected', 2000, 'the client to report connected');
      const ch = 'conf.sub';
      client.command({ cmd: 'subscribe', channels: [ch] });
      const sub = await conn.untilFrame(() => conn.bodies('subscribe')[0], 2000, 'Subscribe');
      check(sub.channels.includes(ch), `Subscribe lists ${ch}`);
      conn.send(envelope('subscribed', { channels: sub.channels }));
      conn.message(enc('after-confirm'), { channel: ch });
      await client.until(() => delivered(client).includes('after-confirm'), 2000, 'the message that followed the Subscribed');
      check(!client.events.some((t) => t.e.event === 'closed'), 'the client closed the connection after Subscribed');
    },
  }),
];

