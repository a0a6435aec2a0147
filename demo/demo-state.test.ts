import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { stateDigest } from '../spec/protocol/digest.js';
import {
  applyCounterPatch,
  applyTickerPatch,
  canonicalJson,
  decodeTicker,
  encodeCounter,
  encodeTicker,
  encodeTickerDelta,
  incrementCounter,
  incrementPayload,
  initialTicker,
  isIncrement,
  nextTick,
  type TickerState,
} from './demo-state.js';

describe('demo state', () => {
  test('SD-3 canonical JSON sorts keys at every level, so equal states have equal bytes', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 'x' }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":"x","z":0}]},"b":1}');
    expect(canonicalJson({ price: 12.34, symbol: 'ABC' })).toBe('{"price":12.34,"symbol":"ABC"}');
  });

  test('SD-1 SD-3 a page applying the ticker patches in order ends with the server\'s bytes and digest', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 2, maxLength: 200 }), (rs) => {
        let i = 0;
        const random = () => rs[i++ % rs.length] as number;
        let server: TickerState = initialTicker();
        let page: TickerState = decodeTicker(encodeTicker(server)); // from the snapshot
        for (let n = 0; n < 50; n++) {
          const d = nextTick(server, random);
          server = { ...server, [d.symbol]: d.price };
          page = applyTickerPatch(page, encodeTickerDelta(d));
          expect(stateDigest(encodeTicker(page))).toBe(stateDigest(encodeTicker(server)));
        }
        expect(encodeTicker(page)).toEqual(encodeTicker(server));
      }),
      { numRuns: 100 },
    );
  });

  test('SD-1 the counter delta is the new state; increment payloads are recognised', () => {
    const s = incrementCounter({ value: 41 });
    expect(applyCounterPatch({ value: 0 }, encodeCounter(s))).toEqual({ value: 42 });
    expect(new TextDecoder().decode(encodeCounter(s))).toBe('{"value":42}');
    expect(isIncrement(incrementPayload())).toBe(true);
    expect(isIncrement(new TextEncoder().encode('{"op":"decrement"}'))).toBe(false);
    expect(isIncrement(new TextEncoder().encode('not json'))).toBe(false);
  });

  test('SD-1 ticks keep prices in cents and at least 1.00', () => {
    let s = initialTicker();
    for (let n = 0; n < 1000; n++) {
      const d = nextTick(s, Math.random);
      expect(Math.round(d.price * 100) / 100).toBe(d.price);
      expect(d.price).toBeGreaterThanOrEqual(1);
      s = { ...s, [d.symbol]: d.price };
    }
  });
});
