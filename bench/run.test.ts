/**
 * Cheap proof that the bench harness still runs (issue 7): the codec scenario
 * with tiny batches, and the report table. CI runs `npm run bench -- --quick`
 * separately; no test here checks a number against a target.
 */
import { describe, expect, test } from 'vitest';
import { codecTable, runCodec } from './codec.bench.js';
import { median, quantile, rotate, table } from './lib/stats.js';

describe('bench harness', () => {
  test('codec scenario produces a row per message and contender, JSON as the ratio baseline', () => {
    const rows = runCodec({ reps: 1, batchMs: 1 });
    const messages = new Set(rows.map((r) => r.message));
    expect(messages).toEqual(new Set(['Heartbeat', 'HeartbeatAck', 'Ack', 'StatePatch (200 B delta)', 'Message (64 B payload)']));
    for (const r of rows) {
      expect(r.nsPerOp).toBeGreaterThan(0);
      expect(r.bytes).toBeGreaterThan(0);
      if (r.contender.startsWith('JSON')) expect(r.nsRatioToJson).toBe(1);
    }
    // Lifeline's codec and protobuf-es write the same bytes (the fast path is byte-identical).
    for (const m of messages) {
      const sizes = rows.filter((r) => r.message === m && !r.contender.startsWith('JSON')).map((r) => r.bytes);
      expect(new Set(sizes).size).toBe(1);
    }
    const md = codecTable(rows);
    expect(md.split('\n')).toHaveLength(rows.length + 2);
  });

  test('statistics helpers: median, quantiles, rotation, Markdown table', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(quantile([], 0.5)).toBeNaN();
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(table(['x', 'n'], [['a', '1']])).toBe('| x | n |\n| --- | ---: |\n| a | 1 |');
  });
});
