/**
 * The HTTP carrier itself (spec §22; feature `http-transport`): an `open` refused as an upgrade
 * would be, the capability and unknown connections, a retried send applied once, a receive
 * re-requested after a cut that replays from its Ack, the CLOSE record, the KEEPALIVE that starts a
 * stream, poll mode, and a session moving between a WebSocket and HTTP by a normal resume. Every
 * other server case also runs over HTTP with `--transport http`; these test what only HTTP has, so
 * they pick their connections' transport themselves and run once (carrier 'http').
 */
import { ResumeOutcome } from '../../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../../spec/protocol/close-codes.js';
import { decode, encode } from '../../../spec/protocol/codec.js';
import { CONTENT_TYPE, frameRecord, Header, RecordKind } from '../../../spec/protocol/http-carrier.js';
import { CaseFailure, check, checkEqual, NotApplicable } from '../../framework/failure.js';
import { describeBytes } from '../../framework/transcript.js';
import { carrierExchange, carrierUrl, headerOf, type ReceiveReader } from '../../server-mode/carrier.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { HTTP_RECEIVE_GAP_DEFAULT_MS, type HttpPeer } from '../../server-mode/http-peer.js';
import { envelope, isRefusal, type Peer, type PeerOptions, type Refusal } from '../../server-mode/peer.js';
import { checkWithin } from '../timing.js';
import { bytesOf, checkClose, messagesOf, publishN, roundTrip, serverCase, sleep, textOf, type ServerCase } from './util.js';

/** §17: how long a server holds an empty poll when the config declares nothing (HT-8). */
const HTTP_POLL_HOLD_DEFAULT_MS = 20_000;
/** HT-12: the least allowance past the gap (loopback, a timer's ms granularity); the window must hold two. */
const HT12_MIN_ALLOWANCE_MS = 20;

const outcomeName = (o: number | undefined) => ResumeOutcome[o ?? 0] ?? String(o);

/** HT-4: 128 bits from a CSPRNG, base64url without padding. */
const CONNECTION_ID = /^[A-Za-z0-9_-]{22}$/;

/** A peer over the HTTP carrier (fails the case on a refusal). */
async function httpPeer(ctx: ServerCaseContext, opts: PeerOptions = {}): Promise<HttpPeer> {
  return (await ctx.peer({ ...opts, transport: 'http' })) as HttpPeer;
}

function refused(p: Peer | Refusal, status: number, what: string): Refusal {
  if (!isRefusal(p)) {
    p.destroy();
    throw new CaseFailure(`${what}: the HTTP open succeeded, expected HTTP ${status} as an upgrade gets (HT-3)`);
  }
  checkEqual(p.status, status, `${what}: HTTP status of open`);
  return p;
}

/** A request on a connection id the server never gave (or has forgotten): 404 (HT-4). */
async function statusOn(ctx: ServerCaseContext, connection: string, op: 'send' | 'receive'): Promise<number> {
  const headers = op === 'send' ? { [Header.connection]: connection, [Header.seq]: '0' } : { [Header.connection]: connection, [Header.ack]: '0', [Header.receive]: 'poll' };
  const body = op === 'send' ? frameRecord(encode(envelope('heartbeat', { id: 1, sentAtMs: 1n }))) : undefined;
  const a = await carrierExchange(carrierUrl(ctx.url), { op, headers: { ...ctx.authHeaders, ...headers }, ...(body ? { body } : {}) });
  ctx.transcript.event('http', `${op} on connection ${connection === '' ? '(none)' : '(a capability)'}: HTTP ${a.status}`);
  return a.status;
}

/** `seq:payload` of the Messages among `frames`, in order. */
function messagesIn(frames: readonly Uint8Array[]): string[] {
  return frames.flatMap((f) => {
    const d = decode(f, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
    return d.ok && d.envelope.body.case === 'message' ? [`${d.envelope.body.value.seq}:${textOf(d.envelope.body.value.payload)}`] : [];
  });
}

/** The first index where two lists of Envelopes differ, described (the transcript's decoding), or undefined. */
function firstDifference(got: readonly Uint8Array[], want: readonly Uint8Array[]): string | undefined {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    const g = got[i];
    const w = want[i];
    if (g && w && Buffer.from(g).equals(Buffer.from(w))) continue;
    return `record ${i}: got ${g ? describeBytes(g) : 'nothing'}, expected ${w ? describeBytes(w) : 'nothing'}`;
  }
  return undefined;
}

/** A session over `transport` on `ch`: 5 messages received, 2 acked, client message 'x' sent and acked; then it drops. */
async function sessionThatDrops(ctx: ServerCaseContext, transport: 'ws' | 'http', ch: string, drop: (p: Peer) => Promise<void>) {
  const first = await ctx.peer({ transport });
  const welcome = await first.handshake({ channels: [ch] });
  await publishN(ctx, ch, 5);
  await first.until(() => messagesOf(first, ch).length >= 5, 2000, '5 messages');
  first.send(envelope('ack', { seq: 2n }));
  first.send(envelope('message', { seq: 1n, payload: bytesOf('x') }));
  await first.until(() => first.bodies('ack').some((a) => a.seq >= 1n), 2000 + ctx.server.ackDelayMs, 'the Ack of client message 1');
  await drop(first);
  await publishN(ctx, ch, 3, 'm', 5);
  return welcome.sessionId;
}

/** Resume on `transport` having processed 1..3: RESUMED from 4, exactly m3..m7 with seqs 4..8, then live 9; client seq 2 follows 1. */
async function resumeOn(ctx: ServerCaseContext, transport: 'ws' | 'http', sessionId: string, ch: string, rule: string): Promise<void> {
  const peer = await ctx.peer({ transport });
  const w = await peer.handshake({ sessionId, lastServerSeq: 3n, channels: [ch] });
  checkEqual(outcomeName(w.resume?.outcome), 'RESUMED', `Welcome.resume.outcome over ${transport} (${rule})`);
  checkEqual(w.sessionId, sessionId, 'session id');
  checkEqual(w.resume?.fromSeq, 4n, 'Welcome.resume.from_seq');
  checkEqual(w.lastClientSeq, 1n, 'Welcome.last_client_seq: the client message sent over the other transport');
  await peer.until(() => messagesOf(peer, ch).length >= 5, 2000, 'the replay and the missed messages');
  await publishN(ctx, ch, 1, 'm', 8);
  await peer.until(() => messagesOf(peer, ch).length >= 6, 2000, 'a live message after the replay');
  await sleep(50);
  checkEqual(
    messagesOf(peer, ch).map((m) => `${m.seq}:${m.text}`).join(','),
    '4:m3,5:m4,6:m5,7:m6,8:m7,9:m8',
    `seq:payload over ${transport} after the switch: exactly the missed frames, same seqs, none twice (${rule})`,
  );
  peer.send(envelope('message', { seq: 2n, payload: bytesOf('y') }));
  await peer.until(() => peer.bodies('ack').some((a) => a.seq >= 2n), 2000 + ctx.server.ackDelayMs, 'the Ack of client message 2');
  checkEqual((await ctx.hooks.inbox(sessionId)).map(textOf).join(','), 'x,y', 'what the application received across the switch');
}

/** Wait until `r` holds `n` FRAME records; fail naming what came. */
async function framesOn(r: ReceiveReader, n: number, timeoutMs: number, what: string): Promise<Uint8Array[]> {
  await r.until(() => r.frames().length >= n || r.broken || (r.ended && r.frames().length < n ? 'ended' : undefined), timeoutMs, what);
  if (r.frames().length < n) throw new CaseFailure(`${what}: ${r.frames().length} FRAME records, expected ${n}${r.broken ? ` (response ${r.broken})` : r.ended ? ' (response ended)' : ''}`);
  return r.frames();
}

export const httpCarrierCases: ServerCase[] = [
  serverCase({
    id: 'HT-3/open-refused-as-upgrade',
    spec: ['HT-3', 'HT-4', 'HT-1', 'HS-7'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description:
      'an HTTP open gets what an upgrade would: 400 without or with a wrong Lifeline-Protocol, 403 for an Origin off the allowlist, 401 without credentials, in HS-7 order; an accepted open is 200 with a 22-character base64url Lifeline-Connection and Cache-Control: no-store',
    async run(ctx) {
      const features = ctx.server.features;
      refused(await ctx.tryPeer({ transport: 'http', protocols: [] }), 400, 'no Lifeline-Protocol');
      refused(await ctx.tryPeer({ transport: 'http', protocols: ['lifeline.v0'] }), 400, 'Lifeline-Protocol: lifeline.v0');
      const blank = Object.fromEntries(Object.keys(ctx.authHeaders).map((k) => [k, 'invalid-credential']));
      if (features.includes('origin-allowlist')) {
        refused(await ctx.tryPeer({ transport: 'http', origin: 'http://evil.invalid' }), 403, 'Origin off the allowlist');
        refused(await ctx.tryPeer({ transport: 'http', origin: 'http://evil.invalid', protocols: [], headers: blank }), 403, 'bad Origin + no protocol + bad credentials (HS-7 order)');
      } else ctx.note('origin-allowlist not declared: the Origin check was not asked');
      if (features.includes('upgrade-auth')) {
        refused(await ctx.tryPeer({ transport: 'http', headers: blank }), 401, 'bad credentials');
        refused(await ctx.tryPeer({ transport: 'http', protocols: [], headers: blank }), 400, 'no protocol + bad credentials (HS-7 order)');
      } else ctx.note('upgrade-auth not declared: the credential check was not asked');
      // the accepted open: its answer, read raw
      const a = await carrierExchange(carrierUrl(ctx.url), { op: 'open', headers: { ...ctx.authHeaders, ...(features.includes('origin-allowlist') && ctx.server.auth?.allowedOrigin ? { origin: ctx.server.auth.allowedOrigin } : {}) } });
      checkEqual(a.status, 200, 'status of an open that passes admission');
      const id = headerOf(a.headers, Header.connection);
      check(CONNECTION_ID.test(id), `Lifeline-Connection is not 22 base64url characters (128 bits, HT-4): ${JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id)}`);
      check(/no-store/i.test(headerOf(a.headers, 'cache-control')), `open answered without Cache-Control: no-store (got ${JSON.stringify(headerOf(a.headers, 'cache-control'))}): the capability must not be cached`);
      // the capability is not the session: a fresh open gets another
      const b = await carrierExchange(carrierUrl(ctx.url), { op: 'open', headers: ctx.authHeaders });
      check(headerOf(b.headers, Header.connection) !== id, 'two opens got the same Lifeline-Connection');
    },
  }),
  serverCase({
    id: 'HT-19/open-503-while-draining',
    spec: ['HT-19', 'HT-3', 'DR-1', 'HS-6'],
    level: 'MUST',
    requires: ['http-transport', 'drain'],
    carrier: 'http',
    destructive: true,
    description: 'once draining, an HTTP open is refused with 503 and Retry-After, as an upgrade is',
    async run(ctx) {
      const d = ctx.server.drain ?? { deadlineMs: 1000, spreadMs: 500 };
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      const r = refused(await ctx.tryPeer({ transport: 'http' }), 503, 'open while draining');
      check(r.headers['retry-after'] !== undefined, '503 to an HTTP open without Retry-After (HS-6)');
    },
  }),
  serverCase({
    id: 'HT-4/unknown-connection-404',
    spec: ['HT-4', 'HT-10'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description: 'a send or receive naming a connection the server never gave, or one that has ended, gets 404',
    async run(ctx) {
      const forged = Buffer.from(Array.from({ length: 16 }, () => Math.floor(ctx.random() * 256))).toString('base64url');
      checkEqual(await statusOn(ctx, forged, 'send'), 404, 'send on a connection the server never gave');
      checkEqual(await statusOn(ctx, forged, 'receive'), 404, 'receive on a connection the server never gave');
      const p = await httpPeer(ctx);
      await p.handshake();
      p.close(1000, 'done');
      await p.waitClose(2000 + ctx.slackMs);
      await sleep(20);
      checkEqual(await statusOn(ctx, p.connection, 'receive'), 404, 'receive on a connection after its close');
      checkEqual(await statusOn(ctx, p.connection, 'send'), 404, 'send on a connection after its close');
    },
  }),
  serverCase({
    id: 'HT-6/retried-send-applied-once',
    spec: ['HT-6', 'SEQ-10'],
    level: 'MUST',
    requires: ['http-transport', 'inbox'],
    carrier: 'http',
    description:
      'a send retried with the same Lifeline-Seq (its answer was lost) is answered 204 and applied once: one HeartbeatAck, one Message at the application; a retry that overlaps new frames applies only the new ones',
    async run(ctx) {
      const p = await httpPeer(ctx, { heartbeatMs: 0, answerHeartbeats: false });
      const w = await p.handshake();
      await p.settled();
      const at = p.reserve(3);
      const hb = envelope('heartbeat', { id: 0x5eed, sentAtMs: 7n });
      const a = envelope('message', { seq: 1n, payload: bytesOf('a') });
      const b = envelope('message', { seq: 2n, payload: bytesOf('b') });
      const body = (...envs: Parameters<typeof encode>[0][]) => new Uint8Array(Buffer.concat(envs.map((e) => frameRecord(encode(e)))));
      checkEqual(await p.rawSend(at, body(hb, a), 'Heartbeat + Message a'), 204, 'status of a send');
      checkEqual(await p.rawSend(at, body(hb, a), 'the same body again: a retry'), 204, 'status of a retried send (same Lifeline-Seq)');
      checkEqual(await p.rawSend(at + 1, body(a, b), 'Message a again + Message b'), 204, 'status of a retry overlapping a new frame');
      await p.until(() => p.bodies('ack').some((x) => x.seq >= 2n) || p.closed, 2000 + ctx.server.ackDelayMs, 'the Ack of client message 2');
      if (p.closed) throw new CaseFailure(`the connection closed ${p.closed.code} ${p.closed.reason} after a retried send (HT-6: frames below the received count are skipped)`);
      await roundTrip(p); // the connection's own next index (at + 3) is in step
      const acks = p.bodies('heartbeatAck').filter((x) => x.id === 0x5eed).length;
      checkEqual(acks, 1, 'HeartbeatAcks for a Heartbeat sent once and retried once (HT-6)');
      checkEqual((await ctx.hooks.inbox(w.sessionId)).map(textOf).join(','), 'a,b', 'what the application received (HT-6, SEQ-10)');
    },
  }),
  serverCase({
    id: 'HT-6/send-gap-409-1002',
    spec: ['HT-6'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description: 'a send whose Lifeline-Seq skips frames the server never got is answered 409, and the connection is closed with PROTOCOL_ERROR (1002) in a CLOSE record',
    async run(ctx) {
      const p = await httpPeer(ctx, { heartbeatMs: 0 });
      await p.handshake();
      await p.settled();
      const at = p.reserve(2);
      const status = await p.rawSend(at + 1, frameRecord(encode(envelope('heartbeat', { id: 9, sentAtMs: 9n }))), 'one frame past a gap');
      checkEqual(status, 409, 'status of a send past a gap');
      const closed = await p.waitClose(2000 + ctx.slackMs);
      checkClose(closed, ['PROTOCOL_ERROR']);
    },
  }),
  serverCase({
    id: 'HT-7/receive-replays-from-ack',
    spec: ['HT-7', 'SEQ-2'],
    level: 'MUST',
    requires: ['http-transport', 'publish'],
    carrier: 'http',
    description:
      'a receive cut after some records and re-requested with Lifeline-Ack = the FRAME records received whole gets exactly the records from there on, byte for byte (same seqs), then live ones: nothing lost, nothing twice',
    async run(ctx) {
      const ch = ctx.channel();
      const p = await httpPeer(ctx, { receive: 'manual' });
      const first = p.startReceive(0);
      p.hello({ receiveWindow: 1024, channels: [ch] });
      await framesOn(first, 1, 3000, 'Welcome on the first receive');
      await publishN(ctx, ch, 5);
      const before = await framesOn(first, 6, 2000, 'Welcome and 5 messages on the first receive');
      // the client got k records whole, then the response was cut (a proxy, a lost network)
      const k = 2 + Math.floor(ctx.random() * 3);
      first.cut();
      const seen = before.length;
      ctx.note(`cut after ${seen} FRAME records; re-requested with Lifeline-Ack ${k}`);
      const second = p.startReceive(k);
      const again = await framesOn(second, seen - k, 2000, `the ${seen - k} records from Ack ${k} on`);
      const diff = firstDifference(again.slice(0, seen - k), before.slice(k, seen));
      if (diff) throw new CaseFailure(`after a cut and a receive with Lifeline-Ack ${k}, the records from ${k} on are not those of the first response, byte for byte (HT-7): ${diff}`);
      await publishN(ctx, ch, 1, 'm', 5);
      await second.until(() => messagesIn(second.frames()).some((m) => m.endsWith(':m5')) || second.broken || second.ended, 2000, 'a live message after the replay');
      const want = [...messagesIn(before), `${messagesIn(before).length + 1}:m5`];
      checkEqual(messagesIn([...before.slice(0, k), ...second.frames()]).join(','), want.join(','), 'seq:payload of the Messages received whole before the cut, then on the new receive (HT-7: nothing lost, nothing twice)');
      check(!second.ended && !second.broken, `the second receive ${second.broken ?? 'ended'}`);
    },
  }),
  serverCase({
    id: 'HT-10/close-record-carries-code',
    spec: ['HT-10', 'CC-1', 'SEQ-6'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description: 'a protocol error over HTTP (an Ack beyond what was sent) ends the receive with a CLOSE record carrying 1002 and a short reason; later requests on the connection get 404',
    async run(ctx) {
      const p = await httpPeer(ctx);
      await p.handshake();
      p.send(envelope('ack', { seq: 99n }));
      const closed = await p.waitClose(2000 + ctx.slackMs);
      if (closed.abnormal) throw new CaseFailure(`the connection ended without a CLOSE record (${closed.reason}); expected PROTOCOL_ERROR (1002) in one (HT-10)`);
      checkClose(closed, ['PROTOCOL_ERROR']);
      checkEqual(closed.code, codeOf('PROTOCOL_ERROR'), 'code in the CLOSE record');
      await sleep(20);
      checkEqual(await statusOn(ctx, p.connection, 'receive'), 404, 'receive on the connection after its CLOSE record');
    },
  }),
  serverCase({
    id: 'HT-8/stream-starts-with-keepalive',
    spec: ['HT-8', 'HT-15'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description:
      'a stream receive is answered 200 with the records media type, Cache-Control no-store, no-transform, X-Accel-Buffering: no and no Content-Length; its first record is a KEEPALIVE, written at once, and it stays open across its frames',
    async run(ctx) {
      const p = await httpPeer(ctx, { receive: 'manual' });
      const r = p.startReceive(0, 'stream');
      await r.until(() => r.records.length > 0 || r.broken || r.ended, 1000 + ctx.slackMs, 'the first record of a stream');
      checkEqual(r.status, 200, 'status of a stream receive');
      checkEqual(headerOf(r.headers, 'content-type').split(';')[0]?.trim(), CONTENT_TYPE, 'Content-Type of a receive');
      const cc = headerOf(r.headers, 'cache-control');
      check(/no-store/i.test(cc) && /no-transform/i.test(cc), `Cache-Control of a receive is ${JSON.stringify(cc)}; no-store, no-transform keep proxies from caching or rewriting it`);
      checkEqual(headerOf(r.headers, 'x-accel-buffering').toLowerCase(), 'no', 'X-Accel-Buffering of a receive (nginx must not buffer it)');
      checkEqual(headerOf(r.headers, 'content-length'), '', 'Content-Length of a stream (it has none: chunked)');
      const first = r.records[0];
      if (!first) throw new CaseFailure(`the stream ${r.broken ?? 'ended'} before any record`);
      checkEqual(first.record.kind, RecordKind.KEEPALIVE, 'kind of the first record of a stream (3 = KEEPALIVE)');
      checkWithin(ctx, 'KEEPALIVE after the receive was sent', first.at - r.startedAt, { max: 200 + ctx.slackMs }, 'HT-8');
      p.hello({ receiveWindow: 1024 });
      await framesOn(r, 1, 3000, 'Welcome on the stream');
      await sleep(2 * ctx.server.heartbeatIntervalMs);
      check(!r.ended && !r.broken, `the stream ${r.broken ?? 'ended'} after its first frames; it stays open to its byte or time bound`);
    },
  }),
  serverCase({
    id: 'HT-8/poll-ends-after-first-records',
    spec: ['HT-8'],
    level: 'MUST',
    requires: ['http-transport', 'publish'],
    carrier: 'http',
    description: 'a poll receive is held while there is nothing to send and ends right after the first write that carries records: the Welcome, later a published message',
    async run(ctx) {
      const ch = ctx.channel();
      const p = await httpPeer(ctx, { receive: 'manual' });
      p.hello({ receiveWindow: 1024, channels: [ch] });
      const r1 = p.startReceive(0, 'poll');
      const f1 = await framesOn(r1, 1, 3000, 'Welcome on a poll');
      await r1.until(() => r1.ended || r1.broken, 1000 + ctx.slackMs, 'the end of a poll that carried the Welcome');
      if (r1.broken) throw new CaseFailure(`the poll was ${r1.broken}, not ended`);
      const firstFrameAt = r1.records.find((x) => x.record.kind === RecordKind.FRAME)?.at ?? r1.startedAt;
      checkWithin(ctx, 'poll ended after its first records', (r1.endedAt ?? 0) - firstFrameAt, { max: ctx.server.ackDelayMs + ctx.slackMs }, 'HT-8');
      // then polls until a message published a heartbeat interval later comes: none may end empty before
      // the hold (HeartbeatAcks end some early, with records: that is what poll means)
      const holdMs = ctx.server.httpPollHoldMs ?? HTTP_POLL_HOLD_DEFAULT_MS;
      const published = sleep(ctx.server.heartbeatIntervalMs).then(() => publishN(ctx, ch, 1));
      let ack = f1.length;
      for (let i = 0; ; i++) {
        if (i >= 20) throw new CaseFailure('20 polls and the published message has not come');
        const r = p.startReceive(ack, 'poll');
        await r.until(() => r.ended || r.broken, Math.min(holdMs, 5000) + 1000 + ctx.slackMs, `the end of poll ${i + 2}`);
        if (r.broken) throw new CaseFailure(`poll ${i + 2} was ${r.broken}, not ended`);
        const fs = r.frames();
        const endedAt = r.endedAt ?? performance.now();
        if (fs.length === 0) {
          checkWithin(ctx, `poll ${i + 2} ended empty`, endedAt - r.startedAt, { min: holdMs - ctx.slackMs }, 'HT-8: an empty poll is held for httpPollHoldMs');
          continue;
        }
        const at = r.records.find((x) => x.record.kind === RecordKind.FRAME)?.at ?? r.startedAt;
        checkWithin(ctx, `poll ${i + 2} ended after its first records`, endedAt - at, { max: ctx.server.ackDelayMs + ctx.slackMs }, 'HT-8');
        ack += fs.length;
        if (fs.some((f) => Buffer.from(f).includes(Buffer.from('m0')))) break;
      }
      await published;
    },
  }),
  serverCase({
    id: 'HT-5/preflight-and-pinned-origin',
    spec: ['HT-5', 'SEC-1'],
    level: 'MUST',
    requires: ['http-transport', 'origin-allowlist'],
    carrier: 'http',
    description:
      'a CORS preflight from the allowed Origin is 204 with Allow-Origin (that Origin), Allow-Credentials, Allow-Methods POST and the carrier headers allowed; from another Origin 403; a receive on a connection from another Origin than its open gets 403',
    async run(ctx) {
      const allowed = ctx.server.auth?.allowedOrigin;
      if (!allowed) throw new CaseFailure('origin-allowlist is declared without auth.allowedOrigin');
      const url = carrierUrl(ctx.url);
      const preflight = (origin: string) =>
        carrierExchange(url, { op: undefined, method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'lifeline-http, lifeline-protocol, content-type', [Header.protocol]: undefined } });
      const ok = await preflight(allowed);
      checkEqual(ok.status, 204, 'status of a preflight from the allowed Origin');
      checkEqual(headerOf(ok.headers, 'access-control-allow-origin'), allowed, 'Access-Control-Allow-Origin of the preflight');
      checkEqual(headerOf(ok.headers, 'access-control-allow-credentials'), 'true', 'Access-Control-Allow-Credentials of the preflight');
      check(/\bPOST\b/i.test(headerOf(ok.headers, 'access-control-allow-methods')), `Access-Control-Allow-Methods of the preflight lacks POST: ${JSON.stringify(headerOf(ok.headers, 'access-control-allow-methods'))}`);
      const allowedHeaders = headerOf(ok.headers, 'access-control-allow-headers').toLowerCase();
      for (const h of [Header.op, Header.protocol, Header.connection, Header.seq, Header.ack, Header.receive, 'content-type']) {
        check(allowedHeaders.includes(h.toLowerCase()), `Access-Control-Allow-Headers of the preflight lacks ${h}: ${JSON.stringify(allowedHeaders)}`);
      }
      checkEqual((await preflight('http://evil.invalid')).status, 403, 'status of a preflight from an Origin off the allowlist');
      // the Origin of open is pinned to the connection
      const p = await httpPeer(ctx, { origin: allowed });
      await p.handshake();
      const other = await carrierExchange(url, { op: 'receive', headers: { ...p.headers({ [Header.ack]: String(p.framesReceived), [Header.receive]: 'poll' }), origin: 'http://evil.invalid' } });
      checkEqual(other.status, 403, 'status of a receive from another Origin than the open of its connection');
      await roundTrip(p); // and it changed nothing
    },
  }),
  serverCase({
    id: 'HT-2/malformed-records-400-1002',
    spec: ['HT-2'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description: 'a send body with a record of an unknown kind is answered 400 and the connection closed with PROTOCOL_ERROR (1002)',
    async run(ctx) {
      const p = await httpPeer(ctx, { heartbeatMs: 0 });
      await p.handshake();
      await p.settled();
      const at = p.reserve(1);
      const unknownKind = new Uint8Array([9, 0, 0, 0, 1, 0x2a]);
      checkEqual(await p.rawSend(at, unknownKind, 'a record of kind 9'), 400, 'status of a send with a record of an unknown kind');
      checkClose(await p.waitClose(2000 + ctx.slackMs), ['PROTOCOL_ERROR']);
    },
  }),
  serverCase({
    id: 'HT-12/receive-gap-ends-connection',
    spec: ['HT-12', 'HT-4'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description: 'a connection opened and never received from is gone after the declared httpReceiveGapMs (plus slack): a receive then gets 404',
    async run(ctx) {
      const gap = ctx.server.httpReceiveGapMs ?? HTTP_RECEIVE_GAP_DEFAULT_MS;
      // Only HT-12 ends the connection between the gap and the handshake timeout (HS-10 ends an open
      // with no Hello then). The probe goes in that window, at the gap plus an allowance: the run's
      // slack (measured from this machine's timer lateness unless declared), at most half the window,
      // so a server with no gap timer is still open when the probe lands however large the slack
      // grew under load (session 8: a slack past the window made the case N/A and its mutant live).
      const room = ctx.server.handshakeTimeoutMs - gap;
      if (room < 2 * HT12_MIN_ALLOWANCE_MS) throw new NotApplicable(`httpReceiveGapMs ${gap} is not ${2 * HT12_MIN_ALLOWANCE_MS} ms below the handshake timeout ${ctx.server.handshakeTimeoutMs} ms: the handshake timeout would end the connection first`);
      const allowance = Math.max(HT12_MIN_ALLOWANCE_MS, Math.min(ctx.slackMs, Math.floor(room / 2)));
      if (allowance < ctx.slackMs) ctx.note(`allowance ${allowance} ms (the slack ${ctx.slackMs} ms does not fit below the handshake timeout)`);
      const a = await carrierExchange(carrierUrl(ctx.url), { op: 'open', headers: ctx.authHeaders });
      checkEqual(a.status, 200, 'status of open');
      await sleep(gap + allowance); // from the open's answer: the server's gap ran from before it
      checkEqual(await statusOn(ctx, headerOf(a.headers, Header.connection), 'receive'), 404, `receive ${gap} ms + ${allowance} ms after an open with no receive`);
    },
  }),
  serverCase({
    id: 'HT-18/resume-ws-to-http',
    spec: ['HT-18', 'RS-2', 'RS-5'],
    level: 'MUST',
    requires: ['http-transport', 'publish', 'resume', 'inbox'],
    carrier: 'http',
    description:
      'a session on a WebSocket drops (WebSockets blocked); a Hello over HTTP resumes it: RESUMED, exactly the missed frames with their seqs, then live ones; client seqs continue',
    async run(ctx) {
      const ch = ctx.channel();
      const id = await sessionThatDrops(ctx, 'ws', ch, async (p) => {
        p.vanish();
        await p.waitClose(1000);
      });
      await resumeOn(ctx, 'http', id, ch, 'HT-18');
    },
  }),
  serverCase({
    id: 'HT-18/resume-http-to-ws',
    spec: ['HT-18', 'RS-2', 'RS-5'],
    level: 'MUST',
    requires: ['http-transport', 'publish', 'resume', 'inbox'],
    carrier: 'http',
    description:
      'a session over HTTP is closed 1001 "transport switch" (WebSockets work again); a Hello on a WebSocket resumes it: RESUMED, exactly the missed frames with their seqs, then live ones; client seqs continue',
    async run(ctx) {
      const ch = ctx.channel();
      const id = await sessionThatDrops(ctx, 'http', ch, async (p) => {
        p.close(codeOf('GOING_AWAY'), 'transport switch');
        await p.waitClose(2000 + ctx.slackMs);
      });
      await resumeOn(ctx, 'ws', id, ch, 'HT-18');
    },
  }),
];
