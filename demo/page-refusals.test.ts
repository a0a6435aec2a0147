import { describe, expect, test } from 'vitest';
import type { Transport, TransportHandlers } from '../client/index.js';
import { ATTEMPT_PARAM, attemptTransport, describeUnopened, explainUnopened, refusalUrl, withAttempt } from './page-refusals.js';

/** A transport whose sockets the test opens and closes by hand. */
function fakeTransport() {
  const sockets: { url: string; h: TransportHandlers }[] = [];
  const transport: Transport = (url, h) => {
    sockets.push({ url, h });
    return { send: () => {}, close: () => {}, bufferedAmount: 0 };
  };
  return { sockets, transport };
}

const handlers = (onClose: (code: number) => void = () => {}): TransportHandlers => ({
  onOpen: () => {},
  onBinary: () => {},
  onText: () => {},
  onClose,
  onRefused: () => {},
});

describe('demo page: refused upgrades', () => {
  test('each attempt is named in its URL; a socket that closes before opening is reported when the client hears of it', () => {
    const f = fakeTransport();
    let n = 0;
    const a = attemptTransport(f.transport, () => `a${++n}`);
    const seen: (string | undefined)[] = [];
    a.transport('ws://127.0.0.1:8080/lifeline?ticket=t', handlers(() => seen.push(a.lastUnopened())), { token: undefined });
    expect(f.sockets[0]?.url).toBe(`ws://127.0.0.1:8080/lifeline?ticket=t&${ATTEMPT_PARAM}=a1`);
    f.sockets[0]?.h.onClose(1006, '');
    expect(seen).toEqual(['a1']); // already known inside the client's own close handling

    a.transport('ws://127.0.0.1:8080/lifeline', handlers(() => seen.push(a.lastUnopened())), { token: undefined });
    f.sockets[1]?.h.onOpen();
    f.sockets[1]?.h.onClose(1006, '');
    expect(seen).toEqual(['a1', undefined]); // it had opened: a lost connection, not a refusal
    expect(a.lastUnopened()).toBeUndefined(); // once handled: a later close of another carrier is not explained by it
  });

  test('the log line names the status and Retry-After the server answered with', () => {
    expect(describeUnopened({ status: 503, reasonPhrase: 'Service Unavailable', retryAfterSeconds: 1 })).toBe(
      'refused 503 Service Unavailable, Retry-After 1 s (the browser reports 1006; the client backs off, CC-4)',
    );
    expect(describeUnopened({ status: 403, reasonPhrase: 'Forbidden' })).toMatch(/^refused 403 Forbidden \(/);
    expect(describeUnopened({ status: 426, reasonPhrase: 'Upgrade Required', isUpgradeStripped: true })).toMatch(
      /^refused 426 Upgrade Required: the upgrade reached the server without its Upgrade header, so a proxy on the way blocks WebSockets/,
    );
    expect(describeUnopened(undefined)).toMatch(/^closed 1006 before the upgrade completed \(the server recorded no refusal/);
    expect(refusalUrl('wss://example.test/lifeline', 'x1')).toBe('https://example.test/demo/refusal?attempt=x1');
    expect(withAttempt('ws://h/l', 'x')).toBe(`ws://h/l?${ATTEMPT_PARAM}=x`);
  });

  test('explainUnopened asks the server of the WebSocket URL, and says so when it cannot', async () => {
    const asked: string[] = [];
    const answer = (status: number, body: unknown): typeof fetch =>
      (async (url: string | URL | Request) => {
        asked.push(String(url));
        return new Response(JSON.stringify(body), { status });
      }) as typeof fetch;
    expect(await explainUnopened('ws://127.0.0.1:9/lifeline', 'a1', answer(200, { status: 503, reasonPhrase: 'Service Unavailable', retryAfterSeconds: 2 }))).toMatch(
      /^refused 503 Service Unavailable, Retry-After 2 s/,
    );
    expect(asked).toEqual(['http://127.0.0.1:9/demo/refusal?attempt=a1']);
    expect(await explainUnopened('ws://h/l', 'a2', answer(404, {}))).toMatch(/recorded no refusal/);
    expect(await explainUnopened('ws://h/l', 'a3', answer(500, {}))).toMatch(/HTTP 500/);
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    expect(await explainUnopened('ws://h/l', 'a4', down)).toMatch(/cannot be reached/);
  });
});
