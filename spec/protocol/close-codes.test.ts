import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { adviceForCode, adviceForHttpStatus, clampCloseReason, closeCodes, type CloseRow } from './close-codes.js';

const rows = Object.entries(closeCodes) as [string, CloseRow][];

describe('close-code registry', () => {
  test('CC-1 codes and statuses are unique and in their ranges', () => {
    const codes = rows.map(([, r]) => r.code).filter((c) => c !== undefined);
    const statuses = rows.map(([, r]) => r.http).filter((c) => c !== undefined);
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(statuses).size).toBe(statuses.length);
    for (const [, r] of rows) {
      expect((r.code === undefined) !== (r.http === undefined)).toBe(true);
      if (r.code !== undefined) expect(r.code >= 1000 && r.code <= 1015 || r.code >= 4000 && r.code <= 4999).toBe(true);
    }
    // Every standard code 1000–1015 except the unassigned is registered.
    for (let c = 1000; c <= 1015; c++) expect(codes).toContain(c);
  });

  test('CC-1 reasons are clamped to 123 UTF-8 bytes without splitting a character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
        const out = clampCloseReason(s);
        expect(new TextEncoder().encode(out).length).toBeLessThanOrEqual(123);
        expect(s.startsWith(out)).toBe(true);
      }),
    );
  });

  test('CC-3 every Lifeline code\'s advice matches the class of its hundreds digit', () => {
    const classOf = (code: number) => (code < 4100 ? 'none' : code < 4200 ? 'refresh-token' : code < 4300 ? 'backoff' : 'server-delay');
    for (const [name, r] of rows) {
      if (r.code !== undefined && r.code >= 4000) expect(r.retry, name).toBe(classOf(r.code));
    }
    fc.assert(
      fc.property(fc.integer({ min: 4000, max: 4399 }), (code) => {
        expect(adviceForCode(code).retry).toBe(classOf(code));
      }),
    );
  });

  test('CC-4 codes that are never sent advise backoff when observed', () => {
    for (const c of [1004, 1005, 1006, 1014, 1015]) expect(adviceForCode(c).retry).toBe('backoff');
    fc.assert(fc.property(fc.integer({ min: 3000, max: 3999 }), (c) => { expect(adviceForCode(c).retry).toBe('backoff'); }));
  });

  test('CC-6 CC-7 1000 ends the session, 1001 backs off, 1003 and 1008 never reconnect', () => {
    expect(adviceForCode(1000).retry).toBe('none');
    expect(adviceForCode(1001).retry).toBe('backoff');
    expect(adviceForCode(1003).retry).toBe('none');
    expect(adviceForCode(1008).retry).toBe('none');
    expect(adviceForHttpStatus(503).retry).toBe('server-delay');
    expect(adviceForHttpStatus(502).retry).toBe('backoff');
    expect(adviceForHttpStatus(401).retry).toBe('refresh-token');
  });
});
