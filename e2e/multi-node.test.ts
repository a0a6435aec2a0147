/**
 * Several nodes on one Redis, end to end (issue 14, deliverable 7): redis-server, two `lifeline serve
 * --redis` processes and HAProxy with the shipped two-node example, all on loopback; 200 reference
 * clients through HAProxy sending numbered messages with message ids, and a publisher at a steady
 * rate. Scenarios: drain a node, SIGKILL a node, restart Redis (e2e/multi-node/scenarios.ts; the
 * per-client verdict in verdict.ts). Prints a summary table for the issue's note.
 *
 * CI form: 200 clients, ~1.5 s of steady traffic around each event (under 2 minutes in all).
 * LIFELINE_THOROUGH=1: 1000 clients, longer runs, each scenario three times.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { isRedisAvailable } from '../test/support/redis.js';
import { Cluster } from './multi-node/cluster.js';
import { hasHaproxy } from './multi-node/haproxy.js';
import { killAll } from './multi-node/processes.js';
import { ciSize, runScenario, thoroughSize, type ScenarioName } from './multi-node/scenarios.js';
import { summaryTable, type SummaryRow } from './multi-node/verdict.js';

const isThorough = process.env.LIFELINE_THOROUGH === '1';
const size = isThorough ? thoroughSize : ciSize;
const repeats = isThorough ? 3 : 1;
const rows: SummaryRow[] = [];
const canRun = isRedisAvailable() && hasHaproxy();
if (!hasHaproxy()) {
  if (process.env.CI) throw new Error('CI must run the multi-node e2e test: haproxy not found (apt-get install haproxy)');
  console.warn('skipping the multi-node e2e test: haproxy not found');
}

const clusters = new Set<Cluster>();

afterAll(async () => {
  for (const c of clusters) await c.stop().catch(() => undefined);
  const left = await killAll(); // whatever a failed test left running
  if (left.length > 0) console.log(`multi-node e2e: killed left-over processes: ${left.join(', ')}`);
  if (rows.length > 0) console.log(`\nmulti-node e2e summary (${size.clients} clients, each sending every ${size.sendIntervalMs} ms; publisher ${size.publishPerSecond}/s)\n${summaryTable(rows)}\n`);
}, 30_000);

describe.skipIf(!canRun)('e2e: two nodes on Redis behind HAProxy', () => {
  const cases: { name: ScenarioName; title: string }[] = [
    { name: 'drain', title: 'MN-11 drain of a node: every client of a ends on b RESUMED; 0 lost, 0 duplicated both ways' },
    { name: 'kill', title: 'MN-7 SIGKILL of a node: clients resume on b from Redis; 0 lost; duplicates only in the un-acked tail' },
    { name: 'redis', title: 'MN-6 MN-13 MN-14 Redis restart: sessions stay up, readyz 503 then 200, publishes rejected meanwhile; nothing acknowledged lost, nothing duplicated' },
  ];
  for (const c of cases) {
    for (let r = 1; r <= repeats; r++) {
      test(`${c.title}${repeats > 1 ? ` (run ${r})` : ''}`, async () => {
        const cluster = new Cluster();
        clusters.add(cluster);
        const notes: string[] = [];
        try {
          const result = await runScenario(c.name, size, cluster, notes);
          rows.push(result.row);
          console.log(`multi-node e2e ${c.name}:\n  ${result.notes.join('\n  ')}`);
          if (result.failures.length > 0) console.log(`multi-node e2e ${c.name}: ${result.failures.length} failures:\n  ${result.failures.slice(0, 30).join('\n  ')}`);
          expect(result.failures.slice(0, 30)).toEqual([]);
          expect(result.row.c2sLost).toBe(0);
          expect(result.row.s2cLost).toBe(0);
          expect(result.row.s2cDuplicated).toBe(0);
          if (c.name === 'kill') expect(result.row.c2sDuplicated).toBeLessThanOrEqual(result.row.c2sDuplicateBound ?? 0);
          else expect(result.row.c2sDuplicated).toBe(0);
        } catch (err) {
          // What the scenario saw before it failed: phases and their durations.
          console.log(`multi-node e2e ${c.name} failed after:\n  ${notes.join('\n  ')}`);
          throw err;
        } finally {
          await cluster.stop();
          clusters.delete(cluster);
        }
      }, isThorough ? 600_000 : 120_000);
    }
  }
});
