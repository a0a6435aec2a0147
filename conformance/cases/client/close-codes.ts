/**
 * Close-code handling (spec §14, §15): for every code of the registry a server
 * may send, the client reacts as its advice says (no reconnect, backoff within
 * the bounds, token refresh first, server delay), and resumes or starts fresh
 * as the session-reset flag says. Measured from the runner's close frame to the
 * client's next upgrade.
 */
import { expectedAdvice as adviceForCode, exponentAfter, serverSendableCodes, type OracleRow } from '../../oracle/close-advice.js';
import { checkWithin } from '../timing.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import type { ClientCaseContext } from '../../client-mode/harness.js';
import { attempt, backoffBoundMs, clientCase, connected, noAttemptWithin, observedLossAt, plusClientWaitMs, type ClientCase } from './util.js';

const kebab = (s: string) => s.toLowerCase().replace(/_/g, '-');

/** Run one close and check the reaction; returns the measured delay (ms) or undefined for none. */
async function closeAndObserve(ctx: ClientCaseContext, code: number): Promise<void> {
  const advice = adviceForCode(code);
  const { client, conn } = await connected(ctx, { sessionId: 'sess-1' });
  const s1 = conn.message(new TextEncoder().encode('one'));
  const s2 = conn.message(new TextEncoder().encode('two'));
  await conn.untilFrame(() => conn.bodies('ack').some((a) => a.seq >= s2), 1000 + ctx.slackMs, 'the client Ack of the two messages (SEQ-5)');
  void s1;
  const tokensBefore = client.tokens.length;
  const from = client.events.length;
  const t0 = performance.now();
  conn.close(code, `conformance ${code}`);
  if (advice.retry === 'none') {
    await client.until((e) => e.event === 'state' && e.state === 'failed', 1000 + ctx.slackMs, `state failed after ${code} (RC-6)`);
    await noAttemptWithin(ctx, 1, backoffBoundMs(ctx, 0), `advice none for ${code} (RC-6)`);
    return;
  }
  const bound = backoffBoundMs(ctx, exponentAfter(0), advice.minDelayMs);
  const at = await attempt(ctx, 2, bound + 2000).catch(() => {
    throw new CaseFailure(`no reconnect after ${code} (advice ${advice.retry}) within ${bound + 2000} ms`);
  });
  // a live session that drops retries at n = 0 (RC-2), never sooner than the code's minimum delay (CC-2)
  if (advice.minDelayMs > 0) checkWithin(ctx, `reconnected after the runner's ${code}`, at - t0, { min: advice.minDelayMs }, 'CC-2: minimum delay');
  const lossAt = observedLossAt(client, from, t0);
  checkWithin(ctx, `reconnected after the client saw ${code}`, at - lossAt, { max: plusClientWaitMs(ctx, client, bound, lossAt, at) }, 'RC-2');
  const conn2 = await ctx.server.conn(2, 2000);
  const hello = await conn2.hello(2000);
  if (advice.resetSession) {
    checkEqual(hello.sessionId, '', `Hello.session_id after ${code}, whose advice resets the session`);
  } else {
    checkEqual(hello.sessionId, 'sess-1', `Hello.session_id after ${code} (RC-10: resume)`);
    checkEqual(hello.lastServerSeq, 2n, 'Hello.last_server_seq (RS-10)');
  }
  if (advice.retry === 'refresh-token' && ctx.client.features.includes('client-token')) {
    const fresh = client.tokens.slice(tokensBefore);
    check(fresh.some((t) => t.forceRefresh), `no forced token refresh after ${code} (RC-5)`);
    checkEqual(hello.token, fresh[fresh.length - 1]?.token, 'Hello.token is the refreshed one');
  }
}

/** Every code a server may send, from the suite's own oracle (issue 18: not the registry the reference runs). */
const sendable: [string, OracleRow & { code: number }][] = serverSendableCodes().map(([code, r]) => [r.name, { ...r, code }]);

function specFor(name: string, row: OracleRow & { code: number }): string[] {
  const a = adviceForCode(row.code);
  const ids = new Set<string>(['CC-2']);
  if (a.retry === 'none') ids.add('RC-6');
  if (a.retry === 'refresh-token') ids.add('RC-5');
  if (a.retry === 'server-delay') ids.add('RC-8');
  if (a.retry === 'backoff') ids.add('RC-2');
  if (!a.resetSession && a.retry !== 'none') ids.add('RC-10');
  if (name === 'NORMAL') ids.add('CC-6');
  if (name === 'GOING_AWAY') ids.add('CC-7');
  return [...ids];
}

export const closeCodeClientCases: ClientCase[] = [
  ...sendable.map(([name, row]) => {
    const a = adviceForCode(row.code as number);
    const lead = name === 'NORMAL' ? 'CC-6' : name === 'GOING_AWAY' ? 'CC-7' : 'CC-2';
    return clientCase({
      id: `${lead}/after-${row.code}-${kebab(name)}`,
      spec: specFor(name, row),
      level: 'MUST',
      description: `after a close ${row.code} ${name}: ${a.retry === 'none' ? 'failed, no reconnect' : `${a.retry}${a.minDelayMs ? ` (≥ ${a.minDelayMs} ms)` : ''}, then ${a.resetSession ? 'a fresh session' : 'resume'}`}`,
      run: (ctx: ClientCaseContext) => closeAndObserve(ctx, row.code as number),
    });
  }),
  clientCase({
    id: 'CC-3/unregistered-code-classes',
    spec: ['CC-3', 'CC-2'],
    level: 'MUST',
    description: 'unregistered codes take their class advice: 4250 backoff, 4350 server-delay (none given: backoff), 4150 refresh-token, 4050 none',
    async run(ctx) {
      const { client, conn } = await connected(ctx, { sessionId: 'sess-1' });
      let current = conn;
      let n = 1;
      for (const code of [4250, 4350, 4150]) {
        const from = client.events.length;
        const t0 = performance.now();
        current.close(code, 'unregistered');
        const at = await attempt(ctx, n + 1, backoffBoundMs(ctx, 0) + 2000);
        const lossAt = observedLossAt(client, from, t0);
        checkWithin(ctx, `reconnected after the client saw ${code}`, at - lossAt, { max: plusClientWaitMs(ctx, client, backoffBoundMs(ctx, exponentAfter(0)), lossAt, at) }, 'CC-3, RC-2');
        n++;
        const before = client.states().filter((s) => s === 'connected').length;
        current = (await ctx.server.acceptSession(n, 2000, { sessionId: 'sess-1' })).conn;
        await ctx.server.until(() => client.states().filter((s) => s === 'connected').length > before, 2000, 'connected again');
      }
      current.close(4050, 'unregistered terminal');
      await client.until((e) => e.event === 'state' && e.state === 'failed', 1000 + ctx.slackMs, 'state failed after 4050 (CC-3: 4000–4099 none)');
      await noAttemptWithin(ctx, n, backoffBoundMs(ctx, 0, 1000), 'advice none for 4050');
    },
  }),
  clientCase({
    id: 'CC-4/abnormal-drop-backoff',
    spec: ['CC-4', 'RC-2', 'RC-10'],
    level: 'MUST',
    description: 'a connection dropped without a close frame (observed 1006) is retried with backoff and resumed',
    async run(ctx) {
      const { client } = await connected(ctx, { sessionId: 'sess-9' });
      const from = client.events.length;
      const t0 = performance.now();
      ctx.server.conns[0]?.terminate();
      const at = await attempt(ctx, 2, backoffBoundMs(ctx, 0) + 2000);
      const lossAt = observedLossAt(client, from, t0);
      checkWithin(ctx, 'reconnected after the client saw the drop', at - lossAt, { max: plusClientWaitMs(ctx, client, backoffBoundMs(ctx, exponentAfter(0)), lossAt, at) }, 'CC-4, RC-2');
      const hello = await (await ctx.server.conn(2, 2000)).hello(2000);
      checkEqual(hello.sessionId, 'sess-9', 'Hello.session_id after a drop (RC-10)');
    },
  }),
];
