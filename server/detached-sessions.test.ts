import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { DetachedSessions } from './detached-sessions.js';
import type { LifelineServer } from './server.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** A session that detaches (socket destroyed, RS-1); its id. */
async function detachedSession(srv: LifelineServer, channels: string[] = []): Promise<string> {
  const c = await h.session(srv, { channels });
  const id = c.bodies('welcome')[0]?.sessionId as string;
  c.destroy();
  await vi.waitFor(() => expect(srv.session(id)?.state).toBe('detached'), { timeout: 5000 });
  return id;
}

async function resumeOf(srv: LifelineServer, id: string) {
  const c = await h.client(srv);
  return (await c.handshake({ sessionId: id, lastServerSeq: 0n })).resume;
}

describe('detached sessions within global limits (RS-11)', () => {
  test('RS-11 beyond maxDetachedSessions the oldest detached session is evicted; its resume says NEW/EVICTED', async () => {
    const srv = await h.server({ maxDetachedSessions: 2, resumeTtlMs: 60_000 });
    const first = await detachedSession(srv);
    const second = await detachedSession(srv);
    const third = await detachedSession(srv);
    await vi.waitFor(() => expect(srv.session(first)).toBeUndefined(), { timeout: 5000 });
    expect(srv.session(second)?.state).toBe('detached');
    expect(srv.session(third)?.state).toBe('detached');
    expect(await resumeOf(srv, first)).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.EVICTED });
    expect((await resumeOf(srv, second))?.outcome).toBe(ResumeOutcome.RESUMED);
  });

  test('RS-11 beyond the detached byte budget the oldest detached sessions are evicted', async () => {
    const srv = await h.server({ detachedBudgetBytes: 100_000, resumeTtlMs: 60_000 });
    const a = await detachedSession(srv, ['feed']);
    const b = await detachedSession(srv, ['feed']);
    for (let i = 0; i < 6; i++) await srv.publish('feed', { payload: new Uint8Array(10_000) }); // 60 KB queued in each: 120 KB together
    srv.registry.enforceDetachedLimits(); // the sweep's cycle does this (every interval)
    expect(srv.session(a)).toBeUndefined();
    expect(srv.session(b)?.state).toBe('detached');
    expect(srv.registry.detachedSessions.heldBytes()).toBeLessThanOrEqual(100_000);
  });

  test('RS-11 CC-8 a new session at maxSessions takes the place of the oldest detached one; without one it gets 1013', async () => {
    const srv = await h.server({ maxSessions: 2, resumeTtlMs: 60_000 });
    const old = await detachedSession(srv);
    await h.session(srv);
    const c = await h.session(srv); // full: the detached session makes room
    expect(c.isOpen).toBe(true);
    expect(srv.session(old)).toBeUndefined();
    const d = await h.client(srv);
    d.hello();
    expect((await d.waitForClose(5000)).code).toBe(codeOf('TRY_AGAIN_LATER')); // nothing detached left to evict
  });

  test('RS-11 the list evicts oldest first, and stops when empty', () => {
    const evicted: string[] = [];
    const mk = (name: string, bytes: number) => ({ name, heldBytes: () => bytes });
    const list = new DetachedSessions<ReturnType<typeof mk>>({ maxCount: 2, budgetBytes: 100 }, (s) => evicted.push(s.name));
    const [a, b, c] = [mk('a', 100), mk('b', 100), mk('c', 10)];
    list.add(a);
    list.add(b);
    list.add(a); // detached again: now the youngest
    list.add(c);
    expect(list.enforce()).toBe(2); // 3 > 2 evicts b (the oldest); then a + c = 110 B > 100 evicts a
    expect(evicted).toEqual(['b', 'a']);
    expect(list.size).toBe(1);
    expect(list.evictOldest()).toBe(true);
    expect(list.evictOldest()).toBe(false);
  });
});
