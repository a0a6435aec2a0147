import { describe, expect, test } from 'vitest';
import { sampleRecord } from './contract.js';
import { MemorySessionStore } from './memory-session-store.js';
import { ReplayWriter } from './replay-writer.js';
import type { RecordDelta } from './session-store.js';

/** The memory store, saying it is shared: the server then writes replay behind (issue 14's Redis path). */
class SharedTestStore extends MemorySessionStore {
  override readonly isShared = true;
  calls: string[] = [];
  override commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    const frames = delta.frames ?? [];
    if (frames.length > 0) this.calls.push(`append ${frames.map((f) => f.seq).join(',')}`);
    if (delta.acked !== undefined) this.calls.push(`trim ${delta.acked}`);
    return super.commit(id, fence, delta);
  }
}

const bytes = (n: number) => new Uint8Array([n]);

function manual() {
  const queue: (() => void)[] = [];
  return { schedule: (fn: () => void) => void queue.push(fn), tick: () => queue.splice(0).forEach((fn) => fn()), queue };
}

describe('ReplayWriter (write-behind for a shared store)', () => {
  test('SEQ-7 appends and trims of one tick become one append and one trim per session, in order', async () => {
    const store = new SharedTestStore();
    const r = sampleRecord();
    const fence = await store.create(r, 'n1');
    const m = manual();
    const w = new ReplayWriter(store, { schedule: m.schedule, onStale: () => {}, onError: () => {} });
    w.sent(r.id, fence, 1n, bytes(1));
    w.sent(r.id, fence, 2n, bytes(2));
    w.sent(r.id, fence, 3n, bytes(3));
    w.acked(r.id, fence, 1n);
    expect(m.queue).toHaveLength(1); // one flush per tick, however many writes
    expect(store.calls).toEqual([]);
    m.tick();
    await w.flush();
    expect(store.calls).toEqual(['append 2,3', 'trim 1']);
    const back = await store.load(r.id);
    expect(back?.outbound.replay.map((f) => f.seq)).toEqual([2n, 3n]);
    expect(back?.outbound).toMatchObject({ next: 4n, acked: 1n });
    w.acked(r.id, fence, 3n);
    await w.flush();
    expect((await store.load(r.id))?.outbound.replay).toEqual([]);
  });

  test('a takeover: writes under the old fence are refused and reported as stale, the store keeps the new owner\'s state', async () => {
    const store = new SharedTestStore();
    const r = sampleRecord();
    const old = await store.create(r, 'n1');
    await store.claim(r.id, 'n2');
    const stale: string[] = [];
    const w = new ReplayWriter(store, { schedule: () => {}, onStale: (id, fence) => stale.push(`${id} ${fence}`), onError: () => {} });
    w.sent(r.id, old, 1n, bytes(1));
    await w.flush();
    expect(stale).toEqual([`${r.id} ${old}`]);
    expect((await store.load(r.id))?.outbound.replay).toEqual([]);
  });

  test('a store failure drops the batch and reports it; nothing waits for ever', async () => {
    class Down extends SharedTestStore {
      override commit(): Promise<void> {
        return Promise.reject(new Error('store unreachable'));
      }
    }
    const store = new Down();
    const r = sampleRecord();
    const fence = await store.create(r, 'n1');
    const errors: unknown[] = [];
    const w = new ReplayWriter(store, { schedule: () => {}, onStale: () => {}, onError: (_id, e) => errors.push(e) });
    w.sent(r.id, fence, 1n, bytes(1));
    await w.flush();
    expect(errors).toHaveLength(1);
    expect(w.size).toBe(0);
  });
});
