// The shipped two-node HAProxy example (ops/haproxy/two-nodes.cfg, issue 14): valid for haproxy,
// its numbers consistent with the spec's bounds, and the test form the e2e test runs differs from it
// only in addresses and check timing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { defaults } from '../../spec/protocol/defaults.js';
import { checkTiming, hasHaproxy, HAPROXY_BIN, readTwoNodesConfig, rotationExitBoundMs, testConfig, TWO_NODES_CFG } from './haproxy.js';

/** A dead peer is dropped within interval × (missed_max + 1) plus one interval of sweep (HB-3), in ms. */
const detectionBoundMs = defaults.heartbeatIntervalMs * (defaults.heartbeatMissedMax + 2);
const cfg = readTwoNodesConfig();

function haproxyCheck(file: string): { status: number | null; out: string } {
  const r = spawnSync(HAPROXY_BIN, ['-c', '-f', file], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('ops/haproxy/two-nodes.cfg', () => {
  test('no stickiness; health checks on /readyz; retries move a refused or failed connection to the other node', () => {
    expect(cfg).not.toMatch(/^\s*(cookie|stick|hash-type|balance source)/m);
    expect(cfg).toMatch(/^\s*option httpchk GET \/readyz/m);
    expect(cfg).toMatch(/^\s*http-check expect status 200/m);
    expect(cfg).toMatch(/^\s*option redispatch\b/m);
    expect(Number(/^\s*retries (\d+)/m.exec(cfg)?.[1])).toBeGreaterThan(0);
    expect(/^\s*retry-on (.*)$/m.exec(cfg)?.[1]).toContain('503');
    expect(cfg.match(/^\s*server \S+ \S+ check$/gm)).toHaveLength(2);
  });

  test('timeout tunnel exceeds the liveness bound; the drain delay it names covers leaving rotation', () => {
    const t = checkTiming(cfg);
    expect(t.tunnelMs).toBeGreaterThan(detectionBoundMs); // HB-3
    const bound = rotationExitBoundMs(t);
    expect(bound).toBe(3000); // inter 1 s × fall 2 + timeout check 1 s, as the comment computes
    const delay = Number(/--drain-delay-ms (\d+)/.exec(cfg)?.[1]);
    expect(delay).toBeGreaterThanOrEqual(bound);
    expect(delay).toBeLessThan(defaults.drainDeadlineMs); // the drain itself still has its time
  });

  test.skipIf(!hasHaproxy() && !process.env.CI)('haproxy accepts the example and the e2e test form of it', () => {
    const shipped = haproxyCheck(TWO_NODES_CFG);
    expect(shipped.status, shipped.out).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-haproxy-check-'));
    try {
      const form = testConfig(cfg, { port: 18080, servers: [{ name: 'a', port: 18081 }, { name: 'b', port: 18082 }], interMs: 100, checkTimeoutMs: 200 });
      // Only addresses, the process limit and check timing differ from the shipped file.
      const strip = (s: string) =>
        s.split('\n').filter((l) => !/^\s*(server |bind |maxconn |default-server |timeout check)/.test(l) && l.trim() !== '').join('\n');
      expect(strip(form)).toBe(strip(cfg));
      expect(form).toContain('server a 127.0.0.1:18081 check');
      expect(form).toContain('bind 127.0.0.1:18080');
      expect(form).toMatch(/default-server inter 100ms fall 2 rise 2/);
      const file = join(dir, 'test.cfg');
      writeFileSync(file, form);
      const r = haproxyCheck(file);
      expect(r.status, r.out).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
