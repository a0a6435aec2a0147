import { spawn } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { readRunDelayMs, RunDelay } from './run-delay.js';

describe('RunDelay: the process under test\'s wait for a CPU over a span', () => {
  test('a span is read from the last sample at or before its start to the first at or after its end (never narrower)', () => {
    const values = new Map<number, number>();
    const t = new RunDelay([1], (pid) => values.get(pid));
    const at = (time: number, ms: number) => {
      values.set(1, ms);
      t.sample(time);
    };
    at(0, 0);
    at(10, 5);
    at(20, 50); // 45 ms waited in (10, 20]
    at(30, 52);
    at(40, 52);
    expect(t.waitedMs(10, 20)).toBe(45);
    expect(t.waitedMs(12, 18)).toBe(45); // the samples around the span: it may only widen
    expect(t.waitedMs(20, 40)).toBe(2);
    expect(t.waitedMs(0, 40)).toBe(52);
    expect(t.waitedMs(25, 26)).toBe(2);
    expect(t.waitedMs(-5, 5)).toBe(5); // before the first sample: from the first
    expect(t.waitedMs(35, 99)).toBe(0); // past the last (not sampling on its own): up to the last
  });

  test('of several processes, the one that waited most over the span', () => {
    const values = new Map<number, number>([
      [1, 0],
      [2, 100],
    ]);
    const t = new RunDelay([1, 2], (pid) => values.get(pid));
    t.sample(0);
    values.set(1, 30);
    values.set(2, 110);
    t.sample(10);
    expect(t.waitedMs(0, 10)).toBe(30);
    values.delete(1); // process 1 exited: its last sample stands
    values.set(2, 200);
    t.sample(20);
    expect(t.waitedMs(10, 20)).toBe(90);
  });

  test.runIf(process.platform === 'linux')('reads a live child process and stops reading it when stopped', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(readRunDelayMs(child.pid as number)).toBeGreaterThanOrEqual(0);
      const t = RunDelay.start(child.pid);
      expect(t).toBeDefined();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 50));
      expect(t?.waitedMs(t0, performance.now())).toBeGreaterThanOrEqual(0);
      t?.stop();
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a process that cannot be read has no tracker', () => {
    expect(readRunDelayMs(2 ** 22 + 12345)).toBeUndefined();
    expect(RunDelay.start(undefined)).toBeUndefined();
  });
});
