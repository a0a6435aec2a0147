/**
 * The HTTP carrier's flow rules (spec §22.5, §22.6; feature `http-transport`): FRAME records in the
 * order of the Envelopes' seqs, one Envelope each (HT-9); the bounds of a send body, by size and by
 * time (HT-13, HT-14); the buffered amount that counts what the client has not acknowledged (HT-16);
 * no protocol ping over HTTP (HT-17); and the receive cut at a drain's deadline (HT-11). Every bound
 * is a declared value plus the run's slack; the requests are raw where a peer would hide the answer.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { BackpressurePolicy } from '../../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../../spec/protocol/close-codes.js';
import { decode, encode } from '../../../spec/protocol/codec.js';
import { CONTENT_TYPE, frameRecord, Header, PROTOCOL_TOKEN, RECORD_HEADER_BYTES } from '../../../spec/protocol/http-carrier.js';
import { CaseFailure, check, checkEqual, NotApplicable } from '../../framework/failure.js';
import { carrierExchange, carrierUrl, type ReceiveReader } from '../../server-mode/carrier.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import type { HttpPeer } from '../../server-mode/http-peer.js';
import { envelope, type PeerOptions } from '../../server-mode/peer.js';
import { checkWithin } from '../timing.js';
import { publishN, roundTrip, serverCase, sleep, textOf, type ServerCase } from './util.js';

/** §17: httpMaxSendBytes when the target declares none (HT-13). */
const HTTP_MAX_SEND_DEFAULT_BYTES = 4 * 1024 * 1024;
/** §17: the BP-4 high-water mark when the target declares none. */
const HIGH_WATER_DEFAULT_BYTES = 1024 * 1024;

async function httpPeer(ctx: ServerCaseContext, opts: PeerOptions = {}): Promise<HttpPeer> {
  return (await ctx.peer({ ...opts, transport: 'http' })) as HttpPeer;
}

/** A decoded FRAME record: its Envelope's body kind, the seq and text of a Message. */
interface FrameInfo {
  readonly kind: string;
  readonly seq?: bigint;
  readonly text?: string;
  readonly bytes: number;
}

function frameInfo(f: Uint8Array): FrameInfo {
  const d = decode(f, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
  if (!d.ok) throw new CaseFailure(`a FRAME record (${f.byteLength} B) is not one valid Envelope (HT-9, WIRE-1): ${d.error.message}`);
  const b = d.envelope.body;
  return b.case === 'message' ? { kind: 'message', seq: b.value.seq, text: textOf(b.value.payload), bytes: f.byteLength } : { kind: b.case ?? 'none', bytes: f.byteLength };
}

/**
 * Receives on `p` from Ack `ack`, one after the other, each re-requested at once with the FRAME
 * records received so far when the previous ends (§22.5), until `done` holds over the frames.
 */
async function receiveUntil(p: HttpPeer, ack: number, done: (frames: readonly Uint8Array[]) => boolean, timeoutMs: number, what: string): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  const deadline = performance.now() + timeoutMs;
  while (!done(frames)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new CaseFailure(`${what}: not there within ${timeoutMs} ms (${frames.length} FRAME records)`);
    const r = p.startReceive(ack + frames.length);
    await r.until(() => done([...frames, ...r.frames()]) || r.ended || r.broken, left, what).catch(() => undefined);
    frames.push(...r.frames());
    if (r.broken && !done(frames)) throw new CaseFailure(`${what}: the receive was ${r.broken} after ${frames.length} FRAME records`);
    if (!r.ended) r.cut();
  }
  return frames;
}

/** A request written by hand on its own TCP connection: the status, when it came, when the server closed. */
interface RawAnswer {
  status: number;
  statusAt: number | undefined;
  closedAt: number | undefined;
}

/**
 * Write the head of a send and `body` (possibly incomplete), then wait for the status line, and with
 * `untilClose` for the server to close the TCP connection too; at most `ms`.
 */
function rawSend(wsUrl: string, headers: Readonly<Record<string, string>>, body: Uint8Array, ms: number, untilClose = false): Promise<RawAnswer & { startedAt: number }> {
  const u = new URL(carrierUrl(wsUrl));
  const lines = [`POST ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return new Promise((resolve) => {
    const out: RawAnswer = { status: 0, statusAt: undefined, closedAt: undefined };
    const startedAt = performance.now();
    const s = connect({ host: u.hostname, port: Number(u.port) });
    let head = '';
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ...out, startedAt });
    };
    const timer = setTimeout(finish, ms);
    s.on('connect', () => {
      s.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      if (body.byteLength > 0) s.write(body);
    });
    s.on('data', (d: Buffer) => {
      if (out.statusAt !== undefined) return;
      head += d.toString('latin1');
      const m = /^HTTP\/\d\.\d (\d{3})/.exec(head);
      if (m) {
        out.status = Number(m[1]);
        out.statusAt = performance.now();
        if (!untilClose) finish();
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      out.closedAt = performance.now();
      finish();
    });
  });
}

/** The headers of a send on `p` at carrier index `seq`. */
function sendHeaders(p: HttpPeer, seq: number, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.headers({ [Header.seq]: String(seq) }))) if (v !== undefined) h[k] = v;
  return { ...h, [Header.op]: 'send', [Header.protocol]: PROTOCOL_TOKEN, 'Content-Type': CONTENT_TYPE, ...extra };
}

/**
 * A send whose chunked body grows chunk by chunk (`next` gives each) until the server answers or
 * `limit` bytes went out; the body is never ended. Resolves with the status and the bytes written by then.
 */
function growingSend(wsUrl: string, headers: Readonly<Record<string, string>>, next: () => Uint8Array, limit: number, ms: number): Promise<{ status: number; written: number }> {
  return new Promise((resolve) => {
    let written = 0;
    let isDone = false;
    const req = httpRequest(carrierUrl(wsUrl), { method: 'POST', headers: { ...headers, 'Transfer-Encoding': 'chunked' } });
    const finish = (status: number) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status, written });
    };
    const timer = setTimeout(() => finish(0), ms);
    req.on('response', (res) => {
      res.resume();
      finish(res.statusCode ?? 0);
    });
    req.on('error', () => finish(0));
    const pump = () => {
      while (!isDone && written < limit) {
        const c = next();
        written += c.byteLength;
        if (!req.write(c)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

export const httpFlowCases: ServerCase[] = [
  serverCase({
    id: 'HT-9/frames-in-seq-order',
    spec: ['HT-9', 'WIRE-1', 'SEQ-2'],
    level: 'MUST',
    requires: ['http-transport', 'publish'],
    carrier: 'http',
    description:
      'a burst of published messages comes over HTTP as FRAME records in the order of their seqs, one valid Envelope per record: seqs 1, 2, 3 … with the payloads in publish order, none merged, none swapped',
    async run(ctx) {
      const ch = ctx.channel();
      const n = 24 + Math.floor(ctx.random() * 16);
      const p = await httpPeer(ctx, { receive: 'manual' });
      p.hello({ receiveWindow: 1024, channels: [ch] });
      const first = await receiveUntil(p, 0, (fs) => fs.length >= 1, 3000, 'the Welcome');
      checkEqual(frameInfo(first[0] as Uint8Array).kind, 'welcome', 'body of the first FRAME record');
      await publishN(ctx, ch, n);
      const frames = await receiveUntil(p, 1, (fs) => fs.filter((f) => frameInfo(f).kind === 'message').length >= n, 3000, `${n} published messages`);
      const got = frames.map(frameInfo).filter((f) => f.kind === 'message');
      ctx.note(`${n} messages in ${frames.length} FRAME records`);
      for (let i = 0; i < n; i++) {
        const m = got[i] as FrameInfo;
        const want = `${i + 1}:m${i}`;
        if (`${m.seq}:${m.text}` !== want) {
          throw new CaseFailure(`FRAME record of message ${i + 1} carries seq:payload ${m.seq}:${m.text}, expected ${want} (HT-9: the records follow the order the Envelopes were written, one Envelope per record)`);
        }
      }
    },
  }),
  serverCase({
    id: 'HT-13/send-over-cap-413',
    spec: ['HT-13'],
    level: 'MUST',
    requires: ['http-transport', 'inbox'],
    carrier: 'http',
    description:
      'a send whose Content-Length exceeds httpMaxSendBytes is answered 413 before its body is sent; a chunked send whose body grows past httpMaxSendBytes is answered 413 while it is still being written',
    async run(ctx) {
      const cap = ctx.server.httpMaxSendBytes ?? Math.max(HTTP_MAX_SEND_DEFAULT_BYTES, ctx.server.maxPayloadBytes + RECORD_HEADER_BYTES);
      // its own Heartbeats go in the raw sends below: a peer's send in flight beside them would be a second send (409, HT-6)
      const p = await httpPeer(ctx, { heartbeatMs: 0 });
      const w = await p.handshake();
      await p.settled();
      const beat = async (id: number) => checkEqual(await p.rawSend(p.reserve(1), frameRecord(encode(envelope('heartbeat', { id, sentAtMs: 1n }))), 'a Heartbeat'), 204, 'status of a send of one Heartbeat');
      await beat(0x1301);
      // 1: the declared length alone; not a byte of the body is sent
      const declared = await rawSend(ctx.url, sendHeaders(p, p.framesSent, { 'Content-Length': String(cap + 1) }), new Uint8Array(0), ctx.server.handshakeTimeoutMs + ctx.slackMs + 1000);
      ctx.transcript.event('http', `send with Content-Length ${cap + 1} and no body: HTTP ${declared.status}`);
      if (declared.status !== 413) {
        throw new CaseFailure(`a send declaring Content-Length ${cap + 1} (httpMaxSendBytes ${cap} + 1) was answered ${declared.status === 0 ? 'nothing' : `HTTP ${declared.status}`} while its body was withheld; expected 413 from the header, before the body (HT-13)`);
      }
      checkWithin(ctx, '413 after the head of an oversized send', (declared.statusAt ?? 0) - declared.startedAt, { max: ctx.server.handshakeTimeoutMs / 2 + ctx.slackMs }, 'HT-13: before the body, not at a body deadline');
      // 2: no length declared, a body that grows: one Message, then the same Message again (duplicates,
      // SEQ-3), each record under maxPayloadBytes, with a Heartbeat now and then so the session stays alive
      await beat(0x1302);
      const payload = new Uint8Array(Math.max(1, Math.min(60 * 1024, ctx.server.maxPayloadBytes - 64))).fill(0x61);
      const msg = frameRecord(encode(envelope('message', { seq: 1n, payload })));
      let k = 0;
      const next = () => (k++ % 8 === 0 ? new Uint8Array(Buffer.concat([frameRecord(encode(envelope('heartbeat', { id: 0x1300 + k, sentAtMs: 1n }))), msg])) : msg);
      const limit = cap + 16 * msg.byteLength;
      const grown = await growingSend(ctx.url, sendHeaders(p, p.framesSent), next, limit, ctx.server.handshakeTimeoutMs + ctx.slackMs + 3000);
      ctx.transcript.event('http', `chunked send of ${grown.written} B (cap ${cap}): HTTP ${grown.status}`);
      ctx.note(`a growing body was answered HTTP ${grown.status} after ${grown.written} B were written (cap ${cap} B)`);
      if (grown.status !== 413) {
        throw new CaseFailure(
          `a chunked send body growing past httpMaxSendBytes (${cap} B; ${grown.written} B written, never ended) was answered ${grown.status === 0 ? 'nothing' : `HTTP ${grown.status}`}; expected 413 while it is read (HT-13)`,
        );
      }
      checkEqual((await ctx.hooks.inbox(w.sessionId)).length <= 1, true, 'the duplicated Message reached the application at most once (SEQ-3)');
    },
  }),
  serverCase({
    id: 'HT-14/stalled-send-408',
    spec: ['HT-14'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description:
      'a send whose body stops arriving half-way is answered 408 and its TCP connection closed by the server within the declared handshake timeout plus slack',
    async run(ctx) {
      const p = await httpPeer(ctx);
      await p.handshake();
      await p.settled();
      const whole = frameRecord(encode(envelope('heartbeat', { id: 0x1400, sentAtMs: 1n })));
      const part = whole.subarray(0, Math.max(1, whole.byteLength - 3));
      const bound = ctx.server.handshakeTimeoutMs + ctx.slackMs;
      const a = await rawSend(ctx.url, sendHeaders(p, p.reserve(1), { 'Content-Length': String(whole.byteLength) }), part, bound + 2000, true);
      ctx.transcript.event('http', `send of ${part.byteLength} of ${whole.byteLength} declared bytes, then nothing: HTTP ${a.status}${a.closedAt !== undefined ? ', then the TCP connection closed' : ''}`);
      if (a.status !== 408) throw new CaseFailure(`a send whose body stalled was answered ${a.status === 0 ? 'nothing' : `HTTP ${a.status}`}${a.closedAt !== undefined ? ' (the connection closed)' : ''} within ${bound + 2000} ms; expected 408 (HT-14)`);
      checkWithin(ctx, '408 after a stalled send began', (a.statusAt ?? 0) - a.startedAt, { max: bound }, 'HT-14: the handshake timeout');
      if (a.closedAt === undefined) throw new CaseFailure('the server answered 408 to a stalled send and kept its TCP connection open (HT-14: closed, the rest of the body is never read)');
      checkWithin(ctx, 'TCP connection closed after a stalled send began', a.closedAt - a.startedAt, { max: bound + ctx.slackMs }, 'HT-14');
    },
  }),
  serverCase({
    id: 'HT-16/unacked-receive-pauses-queue',
    spec: ['HT-16', 'BP-4', 'BP-3'],
    level: 'MUST',
    requires: ['http-transport', 'publish', 'policy:DROP_OLDEST'],
    carrier: 'http',
    timeoutMs: 30_000,
    description:
      'a client that reads its receives but never acknowledges them (Lifeline-Ack stays put) is written no more than the high-water mark and one frame: the session queue stops; once it acknowledges, the rest comes, each message delivered or counted in dropped_before',
    async run(ctx) {
      const ch = ctx.channel();
      const highWater = ctx.server.bufferedAmountHighWaterBytes ?? HIGH_WATER_DEFAULT_BYTES;
      const size = Math.min(8 * 1024, Math.floor(ctx.server.maxPayloadBytes / 2));
      const window = Math.min(1024, ctx.server.replayWindowMessages, Math.floor((ctx.server.replayWindowBytes ?? 4 * 1024 * 1024) / size));
      const n = Math.ceil((3 * highWater) / size);
      if (n > window) throw new NotApplicable(`a window of ${window} × ${size} B cannot outgrow the high-water mark (${highWater} B) three times`);
      const p = await httpPeer(ctx, { receive: 'manual' });
      p.hello({ receiveWindow: window, channels: [ch], preferredPolicy: BackpressurePolicy.DROP_OLDEST });
      await receiveUntil(p, 0, (fs) => fs.length >= 1, 3000, 'the Welcome');
      // the client acknowledged the Welcome (Ack 1) and nothing after it, for as long as this runs
      const seen = new Map<bigint, number>();
      let largest = 0;
      let receives = 0;
      const sweep = async (ms: number) => {
        const end = performance.now() + ms;
        while (performance.now() < end) {
          const r: ReceiveReader = p.startReceive(1);
          receives++;
          await r.until(() => r.ended || r.broken, Math.max(20, Math.min(200, end - performance.now())), 'a receive').catch(() => undefined);
          if (!r.ended) r.cut();
          for (const f of r.frames()) {
            const x = frameInfo(f);
            if (x.kind === 'message' && x.seq !== undefined) seen.set(x.seq, RECORD_HEADER_BYTES + x.bytes);
            largest = Math.max(largest, RECORD_HEADER_BYTES + x.bytes);
          }
          if (r.status === 404) throw new CaseFailure('the connection was forgotten while its client kept receiving (a receive answered 404)');
          await sleep(10);
        }
      };
      const body = new Uint8Array(size);
      for (let i = 0; i < n; i += 16) {
        await ctx.hooks.publish(ch, Array.from({ length: Math.min(16, n - i) }, (_, k) => ({ payload: body.map((_x, j) => (j < 6 ? (((i + k) >> (j * 4)) & 15) + 48 : 0)) })));
      }
      // several heartbeat intervals of receives that acknowledge nothing new
      await sweep(Math.max(600, 4 * ctx.server.heartbeatIntervalMs));
      const unacked = [...seen.values()].reduce((a, b) => a + b, 0);
      const allowance = highWater + largest + 1024;
      ctx.note(`${n} messages of ${size} B published; ${seen.size} (${unacked} B) written to a client that acknowledged none of them over ${receives} receives (high-water mark ${highWater} B)`);
      const bound = (ctx.server.replayWindowBytes ?? 4 * 1024 * 1024) + 2 * highWater + ctx.server.maxPayloadBytes;
      if (unacked > allowance) {
        throw new CaseFailure(
          `${seen.size} messages (${unacked} B) were written to a client that acknowledged none: more than the high-water mark ${highWater} B and one frame (HT-16: unacknowledged frames count in the buffered amount, so BP-4 pauses the queue${unacked > bound ? `; past ${bound} B the connection must be terminated` : ''})`,
        );
      }
      // it acknowledges: the queue moves again, and every message is delivered or counted as dropped (BP-3, BP-10)
      const accounted = (fs: readonly Uint8Array[]) => {
        const ms = fs.map((f) => decode(f, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER })).flatMap((d) => (d.ok && d.envelope.body.case === 'message' ? [d.envelope.body.value] : []));
        return ms.reduce((a, m) => a + 1 + m.droppedBefore, 0) >= n;
      };
      const frames = await receiveUntil(p, 1, accounted, 5000, 'every message delivered or counted in dropped_before once the client acknowledges');
      const ms = frames.map(frameInfo).filter((f) => f.kind === 'message');
      check(ms.length > seen.size, `acknowledging did not resume the queue: ${ms.length} messages after, ${seen.size} before`);
    },
  }),
  serverCase({
    id: 'HT-17/no-ping-counted',
    spec: ['HT-17', 'HB-2', 'HB-8'],
    level: 'MUST',
    requires: ['http-transport'],
    carrier: 'http',
    description:
      'an HTTP connection whose client sends an application Heartbeat every interval stays up across twice the dead-peer bound: no protocol ping is counted against it (it could answer none)',
    async run(ctx) {
      const p = await httpPeer(ctx, { heartbeatMs: ctx.server.heartbeatIntervalMs });
      await p.handshake();
      await sleep(ctx.deadBoundMs * 2);
      if (p.closed) throw new CaseFailure(`the HTTP connection ${p.closed.abnormal ? 'was dropped' : `was closed ${p.closed.code} ${p.closed.reason}`} although its client sent a Heartbeat every interval (HT-17: no unanswered pings are counted over HTTP)`);
      await roundTrip(p);
      ctx.note(`up for ${Math.round(ctx.deadBoundMs * 2)} ms with a Heartbeat every ${ctx.server.heartbeatIntervalMs} ms`);
    },
  }),
  serverCase({
    id: 'HT-11+DR-5/drain-deadline-ends-receive',
    spec: ['HT-11', 'DR-5', 'HT-19', 'HT-4'],
    level: 'MUST',
    requires: ['http-transport', 'drain'],
    carrier: 'http',
    destructive: true,
    description:
      'a client over HTTP that stays through a drain (it does not leave at its slot) has its open receive ended by the deadline plus slack: a CLOSE record (1012, DR-4) or a cut without any record (HT-11), never a receive left open; the connection is then forgotten (404)',
    async run(ctx) {
      const d = ctx.server.drain ?? { deadlineMs: 1000, spreadMs: 500 };
      // heartbeats on sends of their own (rawSend): a 404 to one must not end the peer before its receive shows what the server did
      const p = await httpPeer(ctx, { receive: 'manual', heartbeatMs: 0 });
      let r = p.startReceive(0);
      p.hello({ receiveWindow: 1024 });
      await r.until(() => r.frames().length >= 1 || r.ended || r.broken, 3000, 'the Welcome');
      await p.settled();
      let beating = true;
      const beats = (async () => {
        for (let id = 1; beating; id++) {
          const status = await p.rawSend(p.reserve(1), frameRecord(encode(envelope('heartbeat', { id, sentAtMs: 1n }))), 'a Heartbeat');
          if (status === 404) return;
          await sleep(ctx.server.heartbeatIntervalMs / 2);
        }
      })();
      ctx.defer(() => {
        beating = false;
      });
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      const drainAt = performance.now();
      const waitUntil = drainAt + d.deadlineMs + ctx.slackMs + 1000;
      let frames = 0;
      // a stream that reaches its own bound ends: the next one goes on with the new Ack (§22.5)
      for (;;) {
        const cur = r;
        await cur.until(() => cur.ended || cur.broken || cur.closeRecord(), Math.max(1, waitUntil - performance.now()), 'the receive to end at the drain deadline').catch(() => undefined);
        if (!cur.ended && !cur.broken) {
          throw new CaseFailure(`the receive was still open ${Math.round(performance.now() - drainAt)} ms after a drain with a ${d.deadlineMs} ms deadline began (DR-5, HT-11: at the deadline the open receive is ended, with the CLOSE record or cut)`);
        }
        if (cur.closeRecord() || cur.broken || performance.now() - drainAt > d.deadlineMs + ctx.slackMs) break;
        frames += cur.frames().length;
        r = p.startReceive(frames);
      }
      const endedAt = r.endedAt ?? performance.now();
      const close = r.closeRecord();
      ctx.note(`the receive ended ${Math.round(endedAt - drainAt)} ms after the drain began: ${close ? `CLOSE record ${close.code} ${close.reason}` : r.broken ? `cut (${r.broken})` : 'ended without a CLOSE record'}`);
      if (!close && !r.broken) throw new CaseFailure('at the drain deadline the receive ended normally without a CLOSE record: a client takes that for the end of a stream and asks again (HT-11: a terminated connection is cut)');
      if (close) checkEqual(close.code, codeOf('SERVICE_RESTART'), 'code of the CLOSE record of a drain (DR-4)');
      checkWithin(ctx, 'receive ended after the drain began', endedAt - drainAt, { max: d.deadlineMs + ctx.slackMs }, 'DR-5, HT-11');
      beating = false;
      await beats;
      await sleep(20);
      const after = await carrierExchange(carrierUrl(ctx.url), { op: 'receive', headers: { ...ctx.authHeaders, ...p.headers({ [Header.ack]: String(frames + r.frames().length), [Header.receive]: 'poll' }) } });
      checkEqual(after.status, 404, 'status of a receive on the connection after the drain deadline (forgotten, HT-4)');
    },
  }),
];

