/**
 * A client that speaks both carriers (spec §22.7; feature `client-http-transport`): when it falls back
 * to HTTP and when it does not (HT-21, HT-22), the WebSocket probe and the switch back that resumes
 * the session (HT-23 … HT-25), and the client side of the carrier: a cut is not a close (HT-26), one
 * send in flight (HT-28), the connection id in a header only (HT-29). The fake server refuses upgrades
 * the way a proxy that strips `Upgrade` does (426) and serves the HTTP carrier on the same URL.
 */
import { ResumeOutcome, ResumeReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import type { ClientCaseContext } from '../../client-mode/harness.js';
import type { ClientProcess } from '../../client-mode/control.js';
import type { HttpServerConn } from '../../client-mode/fake-http.js';
import { CaseFailure, check, checkEqual, NotApplicable } from '../../framework/failure.js';
import { checkWithin, latenessOver, type SpanLateness } from '../timing.js';
import { b64, clientCase, sleep, type ClientCase } from './util.js';

/** §22.7's defaults when the config declares none. */
const FALLBACK_AFTER_DEFAULT = 2;
const WS_RETRY_DEFAULT_MS = 60_000;
const BUFFERING_DETECT_DEFAULT_MS = 1500;

/** HT-27: the least room between httpBufferingDetectMs and the handshake timeout (a poll's round trip on loopback). */
const HT27_MIN_ROOM_MS = 40;
/** HT-27: the poll may be measured this much early (the timer starts before the request reaches the runner). */
const HT27_EARLY_MS = 5;

/**
 * When the poll may come after the stream request began (session 9): from the detection time (timers
 * never fire early; the measured lateness of either side moves the two instants the runner stamps)
 * to one more wait (a timer may fire late for reasons not measured), plus the slack, plus what was
 * measured, plus one more wait per half a wait of measured client lateness (HT-27: a client SHOULD
 * wait again when its timer fired late by more than half the wait). Without a measurement (not
 * Linux) the bounds of session 8: detection ± slack, up to two waits.
 */
function ht27PollBounds(ctx: ClientCaseContext, detect: number, late: SpanLateness | undefined): { min: number; max: number } {
  if (late === undefined) return { min: detect - ctx.slackMs, max: 2 * detect + ctx.slackMs };
  const measured = late.clientMs + late.runnerMs;
  const rewaits = 1 + Math.floor((2 * late.clientMs) / detect);
  ctx.note(`measured lateness over the wait: the client waited ${late.clientMs} ms for a CPU, the runner stalled up to ${late.runnerMs} ms`);
  return { min: detect - HT27_EARLY_MS - measured, max: detect * (1 + rewaits) + ctx.slackMs + measured };
}

const fallbackAfter = (ctx: ClientCaseContext) => Math.max(1, ctx.client.httpFallbackAfter ?? FALLBACK_AFTER_DEFAULT);
const wsRetryMs = (ctx: ClientCaseContext) => ctx.client.wsRetryMs ?? WS_RETRY_DEFAULT_MS;
/** Enough for `n` attempts of a series with its backoff (the cap each time) and the 1 s of a 503. */
const attemptsBudgetMs = (ctx: ClientCaseContext, n: number) => n * (ctx.client.reconnectCapMs + ctx.slackMs) + 3000;

const enc = new TextEncoder();

/** The attempts so far, as `ws:426 ws:426 http:200` for messages. */
function shown(ctx: ClientCaseContext): string {
  return ctx.server
    .attempts()
    .map((a) => `${a.transport}:${a.status ?? (a.transport === 'ws' ? 'open' : '?')}`)
    .join(' ');
}

async function attemptsReach(ctx: ClientCaseContext, n: number, what: string): Promise<ReturnType<ClientCaseContext['server']['attempts']>> {
  await ctx.server.until(() => ctx.server.attempts().length >= n, attemptsBudgetMs(ctx, n), what).catch(() => {
    throw new CaseFailure(`${what}: only ${ctx.server.attempts().length} attempts came (${shown(ctx)})`);
  });
  return ctx.server.attempts();
}

/**
 * Upgrades refused 426 (a proxy that strips `Upgrade`) and the HTTP carrier on: the client falls back
 * after `httpFallbackAfter` attempts (HT-21); its first HTTP connection is welcomed with `sessionId`.
 */
async function overHttp(ctx: ClientCaseContext, sessionId = 'sess-http'): Promise<{ client: ClientProcess; conn: HttpServerConn; connectedAt: number }> {
  ctx.server.refuseAll = { status: 426 };
  const carrier = ctx.server.enableHttp();
  const client = await ctx.start();
  const conn = await ctx.server.until(() => carrier.conns[0], attemptsBudgetMs(ctx, fallbackAfter(ctx) + 1), 'an HTTP open after the refused upgrades (HT-21)').catch(() => {
    throw new CaseFailure(`no HTTP connection after upgrades refused 426: attempts ${shown(ctx)} (HT-21)`);
  });
  await conn.hello(5000, (c, ms, what) => ctx.server.until(c, ms, what));
  const mark = client.mark();
  conn.welcome({ sessionId });
  const connected = await client.until((e) => e.event === 'state' && e.state === 'connected', 3000, 'the client to report connected over HTTP', mark);
  return { client, conn, connectedAt: connected.at };
}

const requires = ['client-http-transport'] as const;

export const httpSwitchClientCases: ClientCase[] = [
  clientCase({
    id: 'HT-21/fallback-after-refused-upgrades',
    spec: ['HT-21', 'HT-20', 'HT-1'],
    level: 'MUST',
    requires,
    description: 'upgrades refused 426 (a proxy stripping Upgrade): the first attempt is a WebSocket, and the attempt after httpFallbackAfter such refusals is an HTTP open to the same URL',
    async run(ctx) {
      const after = fallbackAfter(ctx);
      ctx.server.refuseAll = { status: 426 };
      ctx.server.enableHttp();
      await ctx.start();
      const as = await attemptsReach(ctx, after + 1, `attempt ${after + 1}`);
      ctx.note(`attempts: ${shown(ctx)} (httpFallbackAfter ${after})`);
      checkEqual(as[0]?.transport, 'ws', 'carrier of the first attempt (HT-20: the first of transports, WebSocket)');
      for (let i = 0; i < after; i++) checkEqual(as[i]?.transport, 'ws', `carrier of attempt ${i + 1} (fewer than httpFallbackAfter refusals so far)`);
      checkEqual(as[after]?.transport, 'http', `carrier of attempt ${after + 1}, after ${after} upgrades refused 426 (HT-21)`);
      checkEqual(as[after]?.url, as[0]?.url, 'the HTTP open goes to the URL of the upgrade (HT-1)');
    },
  }),
  clientCase({
    id: 'HT-21/admission-refusals-do-not-count',
    spec: ['HT-21'],
    level: 'MUST',
    requires: ['client-http-transport', 'http-status'],
    description: 'upgrades refused 401, 401 and 503 (admission answers: the server was reached) never send the client to HTTP: the next attempt is a WebSocket again',
    timeoutMs: 30_000,
    async run(ctx) {
      const after = fallbackAfter(ctx);
      ctx.server.refusals = [...Array.from({ length: after }, () => ({ status: 401 })), { status: 503, headers: { 'retry-after': '1' } }];
      ctx.server.enableHttp();
      await ctx.start();
      const n = after + 2;
      const as = await attemptsReach(ctx, n, `attempt ${n}`);
      ctx.note(`attempts: ${shown(ctx)}`);
      const http = as.slice(0, n).findIndex((a) => a.transport === 'http');
      if (http >= 0) throw new CaseFailure(`attempt ${http + 1} went over HTTP after upgrades refused with admission answers (${shown(ctx)}): 401, 403, 429 and 503 never count toward a switch (HT-21)`);
    },
  }),
  clientCase({
    id: 'HT-22/busy-or-missing-http-back-to-ws',
    spec: ['HT-22', 'HT-21'],
    level: 'MUST',
    requires,
    description: 'over HTTP after refused upgrades, an open refused 503 sends the next attempt back to WebSocket, and so does an open answered 404 (a server without the carrier); the WebSocket count starts again each time',
    timeoutMs: 40_000,
    async run(ctx) {
      const after = fallbackAfter(ctx);
      ctx.server.refuseAll = { status: 426 };
      const carrier = ctx.server.enableHttp();
      carrier.openRefusals = [{ status: 503, headers: { 'retry-after': '1' } }, { status: 404 }];
      await ctx.start();
      const n = 2 * (after + 1) + 1;
      const as = await attemptsReach(ctx, n, `attempt ${n}`);
      ctx.note(`attempts: ${shown(ctx)}`);
      const want = [...Array.from({ length: after }, () => 'ws'), 'http', ...Array.from({ length: after }, () => 'ws'), 'http', 'ws'];
      checkEqual(
        as.slice(0, n).map((a) => a.transport).join(' '),
        want.join(' '),
        `carriers of the attempts (upgrades 426; opens refused 503, then 404): after each refused open the next attempt is a WebSocket, and ${after} more WebSocket failures precede the next open (HT-22)`,
      );
    },
  }),
  clientCase({
    id: 'HT-23+HT-25/probe-then-switch-resumes',
    spec: ['HT-23', 'HT-24', 'HT-25', 'RS-10'],
    level: 'MUST',
    requires,
    timeoutMs: 30_000,
    description:
      'connected over HTTP, the client probes a WebSocket after wsRetryMs; a probe refused doubles the wait; a probe that opens sends nothing and is closed 1000; the client then closes HTTP 1001 "transport switch" and resumes over a WebSocket at once with its session id and last_server_seq',
    async run(ctx) {
      const retry = wsRetryMs(ctx);
      const { client, conn, connectedAt } = await overHttp(ctx, 'sess-switch');
      for (const p of ['a', 'b', 'c']) conn.message(enc.encode(p));
      await client.until((e) => e.event === 'message' && e.payload === b64('c'), 3000, 'the three messages over HTTP');
      // probe 1: still refused (the proxy); probe 2: the WebSocket opens
      const before = ctx.server.upgrades.length;
      const p1 = await ctx.server.until(() => ctx.server.upgrades[before], retry + ctx.slackMs + 3000, 'the first WebSocket probe (HT-23)');
      ctx.server.refuseAll = undefined;
      checkWithin(ctx, 'first probe after connecting over HTTP', p1.at - connectedAt, { min: retry - ctx.slackMs, max: retry + ctx.slackMs }, 'HT-23: wsRetryMs');
      const probe = await ctx.server.conn(1, 2 * retry + ctx.slackMs + 3000);
      checkWithin(ctx, 'second probe after the refused first', probe.openedAt - p1.at, { min: 2 * retry - ctx.slackMs, max: 2 * retry + 2 * ctx.slackMs }, 'HT-24: the wait doubles after a failed probe');
      const closed = await probe.waitClosed(2000 + ctx.slackMs);
      check(!closed.byServer, 'the runner closed the probe');
      checkEqual(closed.code, 1000, 'close code of the probe (HT-23: NORMAL)');
      checkEqual(probe.frames.length, 0, `frames on the probe (HT-23: no Hello; got ${probe.frames.map((f) => f.env.body.case).join(', ')})`);
      // the switch: the HTTP connection closed 1001 "transport switch", then a WebSocket that resumes
      const cc = await ctx.server.until(() => conn.clientClose, 2000 + ctx.slackMs, 'the CLOSE record of the HTTP connection (HT-25)');
      checkEqual(`${cc.code} ${cc.reason}`, '1001 transport switch', 'CLOSE record of the HTTP connection after the probe opened (HT-25)');
      const ws = await ctx.server.conn(2, 2000 + ctx.slackMs);
      checkWithin(ctx, 'resuming WebSocket after the probe opened', ws.openedAt - probe.openedAt, { max: 2 * ctx.slackMs + 200 }, 'HT-25: at once, no backoff');
      const hello = await ws.hello(2000);
      checkEqual(hello.sessionId, 'sess-switch', 'Hello.session_id over the WebSocket after the switch (HT-25, RS-10)');
      checkEqual(hello.lastServerSeq, 3n, 'Hello.last_server_seq after three messages over HTTP (HT-25)');
      const mark = client.mark();
      ws.welcome({ sessionId: 'sess-switch', resume: { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.NOT_REQUESTED, fromSeq: 4n, replayed: 0 } });
      ws.setNextSeq(4n);
      ws.message(enc.encode('d'));
      await client.until((e) => e.event === 'message' && e.payload === b64('d'), 3000, 'a message over the WebSocket after the switch', mark);
    },
  }),
  clientCase({
    id: 'HT-26/cut-receive-repeated-then-closed',
    spec: ['HT-26', 'HT-7'],
    level: 'MUST',
    requires,
    description:
      'over HTTP, a receive cut after carrying frames is followed at once by one with the new Lifeline-Ack; a receive cut before any frame is repeated at once with the same Ack; a second such cut in a row ends the connection (the client asks no more on it and leaves connected)',
    async run(ctx) {
      const { client, conn } = await overHttp(ctx);
      conn.message(enc.encode('a'));
      conn.message(enc.encode('b'));
      await client.until((e) => e.event === 'message' && e.payload === b64('b'), 3000, 'two messages over HTTP');
      const k = conn.receives.length;
      const mark = client.mark();
      conn.onReceiveStart = () => 'cut'; // every receive from now on: cut before any frame
      const cutAt = performance.now();
      conn.cut();
      const wait = (i: number, what: string) => ctx.server.until(() => conn.receives[i], 1000 + ctx.slackMs, what).catch(() => {
        throw new CaseFailure(`${what}: none came (HT-26: a cut is not a close; the receive is repeated at once)`);
      });
      const r1 = await wait(k, 'a receive after the one cut after carrying 3 frames');
      checkEqual(r1.ack, 3, 'Lifeline-Ack of the receive after the cut (Welcome and two messages received whole, HT-7)');
      checkWithin(ctx, 'receive after the cut', r1.at - cutAt, { max: ctx.slackMs + 100 }, 'HT-26: at once');
      const r2 = await wait(k + 1, 'a repeat of the receive cut before any frame');
      checkEqual(r2.ack, 3, 'Lifeline-Ack of the repeated receive (HT-26: the same way)');
      const gaveUp = await client.until((e) => (e.event === 'state' && e.state !== 'connected') || e.event === 'closed', 2000 + ctx.slackMs, 'the client to end the connection after two failed receives in a row (HT-26)', mark);
      ctx.note(`after the second cut the client reported ${JSON.stringify(gaveUp.e)}`);
      await sleep(100);
      check(conn.receives.length === k + 2, `${conn.receives.length - k - 2} more receives on the connection after the second consecutive failure (HT-26: it ends the connection)`);
    },
  }),
  clientCase({
    id: 'HT-27/buffered-stream-then-poll',
    spec: ['HT-27', 'HT-8'],
    level: 'MUST',
    requires,
    description:
      'behind a proxy that holds a stream response whole (no head, no KEEPALIVE), the client gives the stream up after httpBufferingDetectMs and polls for the rest of the connection: the Welcome and later messages arrive by poll',
    async run(ctx) {
      const detect = ctx.client.httpBufferingDetectMs ?? BUFFERING_DETECT_DEFAULT_MS;
      // N/A only when the declared values leave no room (session 9): the Welcome comes by the first
      // poll, so the handshake timeout must outlast the detection time by a poll's round trip. The
      // slack no longer decides it: under load a derived slack past the room made the case N/A, and
      // its mutant live, while the client itself was rarely that late (its lateness is measured below).
      const room = ctx.client.handshakeTimeoutMs - detect;
      if (room < HT27_MIN_ROOM_MS) {
        throw new NotApplicable(`httpBufferingDetectMs ${detect} is not ${HT27_MIN_ROOM_MS} ms below the handshake timeout ${ctx.client.handshakeTimeoutMs}: behind a buffering proxy the handshake would time out first (declare a shorter one)`);
      }
      ctx.server.refuseAll = { status: 426 };
      const carrier = ctx.server.enableHttp();
      carrier.bufferStreams = true;
      const client = await ctx.start();
      const conn = await ctx.server.until(() => carrier.conns[0], attemptsBudgetMs(ctx, fallbackAfter(ctx) + 1), 'an HTTP open after the refused upgrades').catch(() => {
        throw new CaseFailure(`no HTTP connection after upgrades refused 426: attempts ${shown(ctx)}`);
      });
      const openedAt = carrier.requests.filter((r) => r.op === 'open').at(-1)?.at ?? performance.now();
      // A client starved for longer than the room between its detection time and its handshake timeout
      // cannot have polled in time, however right it is: the run cannot judge it (ERROR, not FAIL).
      const judged = async <T>(p: Promise<T>): Promise<T> =>
        p.catch((err: unknown) => {
          const waited = client.waitedForCpuMs(openedAt, performance.now());
          if (waited !== undefined && waited >= room) {
            throw new Error(`not judged: the client process waited ${waited} ms for a CPU since its HTTP open, more than the ${room} ms between httpBufferingDetectMs and its handshake timeout (the machine is overloaded). The case reported: ${err instanceof Error ? err.message : String(err)}`);
          }
          throw err;
        });
      await judged(conn.hello(5000, (c, ms, what) => ctx.server.until(c, ms, what)));
      conn.welcome({ sessionId: 'sess-poll' });
      const first = await judged(ctx.server.until(() => conn.receives[0], 2000 + ctx.slackMs, 'the first receive'));
      checkEqual(first.mode, 'stream', 'Lifeline-Receive of the first receive (HT-27: stream first)');
      const poll = await judged(
        ctx.server.until(() => conn.receives[1], 4 * detect + ctx.slackMs + 1000, 'a receive after the held stream').catch(() => {
          throw new CaseFailure(`no receive after a stream held ${Math.round(performance.now() - first.at)} ms with no KEEPALIVE (httpBufferingDetectMs ${detect}; HT-27: the client polls)`);
        }),
      );
      checkEqual(poll.mode, 'poll', 'Lifeline-Receive of the receive after a stream that carried no KEEPALIVE (HT-27)');
      checkWithin(ctx, 'poll after the held stream began', poll.at - first.at, ht27PollBounds(ctx, detect, latenessOver(client, first.at, poll.at)), 'HT-27: httpBufferingDetectMs');
      await judged(client.until((e) => e.event === 'state' && e.state === 'connected', 3000, 'the client to report connected (its Welcome came by poll)'));
      conn.message(enc.encode('p1'));
      conn.message(enc.encode('p2'));
      await client.until((e) => e.event === 'message' && e.payload === b64('p2'), 3000, 'two messages by poll');
      const modes = conn.receives.slice(1).map((r) => r.mode);
      check(modes.every((m) => m === 'poll'), `receives after the switch asked for ${modes.join(', ')} (HT-27: poll for the rest of the connection)`);
      ctx.note(`${modes.length} poll receives after the held stream`);
    },
  }),
  clientCase({
    id: 'HT-28/one-send-in-flight',
    spec: ['HT-28'],
    level: 'MUST',
    requires,
    description: 'over HTTP, messages written 40 ms apart (up to twelve, the client queue permitting) while each send is answered 150 ms late go in at most one send at a time and one receive at a time, the ones written meanwhile batched into the next send',
    async run(ctx) {
      const { client, conn } = await overHttp(ctx);
      conn.holdSendMs = 150;
      const sendsBefore = conn.sends;
      // as many as the client's queue takes at once (BP-13)
      const n = Math.max(3, Math.min(12, ctx.client.queueLimitMessages));
      for (let i = 0; i < n; i++) {
        client.command({ cmd: 'send', id: `s${i}`, payload: b64(`p${i}`) });
        await sleep(40); // one every 40 ms: several are written while a send is held
      }
      await ctx.server.until(() => conn.frames.filter((f) => f.env.body.case === 'message').length >= n, 5000 + ctx.slackMs, `the ${n} messages over HTTP`);
      const sends = conn.sends - sendsBefore;
      ctx.note(`${n} messages in ${sends} sends; at most ${conn.maxSendsInFlight} send(s) and ${conn.maxReceivesInFlight} receive(s) in flight`);
      checkEqual(conn.maxSendsInFlight, 1, 'sends in flight at once on one connection (HT-28)');
      checkEqual(conn.maxReceivesInFlight, 1, 'receives in flight at once on one connection (HT-28)');
      check(sends < n, `${n} messages written while a send was in flight went in ${sends} sends: the ones written meanwhile go in the next (HT-28)`);
    },
  }),
  clientCase({
    id: 'HT-29/connection-id-header-only',
    spec: ['HT-29', 'HT-4', 'HT-1'],
    level: 'MUST',
    requires,
    description: 'every carrier request goes to the URL of the upgrade, never with the connection id in it; sends and receives carry the id in Lifeline-Connection; the Hello over HTTP carries the token as over a WebSocket',
    async run(ctx) {
      const { client, conn } = await overHttp(ctx);
      client.command({ cmd: 'send', id: 'x', payload: b64('x') });
      await ctx.server.until(() => conn.frames.some((f) => f.env.body.case === 'message'), 3000, 'a message over HTTP');
      const wsUrl = ctx.server.upgrades[0]?.url ?? '/lifeline';
      const reqs = ctx.server.carrier?.requests ?? [];
      for (const r of reqs) {
        if (r.url.includes(conn.id) || decodeURIComponent(r.url).includes(conn.id)) throw new CaseFailure(`a ${r.op} request carries the connection id in its URL ${JSON.stringify(r.url.replace(conn.id, '<id>'))} (HT-29, HT-4: only in the Lifeline-Connection header)`);
        checkEqual(r.url, wsUrl, `URL of a ${r.op} request (HT-1: the URL of the WebSocket endpoint)`);
        if (r.op === 'send' || r.op === 'receive') checkEqual(r.headers['lifeline-connection'] === conn.id, true, `${r.op} request names its connection in Lifeline-Connection (HT-29)`);
      }
      ctx.note(`${reqs.length} carrier requests checked`);
      if (ctx.client.features.includes('client-token')) {
        const hello = conn.frames[0]?.env.body;
        const token = hello?.case === 'hello' ? hello.value.token : '';
        check(token !== '' && client.tokens.some((t) => t.token === token), `the Hello over HTTP carries token ${JSON.stringify(token)}, not one the runner gave (HT-29, RC-5)`);
      }
    },
  }),
];
