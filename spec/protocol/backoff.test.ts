import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoffCeilingMs, backoffDelayMs } from './backoff.js';
import { crc32c, stateDigest } from './digest.js';

describe('backoff', () => {
  test('RC-2 every delay lies in [minDelay, max(minDelay, min(cap, base × 2ⁿ))]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (attempt, r, base, cap, minDelay) => {
          const opts = { reconnectBaseMs: base, reconnectCapMs: cap };
          const d = backoffDelayMs(attempt, () => r, opts, minDelay);
          const ceiling = Math.max(minDelay, Math.min(cap, base * 2 ** Math.min(attempt, 31)));
          expect(d).toBeGreaterThanOrEqual(minDelay);
          expect(d).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  test('RC-2 the ceiling doubles from base and stops at cap', () => {
    const opts = { reconnectBaseMs: 1000, reconnectCapMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeilingMs(n, opts))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  test('RC-2 full jitter spreads a fleet across the window', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => backoffDelayMs(3, () => i / 1000, { reconnectBaseMs: 1000, reconnectCapMs: 30_000 }));
    expect(Math.min(...delays)).toBe(0);
    expect(Math.max(...delays)).toBeGreaterThan(7900);
  });
});

describe('digest', () => {
  test('SD-3 the digest is CRC-32C (check value of "123456789" is 0xE3069283) and never 0', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    fc.assert(fc.property(fc.uint8Array(), (b) => { expect(stateDigest(b)).not.toBe(0); }));
  });
});
