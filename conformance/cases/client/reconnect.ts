/**
 * Client reconnection and liveness (spec §6, §8, §13, §15): backoff bounds and
 * jitter, suspended, attempt reset, tokens, server delays, close(), handshake
 * and heartbeat timeouts, heartbeats, drain notices.
 */
import { ceilingMs as backoffCeilingMs, exponentAfter } from '../../oracle/close-advice.js';
import { checkWithin, latenessOver } from '../timing.js';
import { codeNamed as codeOf } from '../../oracle/close-advice.js';
import { check, checkEqual } from '../../framework/failure.js';
import type { ClientProcess } from '../../client-mode/control.js';
import type { ClientCaseContext } from '../../client-mode/harness.js';
import { envelope } from '../../server-mode/peer.js';
import { attempt, backoffBoundMs, clientCase, connected, noAttemptWithin, observedLossAt, ownWaitSpans, ownWaits, sleep, type ClientCase, type Span } from './util.js';

/** Fail every attempt right after its Hello with INTERNAL_ERROR (advice backoff), never welcoming it. */
function failEveryAttempt(ctx: ClientCaseContext, from = 0): () => void {
  let stopped = false;
  let handled = from;
  const loop = async () => {
    // the case's signal ends the loop too: a case that fails before calling stop() must not leave it running (issue 18, runner item 11)
    while (!stopped && !ctx.signal.aborted) {
      const c = ctx.server.conns[handled];
      if (c) {
        handled++;
        c.hello(3000)
          .then(() => c.close(codeOf('INTERNAL_ERROR'), 'conformance: fail'))
          .catch(() => undefined);
      }
      await sleep(2);
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}

/** Delays between each failing close and the next upgrade: attempt n's delay is delays[n]. */
function delaysBetween(ctx: ClientCaseContext, fromConn: number, count: number): Span[] {
  const out: Span[] = [];
  for (let i = fromConn; i < fromConn + count; i++) {
    const closed = ctx.server.conns[i]?.closed;
    const next = ctx.server.upgrades[i + 1];
    if (closed && next) out.push({ ms: Math.round(next.at - closed.at), from: closed.at, to: next.at });
  }
  return out;
}

/**
 * RC-2: the client's own wait may exceed its window by this much beyond what was measured (its
 * process's wait for a CPU, the runner's stall): its timer's callback, its report, a ms timer's
 * granularity. What the old fixed allowance (a quarter of the slack) left for those on an idle machine.
 */
const RC2_OWN_FLOOR_MS = 20;

/** Heartbeats of the silent-server cases (HB-4, HB-12): given up within 300 ms plus slack. */
const SILENT = { interval: 100, missed: 2 } as const;

/**
 * HB-4's interval: the declared one, or wider when the run's allowance (its slack, measured from this
 * machine's timer lateness unless the config declares one) would swallow one interval. A watchdog
 * that fires k intervals late (or early) is off by k × interval, and timers never fire early, so
 * with interval > slack + 5 a watchdog one interval early, or two late (`hb-4-watchdog-…` mutants),
 * falls outside [dead − 5, dead + slack] however busy the machine: its error grows with the
 * interval, the allowance for a correct client does not (session 8: at a derived slack of 450 ms
 * the 200 ms of two late intervals passed).
 */
function silentIntervalMs(slackMs: number): number {
  return Math.max(SILENT.interval, Math.ceil((slackMs + 10) / 10) * 10);
}

/** The client's first sign of giving a connection up: its close, or leaving `connected`. */
const givesUp: Parameters<ClientProcess['until']>[0] = (e) => e.event === 'closed' || (e.event === 'state' && e.state !== 'connected');

export const reconnectClientCases: ClientCase[] = [
  clientCase({
    id: 'RC-2/backoff-bounds-and-jitter',
    spec: ['RC-2', 'RC-3'],
    level: 'MUST',
    description: 'in a series begun by connect(), the wait after its k-th failed attempt is at most min(cap, base × 2ᵏ⁻¹) (+ slack), the cap included, and the delays are jittered, not the ceiling every time',
    timeoutMs: 40_000,
    async run(ctx) {
      const max = ctx.client.reconnectMaxAttempts;
      const client = await ctx.start();
      const stop = failEveryAttempt(ctx);
      ctx.defer(stop);
      // each sample with the allowance measured over its own spans (undefined: not measurable here)
      const samples: { n: number; delay: number; wait: number; ceiling: number; delayLate: number; ownLate: number | undefined }[] = [];
      // Four series: the off-by-one-exponent mutant survives a series that draws no long jitter about 1 in 4,
      // so three series let it through about 1.5 % of runs; four, about 0.4 % (issue 18 mutant, session 9).
      const cycles = 4;
      for (let cycle = 0; cycle < cycles; cycle++) {
        const first = ctx.server.conns.length;
        const from = client.events.length;
        const suspendedBefore = client.states().filter((s) => s === 'suspended').length;
        await ctx.server.until(
          () => client.states().filter((s) => s === 'suspended').length > suspendedBefore,
          backoffCeilingMs(max, ctx.client) * (max + 1) + 5000,
          `state suspended after ${max} failed attempts (RC-3)`,
        );
        await sleep(20);
        // the bound, measured by the runner: close frame sent → next upgrade (includes every latency)
        const ds = delaysBetween(ctx, first, max - 1);
        // the jitter, measured by the client's own reports: reconnecting → connecting (latency cancels out)
        const waits = ownWaitSpans(client, from);
        // RC-2 (§15.2): n counts the delays already taken in the series. Each cycle is a series begun by
        // an attempt (connect(), or reconnect() from suspended, RC-3), so the wait after its k-th failure is n = k − 1.
        ds.forEach((d: Span, k) => {
          const n = exponentAfter(k + 1, 'connect');
          const own = waits[k];
          const ownL = own === undefined ? undefined : latenessOver(client, own.from, own.to);
          samples.push({
            n,
            delay: d.ms,
            wait: own?.ms ?? d.ms,
            ceiling: backoffCeilingMs(n, ctx.client),
            delayLate: client.waitedForCpuMs(d.from, d.to) ?? 0,
            ownLate: ownL === undefined ? undefined : ownL.clientMs + ownL.runnerMs,
          });
        });
        client.command({ cmd: 'reconnect' });
      }
      stop();
      ctx.note(`delays (n: measured/own wait/ceiling ms [client's wait for a CPU over the delay/measured lateness of the own wait]): ${samples.map((s) => `${s.n}:${s.delay}/${s.wait}/${s.ceiling}[${s.delayLate}/${s.ownLate ?? '?'}]`).join(' ')}`);
      const capped = samples.filter((s) => ctx.client.reconnectBaseMs * 2 ** s.n > ctx.client.reconnectCapMs);
      ctx.note(capped.length > 0 ? `the cap ${ctx.client.reconnectCapMs} ms binds for n ≥ ${capped[0]?.n} (${capped.length} samples)` : `the cap ${ctx.client.reconnectCapMs} ms is not reached within ${max} attempts: not checked`);
      check(samples.length >= 3, `only ${samples.length} delays measured`);
      const rule = (s: (typeof samples)[number]) => (s.ceiling < ctx.client.reconnectBaseMs * 2 ** s.n ? 'RC-2: the cap' : 'RC-2');
      // The runner's measure: the slack, plus what the client process was measured waiting for a CPU
      // over that delay (the runner's stall monitor does not see a starved client, issue: RC-2 under load).
      const delayMax = (s: (typeof samples)[number]) => s.ceiling + ctx.slackMs + s.delayLate;
      const tightest = samples.reduce((a, s) => (delayMax(s) - s.delay < delayMax(a) - a.delay ? s : a));
      checkWithin(ctx, `the tightest wait (n = ${tightest.n}, ceiling ${tightest.ceiling} ms, the client waited ${tightest.delayLate} ms for a CPU)`, tightest.delay, { max: delayMax(tightest) }, rule(tightest));
      for (const s of samples) checkWithin({ note: () => undefined }, `attempt after ${s.n} failures waited`, s.delay, { max: delayMax(s) }, rule(s));
      // The client's own waits: both reports cross the same pipe, so the process hop cancels out and what
      // is left is timer lateness on either side: measured over each wait (the client's wait for a CPU,
      // the runner's worst stall) plus a 20 ms floor; where it cannot be measured (not Linux), a quarter
      // of the slack (at least 20 ms). This is what sees a window twice too wide (an exponent one too
      // high) through a large slack: a wait is widened only by lateness measured during it.
      const fixedOwn = Math.max(RC2_OWN_FLOOR_MS, Math.round(ctx.slackMs / 4));
      const ownMax = (s: (typeof samples)[number]) => s.ceiling + (s.ownLate === undefined ? fixedOwn : RC2_OWN_FLOOR_MS + s.ownLate);
      const tightestOwn = samples.reduce((a, s) => (ownMax(s) - s.wait < ownMax(a) - a.wait ? s : a));
      checkWithin(ctx, `the client's own tightest wait (n = ${tightestOwn.n}, ceiling ${tightestOwn.ceiling} ms, ${tightestOwn.ownLate === undefined ? `fixed allowance ${fixedOwn} ms` : `measured lateness ${tightestOwn.ownLate} ms`})`, tightestOwn.wait, { max: ownMax(tightestOwn) }, rule(tightestOwn));
      for (const s of samples) checkWithin({ note: () => undefined }, `the client's own wait after ${s.n} failures`, s.wait, { max: ownMax(s) }, rule(s));
      const jittered = samples.filter((s) => s.wait < 0.75 * s.ceiling).length;
      // full jitter: each wait is below 75 % of its ceiling with probability 3/4; all of 18 above it practically never
      check(jittered >= 1, `no wait below 75 % of its ceiling in ${samples.length} attempts: no full jitter (RC-2)`);
    },
  }),
  clientCase({
    id: 'RC-3/suspended-until-reconnect',
    spec: ['RC-3'],
    level: 'MUST',
    description: 'after reconnectMaxAttempts failed attempts the client is suspended, makes no attempt, and leaves on an explicit reconnect',
    timeoutMs: 30_000,
    async run(ctx) {
      const max = ctx.client.reconnectMaxAttempts;
      const client = await ctx.start();
      const stop = failEveryAttempt(ctx);
      ctx.defer(stop);
      await client.until((e) => e.event === 'state' && e.state === 'suspended', backoffCeilingMs(max, ctx.client) * (max + 1) + 5000, 'state suspended (RC-3)');
      const attempts = ctx.server.upgrades.length;
      check(attempts <= max + 1, `${attempts} attempts before suspended with reconnectMaxAttempts ${max}`);
      await noAttemptWithin(ctx, attempts, Math.min(ctx.client.suspendedRetryMs / 2, 1000), 'suspended');
      stop();
      client.command({ cmd: 'reconnect' });
      await attempt(ctx, attempts + 1, 2000 + ctx.slackMs);
    },
  }),
  clientCase({
    id: 'RC-4/attempts-reset-on-welcome',
    spec: ['RC-4'],
    level: 'MUST',
    description: 'after four failed attempts, a Welcome resets the count: the next drop waits within the first backoff window again',
    timeoutMs: 30_000,
    async run(ctx) {
      const client = await ctx.start();
      let from = 0;
      for (let trial = 0; trial < 3; trial++) {
        // four failures (a client that kept counting would draw its next wait from ceiling(4)), a success, a drop
        const stop = failEveryAttempt(ctx, from);
        await ctx.server.until(() => ctx.server.conns[from + 3]?.closed, 15_000, 'four failed attempts');
        stop();
        const n = from + 5;
        const before = client.states().filter((s) => s === 'connected').length;
        const { conn } = await ctx.server.acceptSession(n, 10_000, { sessionId: `sess-${trial}` });
        await ctx.server.until(() => client.states().filter((s) => s === 'connected').length > before, 3000, 'connected');
        const t0 = performance.now();
        const mark = client.events.length;
        conn.close(codeOf('GOING_AWAY'), 'drop');
        const at = await attempt(ctx, n + 1, 10_000);
        const bound = backoffBoundMs(ctx, 0);
        check(at - t0 <= bound, `after a Welcome, reconnect came ${Math.round(at - t0)} ms after the drop > first window ${bound} ms: attempts not reset (RC-4)`);
        // the client's own wait must fit the first window; a client that kept counting would draw from ceiling(3)
        await ctx.server.until(() => ownWaits(client, mark).length > 0, 2000, 'the client reporting its reconnect wait');
        const own = ownWaits(client, mark)[0] as number;
        const tight = backoffCeilingMs(exponentAfter(0), ctx.client) + ctx.slackMs / 2;
        checkWithin(ctx, `trial ${trial}: the client's own wait after a drop that followed a Welcome`, own, { max: tight }, 'RC-4: attempts not reset');
        await ctx.server.conn(n + 1, 3000);
        from = n; // the new connection is the next trial's first failure
      }
    },
  }),
  clientCase({
    id: 'RC-5/token-before-every-attempt',
    spec: ['RC-5'],
    level: 'MUST',
    requires: ['client-token'],
    description: 'the client asks for its token before every connection attempt and sends the one it got',
    async run(ctx) {
      const { client, hello } = await connected(ctx, { sessionId: 's' });
      check(client.tokens.length >= 1, 'no tokenRequest before the first connection');
      checkEqual(hello.token, client.tokens[client.tokens.length - 1]?.token, 'Hello.token');
      const before = client.tokens.length;
      ctx.server.conns[0]?.close(codeOf('GOING_AWAY'), 'again');
      const hello2 = await (await ctx.server.conn(2, backoffBoundMs(ctx, 0) + 2000)).hello(2000);
      check(client.tokens.length > before, 'no tokenRequest before the second attempt (RC-5)');
      checkEqual(hello2.token, client.tokens[client.tokens.length - 1]?.token, 'Hello.token of the second attempt');
    },
  }),
  clientCase({
    id: 'RC-8/retry-after-honoured',
    spec: ['RC-8', 'HS-6'],
    level: 'MUST',
    requires: ['http-status'],
    description: 'an upgrade refused with 503 and Retry-After: 1 is not retried before 1 s',
    async run(ctx) {
      ctx.server.refusals.push({ status: 503, headers: { 'retry-after': '1' } });
      await ctx.start();
      const t1 = await attempt(ctx, 1, 5000);
      const t2 = await attempt(ctx, 2, 1000 + backoffBoundMs(ctx, 0) + 2000);
      const delay = Math.round(t2 - t1);
      ctx.note(`retried ${delay} ms after a 503 with Retry-After: 1`);
      check(delay >= 950, `retried ${delay} ms after Retry-After: 1 (RC-8)`);
      check(delay <= 1000 + backoffBoundMs(ctx, 0), `retried only ${delay} ms after Retry-After: 1`);
    },
  }),
  clientCase({
    id: 'RC-6/http-refusal-none',
    spec: ['RC-6', 'CC-2', 'HS-2'],
    level: 'MUST',
    requires: ['http-status'],
    description: 'an upgrade refused with 403 (advice none) leaves the client failed, with no retry',
    async run(ctx) {
      ctx.server.refusals.push({ status: 403 });
      const client = await ctx.start();
      await client.until((e) => e.event === 'state' && e.state === 'failed', 2000 + ctx.slackMs, 'state failed after HTTP 403');
      await noAttemptWithin(ctx, 1, backoffBoundMs(ctx, 0, 1000), 'advice none for HTTP 403');
    },
  }),
  clientCase({
    id: 'RC-9/close-sends-normal',
    spec: ['RC-9'],
    level: 'MUST',
    description: 'close() sends NORMAL (1000), ends in closed, and never reconnects',
    async run(ctx) {
      const { client, conn } = await connected(ctx);
      client.command({ cmd: 'close' });
      const c = await conn.waitClosed(1000 + ctx.slackMs);
      check(!c.byServer, 'the runner closed, not the client');
      checkEqual(c.code, 1000, 'close code sent by close()');
      await client.until((e) => e.event === 'state' && e.state === 'closed', 1000, 'state closed');
      await noAttemptWithin(ctx, 1, backoffBoundMs(ctx, 0, 1000), 'after close()');
    },
  }),
  clientCase({
    id: 'HS-10/client-handshake-timeout-4201',
    spec: ['HS-10', 'HS-8'],
    level: 'MUST',
    description: 'no Welcome within the handshake timeout: the client closes with 4201 and reconnects',
    async run(ctx) {
      await ctx.start();
      const conn = await ctx.server.conn(1, 5000);
      await conn.hello(2000);
      const t = ctx.client.handshakeTimeoutMs;
      const c = await conn.waitClosed(t + ctx.slackMs + 500);
      checkEqual(c.code, codeOf('HANDSHAKE_TIMEOUT'), 'close code without a Welcome');
      const elapsed = Math.round(c.at - conn.openedAt);
      ctx.note(`closed ${elapsed} ms after the upgrade (declared ${t} ms)`);
      check(elapsed >= t * 0.5, `closed after ${elapsed} ms, before half the declared handshake timeout`);
      await attempt(ctx, 2, backoffBoundMs(ctx, 0) + 1000);
    },
  }),
  clientCase({
    id: 'HB-4/heartbeat-timeout-4200',
    spec: ['HB-4', 'HB-8'],
    level: 'MUST',
    description: 'a server that goes silent (half-open) is given up interval × (missed + 1) after its last frame: not sooner, and not later than that + slack; close 4200 and a reconnect',
    async run(ctx) {
      const { missed } = SILENT;
      const interval = silentIntervalMs(ctx.slackMs); // wider than the slack: an interval's error is never within it
      ctx.note(`heartbeat interval ${interval} ms, missed ${missed}, slack ${ctx.slackMs} ms`);
      const { client, conn } = await connected(ctx, { heartbeatIntervalMs: interval, heartbeatMissedMax: missed });
      await sleep(interval * 2); // live traffic first: acks keep it alive (HB-8)
      check(!conn.closed, `closed a live connection (${conn.closed?.code})`);
      const from = client.events.length;
      conn.goSilent();
      const last = conn.lastSentAt; // the last frame the client can receive: its watchdog runs from there
      const dead = interval * (missed + 1);
      const ev = await client.until(givesUp, dead + ctx.slackMs + 1000, 'the client giving up the silent connection', from);
      // the watchdog restarts on each frame (HB-8) and fires after `dead` ms of silence: not before (the
      // frame reached the client after we sent it; its report reaches us after it acted), not much after
      checkWithin(ctx, 'gave up after the last frame', ev.at - last, { min: dead - 5, max: dead + ctx.slackMs }, 'HB-4');
      const closedEv = client.events.slice(from).find((t) => t.e.event === 'closed');
      if (closedEv && closedEv.e.event === 'closed') checkEqual(closedEv.e.code, codeOf('HEARTBEAT_TIMEOUT'), 'close code the client reports');
      await attempt(ctx, 2, backoffBoundMs(ctx, exponentAfter(0)) + 2000);
    },
  }),
  clientCase({
    id: 'HB-5/heartbeat-each-interval',
    spec: ['HB-5', 'HB-11'],
    level: 'MUST',
    description: 'the client sends a Heartbeat once per Welcome interval, and follows a new interval announced in HeartbeatAck',
    async run(ctx) {
      const { conn } = await connected(ctx, { heartbeatIntervalMs: 80, heartbeatMissedMax: 3 });
      await sleep(640);
      const n1 = conn.bodies('heartbeat').length;
      ctx.note(`${n1} heartbeats in 640 ms at 80 ms`);
      check(n1 >= 4 && n1 <= 12, `${n1} heartbeats in 640 ms at an interval of 80 ms`);
      // announce 300 ms in every ack from now on
      conn.answerHeartbeats = false;
      let seenAcked = conn.bodies('heartbeat').length;
      const timer = setInterval(() => {
        const hbs = conn.bodies('heartbeat');
        for (const hb of hbs.slice(seenAcked)) conn.send(envelope('heartbeatAck', { id: hb.id, echoSentAtMs: hb.sentAtMs, intervalMs: 300 }));
        seenAcked = hbs.length;
      }, 5);
      ctx.defer(() => clearInterval(timer));
      await sleep(300);
      const n2 = conn.bodies('heartbeat').length;
      await sleep(900);
      const n3 = conn.bodies('heartbeat').length - n2;
      ctx.note(`${n3} heartbeats in 900 ms after interval_ms 300`);
      check(n3 >= 2 && n3 <= 5, `${n3} heartbeats in 900 ms after HeartbeatAck.interval_ms = 300 (HB-11)`);
    },
  }),
  clientCase({
    id: 'HB-6/answers-server-heartbeat',
    spec: ['HB-6'],
    level: 'MUST',
    description: 'a Heartbeat from the server gets a HeartbeatAck with the same id and sent_at_ms',
    async run(ctx) {
      const { conn } = await connected(ctx);
      conn.send(envelope('heartbeat', { id: 4711, sentAtMs: 99_999n }));
      const ack = await conn.untilFrame(() => conn.bodies('heartbeatAck').find((a) => a.id === 4711), 500 + ctx.slackMs, 'HeartbeatAck 4711');
      checkEqual(ack.echoSentAtMs, 99_999n, 'HeartbeatAck.echo_sent_at_ms');
    },
  }),
  clientCase({
    id: 'HB-9/reports-smoothed-rtt',
    spec: ['HB-9'],
    level: 'SHOULD',
    description: 'with acks delayed by 60 ms, later Heartbeats report an rtt_ms of at least 30',
    async run(ctx) {
      const { conn } = await connected(ctx, { heartbeatIntervalMs: 80, heartbeatMissedMax: 5 });
      conn.answerHeartbeats = false;
      let acked = 0;
      const timer = setInterval(() => {
        const hbs = conn.bodies('heartbeat');
        for (const hb of hbs.slice(acked)) setTimeout(() => conn.send(envelope('heartbeatAck', { id: hb.id, echoSentAtMs: hb.sentAtMs })), 60);
        acked = hbs.length;
      }, 5);
      ctx.defer(() => clearInterval(timer));
      await sleep(900);
      const last = conn.bodies('heartbeat').slice(-2);
      ctx.note(`rtt_ms reported: ${conn.bodies('heartbeat').map((h) => h.rttMs).join(' ')}`);
      check(last.some((h) => h.rttMs >= 30), `rtt_ms ${last.map((h) => h.rttMs).join(',')} with a 60 ms ack delay`);
    },
  }),
  clientCase({
    id: 'DR-6/drain-notice-delay',
    spec: ['DR-6', 'RC-8'],
    level: 'MUST',
    description: 'after a DrainNotice the client does not reconnect before reconnect_after_ms, and does reconnect after it even if the server never closes',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-d' });
      const delay = 500;
      const from = client.events.length;
      const t0 = performance.now();
      conn.send(envelope('drainNotice', { reason: 1, reconnectAfterMs: delay, deadlineMs: 5000 }));
      const at = await attempt(ctx, 2, delay + backoffBoundMs(ctx, 0) + 2000);
      // not before the delay from the runner's notice; not much after it from the client's receipt (its state report)
      checkWithin(ctx, 'reconnected after the runner sent the notice (server never closed)', at - t0, { min: delay }, 'DR-6');
      checkWithin(ctx, 'reconnected after the client took the notice', at - observedLossAt(client, from, t0), { max: delay + backoffBoundMs(ctx, exponentAfter(0)) }, 'DR-6');
    },
  }),
  clientCase({
    id: 'DR-6/drain-close-early-waits',
    spec: ['DR-6', 'DR-4'],
    level: 'MUST',
    description: 'a DrainNotice followed at once by a 1012 close: the client still waits reconnect_after_ms from the notice',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-d' });
      const delay = 500;
      const from = client.events.length;
      const t0 = performance.now();
      conn.send(envelope('drainNotice', { reason: 1, reconnectAfterMs: delay, deadlineMs: 5000 }));
      await sleep(20);
      conn.close(codeOf('SERVICE_RESTART'), 'drain');
      const at = await attempt(ctx, 2, delay + backoffBoundMs(ctx, 0) + 2000);
      checkWithin(ctx, 'reconnected after the runner sent the notice', at - t0, { min: delay }, 'DR-6');
      checkWithin(ctx, 'reconnected after the client took the notice', at - observedLossAt(client, from, t0), { max: delay + backoffBoundMs(ctx, exponentAfter(0)) }, 'DR-6');
      const hello = await (await ctx.server.conn(2, 2000)).hello(2000);
      checkEqual(hello.sessionId, 'sess-d', 'Hello.session_id after a drain (resume)');
    },
  }),
  clientCase({
    id: 'HB-12/reconnect-without-close-handshake',
    spec: ['HB-12', 'HB-4'],
    level: 'MUST',
    description: 'a client that declared its connection dead reconnects within the backoff bound, without waiting for a close handshake the silent server never completes',
    async run(ctx) {
      const { interval, missed } = SILENT;
      const { client, conn } = await connected(ctx, { heartbeatIntervalMs: interval, heartbeatMissedMax: missed });
      const from = client.events.length; // the give-up is among the events after this, not the first `connecting` of the case
      conn.goSilent(); // reads nothing from now on: the client's close frame is never answered
      const gaveUp = await client.until(givesUp, interval * (missed + 1) + ctx.slackMs + 1000, 'the client giving up the silent connection', from);
      const bound = backoffBoundMs(ctx, exponentAfter(0));
      const at = await attempt(ctx, 2, bound + 2000);
      const waited = Math.round(at - gaveUp.at);
      ctx.note(`reconnected ${waited} ms after giving up (backoff bound ${bound} ms)`);
      check(conn.closed === undefined || conn.closed.byServer, 'the silent connection saw a close handshake complete, so this case proves nothing');
      check(waited <= bound, `reconnected ${waited} ms after giving up > the backoff bound ${bound} ms: it waited for the close handshake (HB-12)`);
    },
  }),
];
