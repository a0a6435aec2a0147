/**
 * Admission answers that need a raw HTTP request or a look-alike Origin (spec §5.1):
 * the WebSocket version (HS-17), the HTTP version (HS-18) and exact Origin
 * matching (SEC-9, HS-2, SEC-1). `ws` always sends a well-formed HTTP/1.1 upgrade, so
 * the first two go over a raw TCP socket.
 */
import { connect } from 'node:net';
import { SUBPROTOCOL } from '../../../spec/protocol/defaults.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { isRefusal } from '../../server-mode/peer.js';
import { rawHttp, upgradeRequest, type RawHttpAnswer } from '../../server-mode/raw-http.js';
import { serverCase, type ServerCase } from './util.js';

/** A raw upgrade to the server's Lifeline URL with everything that passes the other checks. */
async function upgrade(ctx: ServerCaseContext, over: Record<string, string | undefined>, httpVersion = '1.1'): Promise<RawHttpAnswer> {
  const u = new URL(ctx.url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'wss:' ? 443 : 80));
  const origin = ctx.server.features.includes('origin-allowlist') && ctx.server.auth?.allowedOrigin ? { Origin: ctx.server.auth.allowedOrigin } : {};
  const req = upgradeRequest(`${u.pathname}${u.search}`, u.host, { ...ctx.authHeaders, ...origin, 'Sec-WebSocket-Protocol': SUBPROTOCOL, ...over }, httpVersion);
  const r = await rawHttp(host, port, req, { timeoutMs: 5000 });
  ctx.transcript.event('http', `HTTP/${httpVersion} upgrade ${JSON.stringify(over)} → ${r.status || (r.closed ? 'closed' : 'no answer')}`);
  return r;
}

/**
 * Origins that look like `allowed` and are not it (SEC-1): the opaque origin,
 * case tricks, a prefix, a suffix and a subdomain of its host, another port,
 * another scheme. Derived from the declared origin, so any config works.
 */
export function lookAlikeOrigins(allowed: string): { what: string; origin: string }[] {
  const u = new URL(allowed);
  const scheme = u.protocol; // 'http:'
  const host = u.hostname;
  const port = u.port ? `:${u.port}` : '';
  const otherPort = u.port ? `:${Number(u.port) + 1}` : ':8443';
  const otherScheme = scheme === 'https:' ? 'http:' : 'https:';
  const upperHost = host.replace(/[a-z]/, (c) => c.toUpperCase());
  const list = [
    { what: 'the opaque origin null', origin: 'null' },
    { what: 'upper case', origin: allowed.toUpperCase() },
    { what: 'one upper-case letter in the host', origin: `${scheme}//${upperHost}${port}` },
    { what: 'the allowed origin as a prefix', origin: `${scheme}//${host}.evil.invalid${port}` },
    { what: 'the allowed host as a suffix', origin: `${scheme}//evil${host}${port}` },
    { what: 'a subdomain of the allowed host', origin: `${scheme}//sub.${host}${port}` },
    { what: 'another port', origin: `${scheme}//${host}${otherPort}` },
    { what: 'another scheme', origin: `${otherScheme}//${host}${port}` },
  ];
  return list.filter((l) => l.origin !== allowed);
}

/** Open a TCP connection to the server, write `first`, then one byte of `rest` every `everyMs`; resolves when the server closes it. */
function trickle(ctx: ServerCaseContext, first: string, rest: string, everyMs: number, giveUpMs: number): Promise<{ closedAfterMs: number | undefined; sent: number }> {
  const u = new URL(ctx.url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (closedAfterMs: number | undefined) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      s.destroy();
      resolve({ closedAfterMs, sent });
    };
    const giveUp = setTimeout(() => done(undefined), giveUpMs);
    s.on('error', () => undefined);
    s.resume();
    s.on('close', () => done(performance.now() - t0));
    s.on('connect', () => {
      if (first) s.write(first);
      timer = setInterval(() => {
        if (sent < rest.length && !s.destroyed) s.write(rest[sent++]!);
      }, everyMs);
    });
    ctx.defer(() => s.destroy());
  });
}

export const admissionCases: ServerCase[] = [
  serverCase({
    id: 'HS-17/websocket-version-426',
    carrier: 'ws',
    spec: ['HS-17'],
    level: 'MUST',
    description: 'an upgrade with Sec-WebSocket-Version 8 (or 14) gets 426 with Sec-WebSocket-Version: 13; version 13 gets 101',
    async run(ctx) {
      for (const v of ['8', '14']) {
        const r = await upgrade(ctx, { 'Sec-WebSocket-Version': v });
        checkEqual(r.status, 426, `status for Sec-WebSocket-Version ${v}`);
        checkEqual(r.headers['sec-websocket-version'], '13', `Sec-WebSocket-Version header of the 426 for version ${v}`);
      }
      checkEqual((await upgrade(ctx, {})).status, 101, 'status for Sec-WebSocket-Version 13 (the control)');
    },
  }),
  serverCase({
    id: 'HS-15/header-trickle-cut',
    carrier: 'ws',
    spec: ['HS-15'],
    level: 'MUST',
    requires: ['http-timeouts'],
    description: 'an upgrade request whose head trickles in one byte at a time, and a connection that sends nothing, are closed within the declared headersTimeoutMs (plus slack)',
    async run(ctx) {
      const t = ctx.server.headersTimeoutMs;
      if (!t) throw new CaseFailure('http-timeouts is declared without headersTimeoutMs');
      const u = new URL(ctx.url);
      const head = upgradeRequest(`${u.pathname}${u.search}`, u.host, { ...ctx.authHeaders, 'X-Pad': 'a'.repeat(4096) });
      const bound = t + ctx.slackMs;
      const [slow, silent] = await Promise.all([
        trickle(ctx, '', head, Math.max(5, Math.floor(t / 20)), bound + 2000),
        trickle(ctx, '', '', 1000, bound + 2000),
      ]);
      ctx.transcript.event('http', `trickle closed after ${slow.closedAfterMs?.toFixed(0) ?? 'never'} ms (${slow.sent} bytes); silent closed after ${silent.closedAfterMs?.toFixed(0) ?? 'never'} ms`);
      ctx.note(`trickle cut after ${slow.closedAfterMs?.toFixed(0)} ms, silent after ${silent.closedAfterMs?.toFixed(0)} ms (declared ${t} ms)`);
      if (slow.closedAfterMs === undefined || slow.closedAfterMs > bound) throw new CaseFailure(`a header trickle was still open after ${bound} ms (declared headersTimeoutMs ${t} + slack)`);
      if (silent.closedAfterMs === undefined || silent.closedAfterMs > bound) throw new CaseFailure(`a connection that sent nothing was still open after ${bound} ms (declared headersTimeoutMs ${t} + slack)`);
      check(slow.closedAfterMs >= t * 0.5, `the trickle was cut after ${slow.closedAfterMs.toFixed(0)} ms, before half the declared ${t} ms`);
    },
  }),
  serverCase({
    id: 'HS-18/http10-upgrade-400',
    carrier: 'ws',
    spec: ['HS-18'],
    level: 'MUST',
    description: 'a WebSocket upgrade over HTTP/1.0 gets 400; the same request over HTTP/1.1 gets 101',
    async run(ctx) {
      const r = await upgrade(ctx, {}, '1.0');
      if (r.status === 101) throw new CaseFailure('an HTTP/1.0 upgrade was accepted with 101; RFC 6455 §4.1 requires HTTP/1.1');
      checkEqual(r.status, 400, 'status of an HTTP/1.0 upgrade');
      checkEqual((await upgrade(ctx, {}, '1.1')).status, 101, 'status of the same upgrade over HTTP/1.1 (the control)');
    },
  }),
  serverCase({
    id: 'SEC-9/origin-exact-match',
    carrier: 'ws',
    spec: ['SEC-9', 'HS-2', 'SEC-1'],
    level: 'MUST',
    requires: ['origin-allowlist'],
    description: 'Origin matching is exact: null, case tricks, a prefix, suffix or subdomain of the allowed host, another port or scheme get 403',
    async run(ctx) {
      const allowed = ctx.server.auth?.allowedOrigin;
      if (!allowed) throw new CaseFailure('origin-allowlist is declared without auth.allowedOrigin');
      const accepted: string[] = [];
      for (const { what, origin } of lookAlikeOrigins(allowed)) {
        const p = await ctx.tryPeer({ origin });
        if (!isRefusal(p)) {
          accepted.push(`${what} (${origin})`);
          p.destroy();
          continue;
        }
        check(p.status === 403, `${what} (${origin}): HTTP ${p.status}, expected 403`);
      }
      if (accepted.length) throw new CaseFailure(`look-alike origins were accepted: ${accepted.join('; ')}`);
      const ok = await ctx.peer({ origin: allowed });
      await ok.handshake();
    },
  }),
];
