/**
 * The server on a store that says it is shared (issue 14's Redis path, in memory): the record is
 * created and claimed at the lifecycle points, and replay appends and trims are written behind,
 * once per tick, so the store follows the live session's OutboundLog.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Harness } from '../../test/support/server.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { SessionRecord } from './session-record.js';
import type { RecordDelta } from './session-store.js';

const h = new Harness();
afterEach(() => h.cleanup());
const enc = (s: string) => new TextEncoder().encode(s);

class SharedTestStore extends MemorySessionStore {
  override readonly isShared = true;
  readonly calls: string[] = [];
  /** A store across a network: each replay or save write lands this long after it was issued. */
  latencyMs = 0;
  private later<T>(write: () => Promise<T>): Promise<T> {
    return this.latencyMs === 0 ? write() : new Promise((resolve) => setTimeout(resolve, this.latencyMs)).then(write);
  }
  override save(record: SessionRecord, fence: number): Promise<void> {
    this.calls.push('save');
    return this.later(() => super.save(record, fence));
  }
  override create(record: SessionRecord, nodeId: string): Promise<number> {
    this.calls.push('create');
    return super.create(record, nodeId);
  }
  override commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    const frames = delta.frames ?? [];
    if (frames.length > 0) this.calls.push(`append ${frames.length}`);
    if (delta.acked !== undefined) this.calls.push(`trim ${delta.acked}`);
    return this.later(() => super.commit(id, fence, delta));
  }
}

describe('a shared session store', () => {
  test('SEQ-7 the store follows the replay: appends and trims written behind, batched per tick; detach saves, end forgets with its reason', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    for (let i = 1; i <= 4; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 4);
    await vi.waitFor(async () => expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n, 4n]));
    expect(store.calls.filter((x) => x.startsWith('append')).length).toBeLessThan(4); // batched, not one write per frame
    c.ack(3n);
    await vi.waitFor(async () => expect((await store.load(id))?.outbound).toMatchObject({ acked: 3n, next: 5n }));
    expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([4n]);
    c.destroy();
    await vi.waitFor(async () => expect((await store.load(id))?.expiresAtMs).toBeDefined()); // RS-1: saved at detach with its TTL
    srv.session(id)?.end();
    await vi.waitFor(async () => expect(await store.load(id)).toBeUndefined());
    expect(await store.endedReason(id)).toBe('ended');
  });

  test('SEQ-7 close() leaves a shared store current: the replay written behind is in the store when close resolves', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    store.latencyMs = 30;
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await srv.close(); // no wait after it: the store has the replay already
    expect((await store.load(id))?.outbound.replay.map((f) => f.seq)).toEqual([1n, 2n, 3n]);
  });

  test('DR-4 drain() leaves a shared store current: the detach saves are in the store when drain resolves', async () => {
    const store = new SharedTestStore();
    const srv = await h.server({ sessionStore: store });
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.nodeId).toBe(srv.nodeId));
    await srv.publish('feed', { payload: enc('m1') });
    await c.waitForCount('message', 1);
    store.latencyMs = 30;
    await srv.drain({ deadlineMs: 100, spreadMs: 10 });
    const record = await store.load(id);
    expect(record?.expiresAtMs).toBeDefined(); // RS-1: saved at its detach, with its TTL
    expect(record?.machine?.value).toBe('detached');
    expect(record?.outbound.replay.map((f) => f.seq)).toEqual([1n]);
  });
});
