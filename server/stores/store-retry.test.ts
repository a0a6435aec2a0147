import { describe, expect, test } from 'vitest';
import { StoreRetryAbandoned, untilStored } from './store-retry.js';

describe('untilStored (MN-6: a store that is away is asked again, never failed)', () => {
  test('MN-6 a call that rejects is made again with backoff until it answers', async () => {
    let calls = 0;
    const op = () => (++calls < 3 ? Promise.reject(new Error('store away')) : Promise.resolve('answer'));
    const t0 = Date.now();
    await expect(untilStored(op(), op, () => false)).resolves.toBe('answer');
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50 + 100 - 5); // 50 ms, then 100 ms (timers may fire a ms early)
  });
  test('MN-6 a session that ended stops the retries with StoreRetryAbandoned', async () => {
    let gone = false;
    let calls = 0;
    const op = () => {
      calls++;
      gone = true;
      return Promise.reject(new Error('store away'));
    };
    await expect(untilStored(op(), op, () => gone)).rejects.toBeInstanceOf(StoreRetryAbandoned);
    expect(calls).toBe(1);
  });
});
