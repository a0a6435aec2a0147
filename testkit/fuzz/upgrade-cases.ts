/**
 * Generated upgrade requests for the fuzz suite (issue 13), sent over raw TCP,
 * and the status the spec gives each (§5.1, HS-7's order), computed here from
 * the rules, not from the server: 426 for what is not a WebSocket upgrade
 * (HS-1) or is one of another version (HS-17); 403 for an Origin not exactly on
 * the allowlist (HS-2, SEC-9); 400 without lifeline.v1 (HS-3), for a malformed
 * request or one over HTTP/1.0 (HS-18); otherwise 101. A path other than the
 * Lifeline path is the application's (404 on a server that owns its HTTP server).
 */
import fc from 'fast-check';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';

export interface UpgradeCase {
  readonly method: string;
  readonly path: string;
  readonly httpVersion: '1.0' | '1.1';
  /** Header name → value; absent headers are not sent. Names keep their case. */
  readonly headers: Readonly<Record<string, string>>;
}

const LIFELINE_PATH = '/lifeline';
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/; // base64 of 16 bytes (RFC 6455 §4.1)

function header(c: UpgradeCase, name: string): string | undefined {
  const k = Object.keys(c.headers).find((h) => h.toLowerCase() === name);
  return k === undefined ? undefined : c.headers[k];
}

export interface ExpectedAnswer {
  readonly status: number;
  /** The rule that decides it ('app' for a path that is not the Lifeline path). */
  readonly rule: string;
}

/** The answer the spec asks for (see the module comment), in the order of HS-7. */
export function expectedAnswer(c: UpgradeCase, allowedOrigins: readonly string[]): ExpectedAnswer {
  const pathname = c.path.split('?')[0];
  if (pathname !== LIFELINE_PATH) return { status: 404, rule: 'app' };
  const upgrade = header(c, 'upgrade');
  const connection = header(c, 'connection') ?? '';
  // An HTTP upgrade needs both headers (RFC 9110 §7.8); without them it is a plain request.
  const isUpgrade = upgrade !== undefined && connection.split(',').some((t) => t.trim().toLowerCase() === 'upgrade');
  if (!isUpgrade || upgrade.toLowerCase() !== 'websocket') return { status: 426, rule: 'HS-1' };
  const version = header(c, 'sec-websocket-version');
  if (version !== undefined && version !== '13') return { status: 426, rule: 'HS-17' };
  const origin = header(c, 'origin');
  if (origin !== undefined && !allowedOrigins.includes(origin)) return { status: 403, rule: 'SEC-9' };
  const offered = (header(c, 'sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  if (!offered.includes(SUBPROTOCOL)) return { status: 400, rule: 'HS-3' };
  const key = header(c, 'sec-websocket-key');
  if (c.method !== 'GET' || version === undefined || key === undefined || !KEY_RE.test(key)) return { status: 400, rule: 'HS-3' };
  if (c.httpVersion === '1.0') return { status: 400, rule: 'HS-18' };
  return { status: 101, rule: 'HS-7' };
}

/** The request's bytes. */
export function requestText(c: UpgradeCase, host: string): string {
  const lines = [`${c.method} ${c.path} HTTP/${c.httpVersion}`, `Host: ${host}`, ...Object.entries(c.headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A header that is right most of the time, sometimes absent, sometimes wrong (each wrong value alike). */
function mostly(name: string, right: readonly string[], wrong: readonly string[]): fc.Arbitrary<Record<string, string>> {
  return fc
    .oneof(
      { weight: 14, arbitrary: fc.constantFrom(...right) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom(...wrong) },
    )
    .map((v): Record<string, string> => (v === undefined ? {} : { [name]: v }));
}

/** Upgrade requests: mostly almost right, each header sometimes wrong, absent or in another case. */
export function upgradeCase(allowedOrigin: string): fc.Arbitrary<UpgradeCase> {
  const u = new URL(allowedOrigin);
  const lookAlikes = ['null', allowedOrigin.toUpperCase(), `${allowedOrigin}.evil.invalid`, `${u.protocol}//evil${u.host}`, `${u.protocol}//sub.${u.host}`, `${u.protocol}//${u.hostname}:8443`, `${u.protocol === 'https:' ? 'http:' : 'https:'}//${u.host}`, `${allowedOrigin}/`];
  return fc.record({
    method: fc.oneof({ weight: 14, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT') }),
    path: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(LIFELINE_PATH, `${LIFELINE_PATH}?ticket=x`, `${LIFELINE_PATH}?`) }, { weight: 1, arbitrary: fc.constantFrom('/other', `${LIFELINE_PATH}/x`, '/LIFELINE') }),
    httpVersion: fc.oneof({ weight: 14, arbitrary: fc.constant<'1.0' | '1.1'>('1.1') }, { weight: 1, arbitrary: fc.constant<'1.0' | '1.1'>('1.0') }),
    upgrade: mostly('Upgrade', ['websocket', 'WebSocket'], ['h2c', 'websockets']),
    connection: mostly('Connection', ['Upgrade', 'upgrade', 'keep-alive, Upgrade'], ['keep-alive', 'close']),
    version: mostly('Sec-WebSocket-Version', ['13'], ['8', '14', '12', '13, 8', 'thirteen']),
    key: mostly('Sec-WebSocket-Key', ['dGhlIHNhbXBsZSBub25jZQ==', 'AQIDBAUGBwgJCgsMDQ4PEA=='], ['short', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=!']),
    protocol: mostly('Sec-WebSocket-Protocol', [SUBPROTOCOL, `chat, ${SUBPROTOCOL}`], ['chat', 'LIFELINE.V1', 'lifeline.v0', `${SUBPROTOCOL}x`]),
    origin: fc
      .oneof({ weight: 10, arbitrary: fc.constant(allowedOrigin) }, { weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.constantFrom(...lookAlikes) })
      .map((v): Record<string, string> => (v === undefined ? {} : { Origin: v })),
    extra: fc.constantFrom<Record<string, string>>({}, {}, { traceparent: 'zz-bad' }, { 'X-Pad': 'a'.repeat(200) }),
  }).map((r) => ({
    method: r.method,
    path: r.path,
    httpVersion: r.httpVersion,
    headers: { ...r.upgrade, ...r.connection, ...r.version, ...r.key, ...r.protocol, ...r.origin, ...r.extra },
  }));
}
