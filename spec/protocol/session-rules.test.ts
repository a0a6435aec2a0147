import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  arrivalOf,
  decideClientMessage,
  fixedIntervalTick,
  isAckBeyondSent,
  isAckDueNow,
  isBeyondWindow,
  isMissedTooMany,
  isSilentTooLong,
} from './session-rules.js';

const seq = fc.bigInt({ min: 0n, max: 40n });

describe('session rules (spec §7.10)', () => {
  test('SEQ-3 SEQ-4 a seq at or below the last accepted is a duplicate, the one after it next, any later a gap', () => {
    expect(arrivalOf(3n, 3n)).toBe('duplicate');
    expect(arrivalOf(1n, 3n)).toBe('duplicate');
    expect(arrivalOf(4n, 3n)).toBe('next');
    expect(arrivalOf(5n, 3n)).toBe('gap');
    expect(arrivalOf(1n, 0n)).toBe('next');
  });

  test('SEQ-6 an ack beyond the last sent seq', () => {
    expect(isAckBeyondSent(5n, 5n)).toBe(false);
    expect(isAckBeyondSent(6n, 5n)).toBe(true);
    expect(isAckBeyondSent(0n, 0n)).toBe(false);
  });

  test('BP-17 beyond the last ack sent plus the window granted', () => {
    expect(isBeyondWindow(74n, 10n, 64)).toBe(false);
    expect(isBeyondWindow(75n, 10n, 64)).toBe(true);
  });

  test('BP-14 BP-17 SEQ-4 SEQ-3 SEQ-10 a client Message is decided in the machine guard order', () => {
    expect(decideClientMessage(99n, true, 0n, 0n, 1)).toBe('BP-14'); // over the rate wins over everything
    expect(decideClientMessage(99n, false, 0n, 0n, 1)).toBe('BP-17'); // a flood is contiguous: before the gap
    expect(decideClientMessage(5n, false, 2n, 2n, 64)).toBe('SEQ-4');
    expect(decideClientMessage(2n, false, 2n, 2n, 64)).toBe('SEQ-3');
    expect(decideClientMessage(3n, false, 2n, 2n, 64)).toBe('SEQ-10');
    fc.assert(
      fc.property(seq, fc.boolean(), seq, seq, fc.integer({ min: 0, max: 16 }), (s, over, accepted, acked, w) => {
        const rule = decideClientMessage(s, over, accepted, acked, w);
        const expected = over ? 'BP-14' : isBeyondWindow(s, acked, w) ? 'BP-17' : ({ gap: 'SEQ-4', duplicate: 'SEQ-3', next: 'SEQ-10' } as const)[arrivalOf(s, accepted)];
        expect(rule).toBe(expected);
      }),
    );
  });

  test('SEQ-5 an ack is due at once at half the window unacked, never with nothing unacked', () => {
    expect(isAckDueNow(0, 0)).toBe(false);
    expect(isAckDueNow(1, 0)).toBe(true); // a window below 1 counts as 1
    expect(isAckDueNow(31, 64)).toBe(false);
    expect(isAckDueNow(32, 64)).toBe(true);
  });

  test('HB-3 HB-7 liveness thresholds', () => {
    expect(isMissedTooMany(2, 2)).toBe(false);
    expect(isMissedTooMany(3, 2)).toBe(true);
    // M = 2: the fourth tick after three silent ones makes I × (M + 1) pass; at 2·I, the seventh.
    expect(isSilentTooLong(2, 2, 1)).toBe(false);
    expect(isSilentTooLong(3, 2, 1)).toBe(true);
    expect(isSilentTooLong(5, 2, 2)).toBe(false);
    expect(isSilentTooLong(6, 2, 2)).toBe(true);
  });

  test('HB-1 HB-3 HB-7 a fixed-interval tick drops for unanswered pings first, then for silence, else pings', () => {
    expect(fixedIntervalTick(3, 3, 2)).toBe('HB-3');
    expect(fixedIntervalTick(0, 3, 2)).toBe('HB-7');
    expect(fixedIntervalTick(2, 1, 2)).toBe('ping');
    expect(fixedIntervalTick(0, 0, 0)).toBe('ping');
    expect(fixedIntervalTick(1, 0, 0)).toBe('HB-3');
  });
});
