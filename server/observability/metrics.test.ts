import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { BackpressurePolicy, DriftReason, ResumeOutcome, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import { closeCodes } from '../../spec/protocol/close-codes.js';
import { closeCodeLabels, createLifelineMetrics, type LifelineGaugeReading } from './metrics.js';

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('lifeline metrics', () => {
  test('records through the seam and serves the Prometheus text on /metrics', async () => {
    const m = createLifelineMetrics();
    let reading: LifelineGaugeReading = { connectionsOpen: 3, sessionsDetached: 1, queueMessages: 7, queueBytes: 2048, bufferedAmountMaxBytes: 65536 };
    m.setGaugeSource(() => reading);
    m.upgradeRejected(403);
    m.upgradeRejected(429);
    m.upgradeRejected(429);
    m.upgradeRejected(418); // not in the registry
    m.connectionClosed(4200, 12.5);
    m.connectionClosed(1006, 0.5);
    m.connectionClosed(1006, 3);
    m.connectionClosed(3999, 1); // unregistered
    m.heartbeatRtt(0.012);
    m.heartbeatRtt(0.2, 'client');
    m.heartbeatJitter(-0.3);
    m.sweepTick(0.003, 25);
    m.sweepDuration(0.0004);
    m.queueDepth(3);
    m.deliveryLatency(0.002);
    m.messageFailed();
    m.drift(DriftReason.DIGEST_MISMATCH);
    m.drift(99 as DriftReason);
    m.frame('sent', 'message', 100);
    m.frame('sent', 'heartbeatAck', 12);
    m.frame('received', 'heartbeat', 14);
    m.frame('received', 'bogus', 1);
    m.dropped(BackpressurePolicy.DROP_OLDEST, 5);
    m.dropped(BackpressurePolicy.COALESCE_BY_KEY);
    m.resume(ResumeOutcome.RESUMED, ResumeReason.REPLAYED);
    m.resume(ResumeOutcome.SNAPSHOT, ResumeReason.CLIENT_AHEAD);
    m.resume(ResumeOutcome.NEW, ResumeReason.EXPIRED);
    m.sessionLost('taken_over');
    m.sessionLost('record_missing');
    m.sessionLost('record_missing');
    m.handoffClaim('released');
    m.handoffClaim('lease_expired');
    m.handoffClaim('lease_expired');

    const base = await serve((req, res) => void m.metricsHandler(req, res));
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();

    expect(sample(text, 'lifeline_connections_open')).toBe(3);
    expect(sample(text, 'lifeline_sessions_detached')).toBe(1);
    expect(sample(text, 'lifeline_buffered_amount_high_water_bytes')).toBe(65536);
    expect(sample(text, 'lifeline_queue_messages')).toBe(7);
    expect(sample(text, 'lifeline_queue_bytes')).toBe(2048);
    expect(sample(text, 'lifeline_drain_sessions_remaining')).toBe(0);
    expect(sample(text, 'lifeline_upgrade_rejections_total{status="429",name="HTTP_TOO_MANY_REQUESTS",transport="ws"}')).toBe(2);
    expect(sample(text, 'lifeline_upgrade_rejections_total{status="403",name="HTTP_ORIGIN_REJECTED",transport="ws"}')).toBe(1);
    expect(sample(text, 'lifeline_upgrade_rejections_total{status="other",name="other",transport="ws"}')).toBe(1);
    expect(sample(text, 'lifeline_closes_total{code="1006",name="ABNORMAL"}')).toBe(2);
    expect(sample(text, 'lifeline_closes_total{code="4200",name="HEARTBEAT_TIMEOUT"}')).toBe(1);
    expect(sample(text, 'lifeline_closes_total{code="other",name="other"}')).toBe(1);
    expect(sample(text, 'lifeline_connection_duration_seconds_count')).toBe(4);
    expect(sample(text, 'lifeline_connection_duration_seconds_sum')).toBe(17);
    expect(sample(text, 'lifeline_connection_duration_seconds_bucket{le="1"}')).toBe(2);
    expect(sample(text, 'lifeline_heartbeat_rtt_seconds_count{source="ping"}')).toBe(1);
    expect(sample(text, 'lifeline_heartbeat_rtt_seconds_bucket{le="0.25",source="client"}')).toBe(1);
    expect(sample(text, 'lifeline_event_loop_lag_seconds_bucket{le="0.005"}')).toBe(1);
    expect(sample(text, 'lifeline_heartbeat_jitter_seconds_sum')).toBe(0.3);
    expect(sample(text, 'lifeline_queue_depth_bucket{le="4"}')).toBe(1);
    expect(sample(text, 'lifeline_delivery_latency_seconds_count')).toBe(1);
    expect(sample(text, 'lifeline_messages_failed_total')).toBe(1);
    expect(sample(text, 'lifeline_drift_total{reason="DIGEST_MISMATCH"}')).toBe(1);
    expect(sample(text, 'lifeline_drift_total{reason="other"}')).toBe(1);
    expect(sample(text, 'lifeline_heartbeat_interval_seconds')).toBe(25);
    expect(sample(text, 'lifeline_liveness_sweep_duration_seconds_count')).toBe(1);
    expect(sample(text, 'lifeline_messages_total{direction="sent",body="message"}')).toBe(1);
    expect(sample(text, 'lifeline_messages_total{direction="received",body="heartbeat"}')).toBe(1);
    expect(sample(text, 'lifeline_messages_total{direction="received",body="other"}')).toBe(1);
    expect(sample(text, 'lifeline_bytes_total{direction="sent"}')).toBe(112);
    expect(sample(text, 'lifeline_bytes_total{direction="received"}')).toBe(15);
    expect(sample(text, 'lifeline_frame_size_bytes_bucket{le="16",direction="sent"}')).toBe(1);
    expect(sample(text, 'lifeline_dropped_total{policy="DROP_OLDEST"}')).toBe(5);
    expect(sample(text, 'lifeline_dropped_total{policy="COALESCE_BY_KEY"}')).toBe(1);
    expect(sample(text, 'lifeline_resume_total{outcome="RESUMED",reason="REPLAYED"}')).toBe(1);
    expect(sample(text, 'lifeline_resume_total{outcome="SNAPSHOT",reason="CLIENT_AHEAD"}')).toBe(1);
    expect(sample(text, 'lifeline_resume_total{outcome="NEW",reason="EXPIRED"}')).toBe(1);
    expect(sample(text, 'lifeline_sessions_lost_total{cause="taken_over"}')).toBe(1);
    expect(sample(text, 'lifeline_sessions_lost_total{cause="record_missing"}')).toBe(2);
    expect(sample(text, 'lifeline_handoff_claims_total{cause="released"}')).toBe(1);
    expect(sample(text, 'lifeline_handoff_claims_total{cause="lease_expired"}')).toBe(2);
    // Names follow the Prometheus conventions: lifeline_ prefix, counters end in _total, units spelled.
    const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1] as string, x[2] as string]);
    expect(names.length).toBe(26);
    for (const [name, type] of names) {
      expect(name).toMatch(/^lifeline_[a-z_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (type === 'histogram' && name !== 'lifeline_queue_depth') expect(name).toMatch(/_(seconds|bytes)$/);
    }

    // Gauges follow the source at the next scrape; a drain shows its progress.
    reading = { connectionsOpen: 1, sessionsDetached: 0, queueMessages: 0, queueBytes: 0, drain: { sessionsLeft: 1, noticesSent: 4 } };
    const again = await (await fetch(`${base}/metrics`)).text();
    expect(sample(again, 'lifeline_connections_open')).toBe(1);
    expect(sample(again, 'lifeline_drain_sessions_remaining')).toBe(1);
    expect(sample(again, 'lifeline_drain_notices_sent')).toBe(4);
  });

  test('reads the gauge source once per scrape, and a failing source gives 500 without crashing', async () => {
    const m = createLifelineMetrics();
    let reads = 0;
    let isBroken = false;
    m.setGaugeSource(() => {
      reads++;
      if (isBroken) throw new Error('boom');
      return { connectionsOpen: 0, sessionsDetached: 0, queueMessages: 0, queueBytes: 0 };
    });
    await m.registry.metrics();
    expect(reads).toBe(1);
    await m.registry.metrics();
    expect(reads).toBe(2);
    isBroken = true;
    const base = await serve((req, res) => void m.metricsHandler(req, res));
    expect((await fetch(`${base}/metrics`)).status).toBe(500);
    isBroken = false;
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  test('registers into the application registry, or merges with it', async () => {
    const app = new Registry();
    const m = createLifelineMetrics({ registry: app });
    expect(m.registry).toBe(app);
    expect(await app.metrics()).toContain('lifeline_closes_total');
    expect(() => createLifelineMetrics({ registry: app })).toThrow(/already been registered/);
    const own = createLifelineMetrics();
    const merged = Registry.merge([new Registry(), own.registry]);
    expect(await merged.metrics()).toContain('lifeline_connections_open');
  });

  test('label sets stay bounded over 10,000 distinct sessions with hostile inputs', async () => {
    const m = createLifelineMetrics();
    m.setGaugeSource(() => ({ connectionsOpen: 10_000, sessionsDetached: 0, queueMessages: 0, queueBytes: 0 }));
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const policies = [0, 1, 2, 3, 4, 99] as BackpressurePolicy[];
    for (let session = 0; session < 10_000; session++) {
      // Every session brings its own unregistered code, status, body name, reason and outcome.
      m.connectionClosed(rand(2) === 0 ? 1000 + rand(20) : 3000 + session, rand(100_000) / 10);
      m.upgradeRejected(rand(2) === 0 ? 400 + rand(40) : 100 + session);
      m.frame(rand(2) === 0 ? 'sent' : 'received', rand(2) === 0 ? 'message' : `body-${session}`, rand(5000));
      m.dropped(policies[rand(policies.length)] as BackpressurePolicy, 1 + rand(3));
      m.resume(rand(5) as ResumeOutcome, (rand(2) === 0 ? rand(8) : 100 + session) as ResumeReason);
      m.heartbeatRtt(rand(1000) / 1000, rand(2) === 0 ? 'ping' : 'client');
      m.drift((rand(2) === 0 ? rand(6) : 100 + session) as DriftReason);
      m.sessionLost((rand(2) === 0 ? 'record_missing' : `cause-${session}`) as 'taken_over');
      m.handoffClaim((rand(2) === 0 ? 'released' : `cause-${session}`) as 'bound');
    }
    const json = await m.registry.getMetricsAsJSON();
    const seriesOf = (name: string) => {
      const metric = json.find((x) => x.name === name);
      expect(metric, name).toBeDefined();
      // Histograms list one value per bucket; count the distinct label sets without `le`.
      return new Set(metric?.values.map((v) => JSON.stringify({ ...v.labels, le: undefined }))).size;
    };
    const wsCodes = Object.values(closeCodes).filter((r) => 'code' in r).length;
    const httpCodes = Object.values(closeCodes).filter((r) => 'http' in r).length;
    expect(seriesOf('lifeline_closes_total')).toBeLessThanOrEqual(wsCodes + 1);
    expect(seriesOf('lifeline_upgrade_rejections_total')).toBeLessThanOrEqual(httpCodes + 1);
    expect(seriesOf('lifeline_messages_total')).toBeLessThanOrEqual(2 * (12 + 1));
    expect(seriesOf('lifeline_dropped_total')).toBeLessThanOrEqual(4 + 1);
    expect(seriesOf('lifeline_resume_total')).toBeLessThanOrEqual((3 + 1) * (7 + 1));
    expect(seriesOf('lifeline_drift_total')).toBeLessThanOrEqual(5 + 1);
    expect(seriesOf('lifeline_sessions_lost_total')).toBe(2);
    expect(seriesOf('lifeline_handoff_claims_total')).toBe(2);
    expect(seriesOf('lifeline_heartbeat_rtt_seconds')).toBe(2);
    expect(seriesOf('lifeline_connection_duration_seconds')).toBe(1);
    // And the whole exposition stays small: no per-session growth.
    const total = json.reduce((n, x) => n + x.values.length, 0);
    expect(total).toBeLessThan(600);
  });

  test('close code labels come from the registry', () => {
    expect(closeCodeLabels(1012)).toEqual({ code: '1012', name: 'SERVICE_RESTART' });
    expect(closeCodeLabels(4300)).toEqual({ code: '4300', name: 'RECONNECT_ELSEWHERE' });
    expect(closeCodeLabels(4999)).toEqual({ code: 'other', name: 'other' });
    expect(closeCodeLabels(403)).toEqual({ code: 'other', name: 'other' }); // an HTTP status is not a close code
  });
});
