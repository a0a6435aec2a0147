import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());
const root = fileURLToPath(new URL('..', import.meta.url));

describe('application events', () => {
  test('RS-2 CC-6 typed events: opened, message, closed with its code, resumed with outcome and reason, ended', async () => {
    const srv = await h.server({ resumeTtlMs: 150 });
    const log: string[] = [];
    srv.on('sessionOpened', (s) => log.push(`opened ${s.principal}`));
    srv.on('message', (_s, m) => log.push(`message ${m.seq} ${new TextDecoder().decode(m.payload)}`));
    srv.on('sessionClosed', (_s, i) => log.push(`closed ${i.code} ${i.byPeer ? 'by peer' : 'by server'}`));
    srv.on('sessionResumed', (_s, r) => log.push(`resumed ${r.outcome} ${r.reason}`));
    srv.on('sessionEnded', (_s, i) => log.push(`ended ${i.expired ? 'expired' : 'closed'}`));
    srv.on('sessionOpened', () => {
      throw new Error('a listener bug must not break the server');
    });
    const a = await h.session(srv);
    const id = a.bodies('welcome')[0]?.sessionId as string;
    a.message({ payload: new TextEncoder().encode('hi') });
    await vi.waitFor(() => expect(log).toContain('message 1 hi'));
    a.close(codeOf('GOING_AWAY'));
    await vi.waitFor(() => expect(log).toContain('closed 1001 by peer'));
    const b = await h.client(srv);
    await b.handshake({ sessionId: id });
    b.destroy();
    await vi.waitFor(() => expect(log).toContain('ended expired'), { timeout: 5000 });
    expect(log).toEqual([
      'opened anonymous',
      'message 1 hi',
      'closed 1001 by peer',
      'resumed resumed REPLAYED',
      'closed 1006 by peer',
      'ended expired',
    ]);
  });

  test('after close() no timer keeps the process alive (handshakes and detached sessions included)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-exit-'));
    try {
      const script = join(dir, 'exit.mjs');
      writeFileSync(
        script,
        `const { createServer } = await import(${JSON.stringify(join(root, 'server/server.ts'))});
const { connectRaw } = await import(${JSON.stringify(join(root, 'testkit/raw-client.ts'))});
const srv = createServer({ handshakeTimeoutMs: 60000, resumeTtlMs: 60000, heartbeatIntervalMs: 60000 });
await srv.listen(0);
const waiting = await connectRaw(srv.url());
const gone = await connectRaw(srv.url());
await gone.handshake();
gone.destroy();
await new Promise((r) => setTimeout(r, 100));
await srv.close();
waiting.terminate();
`,
      );
      const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root });
      const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const t0 = performance.now();
      expect(await exited).toBe(0);
      clearTimeout(timer);
      expect(performance.now() - t0).toBeLessThan(15_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
