import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { diff, readSnapshot, summarise } from './heap-snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'heap-snapshot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A small fresh process (a snapshot of the test worker itself takes seconds): 1,000 instances
// of a class with a Set and a closure each, between two snapshots.
const CHILD = `
const { writeHeapSnapshot } = require('node:v8');
class ProbeMarker {
  tags = new Set();
  onEvent = () => this.tags.size;
}
writeHeapSnapshot(process.argv[1] + '/before.heapsnapshot');
globalThis.held = Array.from({ length: 1000 }, () => new ProbeMarker());
writeHeapSnapshot(process.argv[1] + '/after.heapsnapshot');
`;

// The probe's whole path: parse, group, diff per instance, dominators.
test('a snapshot diff charges 1,000 instances of a class, its fields and its closures per instance', () => {
  execFileSync(process.execPath, ['-e', CHILD, dir]);
  const before = summarise(readSnapshot(join(dir, 'before.heapsnapshot')));
  const after = summarise(readSnapshot(join(dir, 'after.heapsnapshot')));
  const held = { length: 1000 };
  const byClass = diff(before.byClass, after.byClass, held.length);
  expect(byClass.find((r) => r.name === 'ProbeMarker')?.count).toBe(1);
  expect(byClass.find((r) => r.name.startsWith('closure onEvent ('))?.count).toBe(1);
  const byOwner = diff(before.byOwner, after.byOwner, held.length);
  expect(byOwner.find((r) => r.name === 'ProbeMarker.tags → Set')?.count).toBe(1);
  const byPart = diff(before.byPart, after.byPart, held.length);
  const part = byPart.find((r) => r.name === 'ProbeMarker');
  // Its Set and the Set's table, its closure and that closure's context are all the marker's part.
  expect(part?.count).toBeGreaterThanOrEqual(4);
  const retained = after.retainedByClass.get('ProbeMarker');
  expect(retained?.count).toBe(1000);
  // What a marker retains is at least what is charged to it (a few bytes of noise: other allocations between the snapshots).
  expect((retained?.bytes ?? 0) / 1000).toBeGreaterThanOrEqual((part?.bytes ?? Infinity) - 8);
}, 60_000);
