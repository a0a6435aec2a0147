import { afterEach, describe, expect, test } from 'vitest';
import { codeOf, closeCodes } from '../spec/protocol/close-codes.js';
import { connectRaw, tryConnect, type RawClient } from '../testkit/raw-client.js';
import { parseTokensFile, tokenAuthentication } from './cli-auth.js';
import { createServer, type LifelineServer } from './server.js';

let srv: LifelineServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await srv?.close();
  srv = undefined;
});

describe('parseTokensFile', () => {
  test('reads "<token> <principal>" lines, skipping blanks and comments', () => {
    const t = parseTokensFile('# tokens\n\n  s3cret-a   alice  \r\nbeef bob\n');
    expect([...t]).toEqual([
      ['s3cret-a', 'alice'],
      ['beef', 'bob'],
    ]);
  });

  test('names the line of a malformed entry and never quotes the token', () => {
    expect(() => parseTokensFile('ok alice\nleaky-token\n')).toThrow(/^line 2: expected "<token> <principal>" \(two fields\), got 1$/);
    expect(() => parseTokensFile('a b c')).toThrow(/line 1: .* got 3/);
    expect(() => parseTokensFile('dup alice\ndup bob')).toThrow(/^line 2: this token is already listed$/);
    expect(() => parseTokensFile('# only a comment\n')).toThrow(/no tokens/);
    try {
      parseTokensFile('leaky-token');
    } catch (err) {
      expect((err as Error).message).not.toContain('leaky-token'); // SEC-2
    }
  });
});

describe('tokenAuthentication', () => {
  async function start(): Promise<string> {
    srv = createServer({ ...tokenAuthentication(parseTokensFile('tok-a alice\ntok-b bob')), heartbeatIntervalMs: 60_000 });
    await srv.listen(0);
    return srv.url();
  }

  test('HS-12 a known Hello.token gives its principal; a missing or unknown one closes UNAUTHORIZED', async () => {
    const url = await start();
    const good = await connectRaw(url);
    clients.push(good);
    await good.handshake({ token: 'tok-a' });
    expect(srv?.sessions().map((s) => s.principal)).toEqual(['alice']);
    for (const token of ['', 'tok-x']) {
      const c = await connectRaw(url);
      clients.push(c);
      c.hello({ token });
      expect((await c.waitForClose()).code).toBe(codeOf('UNAUTHORIZED'));
    }
  });

  test('HS-4 a known bearer header authenticates the upgrade; an unknown one is refused with 401', async () => {
    const url = await start();
    const ok = await connectRaw(url, { headers: { authorization: 'Bearer tok-b' } });
    clients.push(ok);
    await ok.handshake();
    expect(srv?.sessions().map((s) => s.principal)).toEqual(['bob']);
    const refused = await tryConnect(url, { headers: { authorization: 'Bearer tok-x' } });
    expect(refused.ok ? 0 : refused.refusal.status).toBe(closeCodes.HTTP_UNAUTHORIZED.http);
  });
});
