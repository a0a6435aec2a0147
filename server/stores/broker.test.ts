import { describe, expect, it } from 'vitest';
import { comparePositions } from './broker.js';

describe('comparePositions', () => {
  it('orders Redis stream ids by time, then sequence, as numbers (not as strings)', () => {
    expect(comparePositions('1796621779870-0', '1796621779870-0')).toBe(0);
    expect(comparePositions('1796621779870-9', '1796621779870-10')).toBe(-1);
    expect(comparePositions('999-5', '1000-0')).toBe(-1);
    expect(comparePositions('0-2', '0-1')).toBe(1);
    expect(comparePositions('0-0', '1-0')).toBe(-1);
  });
  it('stays exact past 2^53 (bigints)', () => {
    expect(comparePositions('18446744073709551615-0', '18446744073709551614-0')).toBe(1);
    expect(comparePositions('1-18446744073709551615', '1-18446744073709551615')).toBe(0);
    expect(comparePositions('9007199254740993-0', '9007199254740992-0')).toBe(1);
  });
});
