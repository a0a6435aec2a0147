/**
 * Admission and handshake (spec §5, §6): upgrade answers, subprotocol,
 * handshake timeout, Hello/Welcome, version, authentication.
 */
import { ResumeOutcome } from '../../../gen/lifeline/v1/envelope_pb.js';
import { SUBPROTOCOL } from '../../../spec/protocol/defaults.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { isRefusal, type Refusal } from '../../server-mode/peer.js';
import { expectClose, roundTrip, serverCase, sleep, type ServerCase } from './util.js';

function httpUrl(ws: string): string {
  return ws.replace(/^ws/, 'http');
}

function refused(p: unknown, status: number, what: string): asserts p is Refusal {
  if (!isRefusal(p as never)) throw new CaseFailure(`${what}: the upgrade succeeded, expected HTTP ${status}`);
  checkEqual((p as Refusal).status, status, `${what}: HTTP status`);
}

export const handshakeCases: ServerCase[] = [
  serverCase({
    id: 'HS-1/plain-get-426',
    carrier: 'ws',
    spec: ['HS-1'],
    level: 'MUST',
    description: 'a plain HTTP GET on the Lifeline path gets 426 with Upgrade: websocket',
    async run(ctx) {
      const res = await fetch(httpUrl(ctx.url), { headers: ctx.authHeaders, signal: ctx.signal });
      await res.arrayBuffer().catch(() => undefined);
      ctx.transcript.event('http', `GET → ${res.status} upgrade=${res.headers.get('upgrade')}`);
      checkEqual(res.status, 426, 'status of a plain GET');
      check(/websocket/i.test(res.headers.get('upgrade') ?? ''), `426 without an "Upgrade: websocket" header (got ${res.headers.get('upgrade')})`);
    },
  }),
  serverCase({
    id: 'HS-3/selects-subprotocol',
    spec: ['HS-3'],
    level: 'MUST',
    description: `the server selects ${SUBPROTOCOL} among several offered subprotocols`,
    async run(ctx) {
      const p = await ctx.peer({ protocols: ['chat.v9', SUBPROTOCOL] });
      checkEqual(p.ws.protocol, SUBPROTOCOL, 'selected subprotocol');
    },
  }),
  serverCase({
    id: 'HS-3/no-subprotocol-400',
    spec: ['HS-3'],
    level: 'MUST',
    description: `an upgrade that does not offer ${SUBPROTOCOL} is refused with HTTP 400`,
    async run(ctx) {
      refused(await ctx.tryPeer({ protocols: [] }), 400, 'no subprotocol');
      refused(await ctx.tryPeer({ protocols: ['lifeline.v0'] }), 400, 'only lifeline.v0 offered');
    },
  }),
  serverCase({
    id: 'HS-2/bad-origin-403',
    spec: ['HS-2', 'SEC-1'],
    level: 'MUST',
    requires: ['origin-allowlist'],
    description: 'an Origin not on the allowlist is refused with 403 before the WebSocket exists; an allowed one passes',
    async run(ctx) {
      refused(await ctx.tryPeer({ origin: 'http://evil.invalid' }), 403, 'foreign Origin');
      const ok = await ctx.peer({ origin: ctx.server.auth?.allowedOrigin ?? 'http://allowed.test' });
      await ok.handshake();
    },
  }),
  serverCase({
    id: 'HS-2+SEC-1/origin-exact-match',
    spec: ['HS-2', 'SEC-1'],
    level: 'MUST',
    requires: ['origin-allowlist'],
    description: 'the allowlist matches whole origins: the allowed one with another scheme, port, a longer or shorter host, a subdomain, or "null" is refused with 403; the allowed one passes',
    async run(ctx) {
      const allowed = ctx.server.auth?.allowedOrigin ?? 'http://allowed.test';
      const u = new URL(allowed);
      const otherScheme = u.protocol === 'https:' ? 'http:' : 'https:';
      // an origin is scheme, host and port, compared whole (RFC 6454): no prefix, suffix or substring match
      const nearMisses = [
        `${otherScheme}//${u.host}`,
        `${u.protocol}//${u.hostname}:${Number(u.port || (u.protocol === 'https:' ? 443 : 80)) + 1}`,
        `${u.protocol}//${u.host}.evil.invalid`,
        `${u.protocol}//evil.${u.host}`,
        `${u.protocol}//evil${u.host}`,
        `${u.protocol}//${u.host.slice(0, -1)}`,
        'null',
      ];
      for (const origin of nearMisses) refused(await ctx.tryPeer({ origin }), 403, `Origin ${origin} (allowlist: ${allowed})`);
      const ok = await ctx.peer({ origin: allowed });
      await ok.handshake();
      await roundTrip(ok);
    },
  }),
  serverCase({
    id: 'HS-4/unauthenticated-401',
    spec: ['HS-4'],
    level: 'MUST',
    requires: ['upgrade-auth'],
    description: 'an upgrade its authentication rejects gets HTTP 401',
    async run(ctx) {
      const blank = Object.fromEntries(Object.keys(ctx.authHeaders).map((k) => [k, 'invalid-credential']));
      refused(await ctx.tryPeer({ headers: blank }), 401, 'invalid credentials');
    },
  }),
  serverCase({
    id: 'HS-7/check-order',
    spec: ['HS-7'],
    level: 'MUST',
    requires: ['origin-allowlist', 'upgrade-auth'],
    description: 'with several faults the answer follows the order 403, 400, 401',
    async run(ctx) {
      const blank = Object.fromEntries(Object.keys(ctx.authHeaders).map((k) => [k, 'invalid-credential']));
      refused(await ctx.tryPeer({ origin: 'http://evil.invalid', protocols: [], headers: blank }), 403, 'bad origin + no subprotocol + bad auth');
      refused(await ctx.tryPeer({ protocols: [], headers: blank }), 400, 'no subprotocol + bad auth');
    },
  }),
  serverCase({
    id: 'HS-13/ticket-single-use',
    spec: ['HS-13'],
    level: 'MUST',
    requires: ['tickets'],
    description: 'a query ticket works once; presented a second time it gets 401',
    async run(ctx) {
      const { param, ticket } = await ctx.hooks.ticket();
      const sep = ctx.url.includes('?') ? '&' : '?';
      const url = `${ctx.url}${sep}${encodeURIComponent(param)}=${encodeURIComponent(ticket)}`;
      const blank = Object.fromEntries(Object.keys(ctx.authHeaders).map((k) => [k, 'invalid-credential']));
      const { openPeer } = await import('../../server-mode/peer.js');
      const first = await openPeer(url, 't1', ctx.transcript, { headers: blank, transport: ctx.transport });
      if (isRefusal(first)) throw new CaseFailure(`first use of a fresh ticket refused with HTTP ${first.status}`);
      ctx.defer(() => first.destroy());
      const second = await openPeer(url, 't2', ctx.transcript, { headers: blank, transport: ctx.transport });
      if (!isRefusal(second)) {
        second.destroy();
        throw new CaseFailure('a ticket was accepted a second time');
      }
      checkEqual(second.status, 401, 'second use of a ticket');
    },
  }),
  serverCase({
    id: 'HS-9/welcome-first',
    spec: ['HS-9', 'HS-7'],
    level: 'MUST',
    description: 'the first frame after a valid Hello is Welcome, with a session id and a heartbeat interval',
    async run(ctx) {
      const p = await ctx.peer();
      await sleep(ctx.server.heartbeatIntervalMs); // nothing may arrive before Hello (HS-7: no session yet)
      checkEqual(p.frames.length, 0, 'frames sent before Hello');
      const w = await p.handshake();
      check(w.sessionId.length > 0, 'Welcome.session_id is empty');
      check(w.heartbeatIntervalMs > 0, 'Welcome.heartbeat_interval_ms is 0');
    },
  }),
  serverCase({
    id: 'HS-10/handshake-timeout-4201',
    spec: ['HS-10'],
    level: 'MUST',
    description: 'a connection that sends no Hello is closed with 4201 within the handshake timeout (plus slack), not much earlier',
    async run(ctx) {
      const p = await ctx.peer({ heartbeatMs: 0 });
      const t = ctx.server.handshakeTimeoutMs;
      const closed = await expectClose(p, ['HANDSHAKE_TIMEOUT'], t + ctx.slackMs + ctx.server.heartbeatIntervalMs);
      const elapsed = Math.round(closed.at - (performance.now() - p.now()));
      ctx.note(`closed after ${elapsed} ms (declared ${t} ms)`);
      check(elapsed >= t * 0.5, `closed after ${elapsed} ms, before half the declared handshake timeout ${t} ms`);
    },
  }),
  serverCase({
    id: 'HS-11/version-4000',
    spec: ['HS-11'],
    level: 'MUST',
    description: 'a Hello with protocol_version 99 is closed with 4000 and gets no Welcome',
    async run(ctx) {
      const p = await ctx.peer();
      p.hello({ protocolVersion: 99 });
      await expectClose(p, ['VERSION_UNSUPPORTED'], 2000);
      checkEqual(p.bodies('welcome').length, 0, 'Welcomes sent to an unsupported version');
    },
  }),
  serverCase({
    id: 'HS-12/bad-hello-token-4101',
    spec: ['HS-12'],
    level: 'MUST',
    requires: ['hello-auth'],
    description: 'a Hello with an invalid token is closed with 4101 before any Welcome; the valid token passes',
    async run(ctx) {
      const bad = await ctx.peer();
      bad.hello({ token: 'certainly-not-valid' });
      await expectClose(bad, ['UNAUTHORIZED'], 2000);
      checkEqual(bad.bodies('welcome').length, 0, 'Welcomes sent before the 4101');
      const good = await ctx.peer();
      await good.handshake({ token: ctx.server.auth?.helloToken ?? '' });
      await roundTrip(good);
    },
  }),
  serverCase({
    id: 'SEC-3/bad-traceparent-ignored',
    spec: ['SEC-3'],
    level: 'MUST',
    description: 'a malformed traceparent header is ignored: the upgrade and the session proceed',
    async run(ctx) {
      const p = await ctx.peer({ headers: { traceparent: 'zz-not-a-trace-<script>' } });
      await p.handshake();
      await roundTrip(p);
    },
  }),
  serverCase({
    id: 'HS-14/new-welcome-last-client-seq-zero',
    spec: ['HS-14'],
    level: 'MUST',
    description: 'a Welcome with outcome NEW has last_client_seq 0, also when the Hello asked to resume a session the server does not know',
    async run(ctx) {
      const fresh = await (await ctx.peer()).handshake();
      checkEqual(fresh.lastClientSeq, 0n, 'last_client_seq of a new session');
      const w = await (await ctx.peer()).handshake({ sessionId: 'conformance-unknown-session-0000', lastServerSeq: 5n });
      checkEqual(w.resume?.outcome, ResumeOutcome.NEW, 'outcome for an unknown session id');
      checkEqual(w.lastClientSeq, 0n, 'last_client_seq of the NEW session');
    },
  }),
  serverCase({
    id: 'SEC-8/session-ids-128-bits',
    spec: ['SEC-8'],
    level: 'MUST',
    description: 'session ids are long enough to carry 128 bits (at least 16 bytes) and never repeat; sequential or time-based ids share long prefixes',
    async run(ctx) {
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        const p = await ctx.peer();
        ids.push((await p.handshake()).sessionId);
        p.close(1000);
      }
      const short = ids.filter((id) => new TextEncoder().encode(id).byteLength < 16);
      check(short.length === 0, `session ids shorter than 16 bytes cannot carry 128 bits: ${short.join(', ')}`);
      checkEqual(new Set(ids).size, ids.length, 'distinct session ids among 16');
      // 16 random ids almost never share their first 4 characters; a counter or a clock does.
      const prefixes = new Set(ids.map((id) => id.slice(0, 4)));
      check(prefixes.size >= 12, `only ${prefixes.size} distinct 4-character prefixes among 16 ids: predictable ids (${ids.slice(0, 4).join(', ')} …)`);
    },
  }),
  serverCase({
    id: 'WIRE-8/peer-without-deflate',
    spec: ['WIRE-8'],
    level: 'MUST',
    description: 'a client that does not offer permessage-deflate is served like one that does: Welcome, then a heartbeat round trip',
    async run(ctx) {
      for (const perMessageDeflate of [false, true]) {
        const p = await ctx.peer({ perMessageDeflate });
        if (!perMessageDeflate) checkEqual(p.ws.extensions, '', 'extensions negotiated with a peer that offered none');
        await p.handshake();
        await roundTrip(p);
        p.close(1000);
      }
    },
  }),
];
