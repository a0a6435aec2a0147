/**
 * Prometheus metrics of a Lifeline server (issue 8), with prom-client.
 *
 * The server calls the typed recording methods below at the points where things happen (the
 * seam), and registers one gauge source read at scrape time for what is a sum over sessions.
 * Labels are bounded whatever the peers do: no session, socket, principal or channel label;
 * close codes and HTTP statuses only from the registry (spec/protocol/close-codes.ts), anything
 * else as "other"; policies, bodies, outcomes and reasons only from the proto's enums, by their
 * proto names (`DROP_OLDEST`, `RESUMED`, `DIGEST_MISMATCH`). Names follow the table of spec §19.5.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  BackpressurePolicy,
  BackpressurePolicySchema,
  DriftReason,
  DriftReasonSchema,
  EnvelopeSchema,
  ResumeOutcome,
  ResumeOutcomeSchema,
  ResumeReason,
  ResumeReasonSchema,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { closeCodes, type CloseRow } from '../../spec/protocol/close-codes.js';
import type { TransportKind } from '../transport.js';
import { FastHistogram } from './fast-metrics.js';

export type Direction = 'sent' | 'received';
/**
 * Why a node stopped serving a live session on the shared store's word (§21): another node claimed
 * it (`taken_over`, MN-4, closed 4002), or the store holds no record of it and remembers no end
 * (`record_missing`: it lost it, a restart without persistence, §21.8; closed 1011).
 */
export type SessionLossCause = 'taken_over' | 'record_missing';
/**
 * Why a node claimed a session another node held attached (MN-17, MN-18): that node released it
 * (stored it detached, after a release request), its lease was gone (a dead node: no wait), it
 * listened for release requests no more (its process gone: no wait), or the release wait ran out (a
 * live node that did not release in time: the un-acked tail may repeat).
 */
export type HandoffClaimCause = 'released' | 'lease_expired' | 'not_listening' | 'bound';
const HANDOFF_CAUSES: ReadonlySet<string> = new Set<HandoffClaimCause>(['released', 'lease_expired', 'not_listening', 'bound']);
/** Where an RTT sample comes from: the server's ping → pong, or the client's Heartbeat.rtt_ms (HB-9). */
export type RttSource = 'ping' | 'client';

/** What the gauges read at scrape time; the server supplies it once (setGaugeSource). */
export interface LifelineGaugeReading {
  /** Sessions with a socket (attached). */
  readonly connectionsOpen: number;
  /** Sessions kept for resume without a socket, within their TTL (RS-1). */
  readonly sessionsDetached: number;
  /** Sum over sessions of the outbound queues (BP-3), items and bytes. */
  readonly queueMessages: number;
  readonly queueBytes: number;
  /** Largest `bufferedAmount` of any socket now (BP-4). */
  readonly bufferedAmountMaxBytes?: number;
  /** Progress of the drain under way; absent when not draining (DR-1 … DR-5). */
  readonly drain?: { readonly sessionsLeft: number; readonly noticesSent: number };
}

export interface LifelineMetricsOptions {
  /** Register into this registry (e.g. the application's); a new one by default. */
  readonly registry?: Registry;
  /** Also collect prom-client's process_* and nodejs_* metrics into the registry. */
  readonly defaultMetrics?: boolean;
}

/** The recording seam. Every method is cheap (a map lookup and an add) and never throws on odd input. */
export interface LifelineMetrics {
  readonly registry: Registry;
  /** Gauges (sessions, queues, drain) are read from this at each scrape. */
  setGaugeSource(read: () => LifelineGaugeReading): void;
  /**
   * An upgrade (or an HTTP carrier open, `transport` 'http', HT-3) was answered with an HTTP status
   * instead of a connection (HS-1 … HS-7).
   */
  upgradeRejected(status: number, transport?: TransportKind): void;
  /** A socket closed: its close code (sent or observed) and how long it was open. */
  connectionClosed(code: number, durationSeconds: number): void;
  /** One RTT sample. */
  heartbeatRtt(seconds: number, source?: RttSource): void;
  /** How far a client's Heartbeat arrived from one interval after its previous one, either way (HB-5). */
  heartbeatJitter(seconds: number): void;
  /** One visit of the liveness sweep: how late it ran (event-loop lag), and the interval in force (HB-1). */
  sweepTick(driftSeconds: number, intervalSeconds: number): void;
  /** How long one sweep (or one slice of it) held the event loop. */
  sweepDuration(seconds: number): void;
  /** One session's outbound queue length, sampled (e.g. by the sweep) (BP-3). */
  queueDepth(items: number): void;
  /** Time from publish to the socket write of one sequenced message. */
  deliveryLatency(seconds: number): void;
  /** A client message the application handler failed on, or a send the server rejected. */
  messageFailed(): void;
  /** A StateDrift received (SD-2, SD-3); DIGEST_MISMATCH always means a bug somewhere. */
  drift(reason: DriftReason): void;
  /** One frame written or read, by body (`message`, `heartbeat`, …) and encoded size. */
  frame(direction: Direction, body: string | undefined, bytes: number): void;
  /** Items the backpressure policy dropped or coalesced away (BP-6 … BP-11). */
  dropped(policy: BackpressurePolicy, count?: number): void;
  /**
   * The resume result of a Welcome (RS-5): outcome RESUMED (replayed), SNAPSHOT, or NEW with the
   * reason (NOT_REQUESTED for a Hello that named no session; UNKNOWN_SESSION, EXPIRED, … when a
   * resume was refused).
   */
  resume(outcome: ResumeOutcome, reason: ResumeReason): void;
  /** A live session this node stopped serving because the shared store said so, and why (§21). */
  sessionLost(cause: SessionLossCause): void;
  /** A session another node held attached was claimed here, and why (MN-17, MN-18). */
  handoffClaim(cause: HandoffClaimCause): void;
  /** Serves the registry in the Prometheus text format (GET/HEAD; 405 otherwise). */
  metricsHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const OTHER = 'other';

// Seconds. RTT: LAN to intercontinental mobile. Drift: up to past the default interval (25 s) so
// the alert "drift above the interval" can be read from the histogram.
const RTT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JITTER_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const QUEUE_BUCKETS = [0, 1, 4, 16, 64, 256, 1024, 4096, 16384];
const DRIFT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120];
const SWEEP_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
// A session lasts from seconds (flaky mobile) to days (a dashboard on a wall).
const DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600];
const FRAME_BUCKETS = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/** The registry's WebSocket codes by number, and HTTP statuses by number (label values). */
const wsNames = new Map<number, string>();
const httpNames = new Map<number, string>();
for (const [name, row] of Object.entries(closeCodes) as [string, CloseRow][]) {
  if (row.code !== undefined) wsNames.set(row.code, name);
  if (row.http !== undefined) httpNames.set(row.http, name);
}
const bodyNames = new Set((EnvelopeSchema.oneofs.find((o) => o.name === 'body')?.fields ?? []).map((f) => f.localName));
// Enum label values are the proto names without prefix (DROP_OLDEST); UNSPECIFIED counts as other.
const enumNames = (values: readonly { number: number; localName: string }[]) =>
  new Map(values.filter((v) => v.number !== 0).map((v) => [v.number, v.localName]));
const policyNames = enumNames(BackpressurePolicySchema.values);
const outcomeNames = enumNames(ResumeOutcomeSchema.values);
const reasonNames = enumNames(ResumeReasonSchema.values);
const driftNames = enumNames(DriftReasonSchema.values);

/** Close code label pair: registered codes by number and name, everything else "other". */
export function closeCodeLabels(code: number): { code: string; name: string } {
  const name = wsNames.get(code);
  return name === undefined ? { code: OTHER, name: OTHER } : { code: String(code), name };
}

const finite = (n: number) => (Number.isFinite(n) && n >= 0 ? n : 0);

/** Creates the Lifeline metrics in a registry (one set per registry: names are unique there). */
export function createLifelineMetrics(options: LifelineMetricsOptions = {}): LifelineMetrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let read: (() => LifelineGaugeReading) | undefined;
  // One reading per scrape, shared by the five gauges: a scrape runs every collect() in one
  // synchronous pass, so a reading kept until the next microtask is read once per scrape.
  let cached: LifelineGaugeReading | undefined;
  let isCached = false;
  const reading = () => {
    if (!isCached && read) {
      cached = read();
      isCached = true;
      queueMicrotask(() => {
        isCached = false;
        cached = undefined;
      });
    }
    return cached;
  };

  new Gauge({
    name: 'lifeline_connections_open',
    help: 'Sessions with a socket attached.',
    registers,
    collect() {
      this.set(reading()?.connectionsOpen ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_sessions_detached',
    help: 'Sessions kept for resume without a socket, within their TTL (RS-1).',
    registers,
    collect() {
      this.set(reading()?.sessionsDetached ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_buffered_amount_high_water_bytes',
    help: 'Largest socket bufferedAmount at the scrape (BP-4).',
    registers,
    collect() {
      this.set(reading()?.bufferedAmountMaxBytes ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_queue_messages',
    help: 'Items waiting in the outbound queues of all sessions (BP-3).',
    registers,
    collect() {
      this.set(reading()?.queueMessages ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_queue_bytes',
    help: 'Bytes waiting in the outbound queues of all sessions (BP-3).',
    registers,
    collect() {
      this.set(reading()?.queueBytes ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_drain_sessions_remaining',
    help: 'Sessions still open in the drain under way; 0 when not draining (DR-4, DR-5).',
    registers,
    collect() {
      this.set(reading()?.drain?.sessionsLeft ?? 0);
    },
  });
  new Gauge({
    name: 'lifeline_drain_notices_sent',
    help: 'DrainNotices sent in the drain under way; 0 when not draining (DR-2).',
    registers,
    collect() {
      this.set(reading()?.drain?.noticesSent ?? 0);
    },
  });

  const durations = new Histogram({
    name: 'lifeline_connection_duration_seconds',
    help: 'How long each WebSocket connection was open.',
    buckets: DURATION_BUCKETS,
    registers,
  });
  const closes = new Counter({
    name: 'lifeline_closes_total',
    help: 'Closed connections by close code (registry codes; anything else is "other").',
    labelNames: ['code', 'name'] as const,
    registers,
  });
  const rejections = new Counter({
    name: 'lifeline_upgrade_rejections_total',
    help: 'Upgrades (and HTTP carrier opens) refused before the connection existed, by HTTP status and transport (HS-1 … HS-7, HT-3).',
    labelNames: ['status', 'name', 'transport'] as const,
    registers,
  });
  const rtt = new Histogram({
    name: 'lifeline_heartbeat_rtt_seconds',
    help: 'Round-trip time: server ping → pong (source="ping") and the client-reported Heartbeat.rtt_ms (source="client").',
    labelNames: ['source'] as const,
    buckets: RTT_BUCKETS,
    registers,
  });
  const jitter = new Histogram({
    name: 'lifeline_heartbeat_jitter_seconds',
    help: 'Distance between the gap of two client Heartbeats and the interval, either way (HB-5).',
    buckets: JITTER_BUCKETS,
    registers,
  });
  const lag = new Histogram({
    name: 'lifeline_event_loop_lag_seconds',
    help: 'How late each liveness sweep tick ran (event-loop lag); above the interval, detection bounds slip (HB-3).',
    buckets: DRIFT_BUCKETS,
    registers,
  });
  const interval = new Gauge({
    name: 'lifeline_heartbeat_interval_seconds',
    help: 'Heartbeat interval in force for the liveness sweep (HB-1).',
    registers,
  });
  const sweep = new Histogram({
    name: 'lifeline_liveness_sweep_duration_seconds',
    help: 'Time one liveness sweep (or slice) held the event loop.',
    buckets: SWEEP_BUCKETS,
    registers,
  });
  // Per-frame metrics are the hot path (every write and read): plain counters flushed into
  // prom-client at scrape time, and fixed-label histogram cells (fast-metrics.ts).
  const bodyList = [...bodyNames, OTHER];
  const otherBody = bodyList.length - 1;
  const bodyIndex = new Map(bodyList.map((b, i) => [b, i]));
  const sizes = new FastHistogram('lifeline_frame_size_bytes', 'Encoded Envelope size, by direction.', FRAME_BUCKETS, registers);
  const tally = (d: Direction) => ({ direction: d, frames: new Float64Array(bodyList.length), bytes: 0, size: sizes.cell({ direction: d }) });
  const tallies = { sent: tally('sent'), received: tally('received') };
  new Counter({
    name: 'lifeline_messages_total',
    help: 'Frames (one Envelope each) written and read, by direction and body.',
    labelNames: ['direction', 'body'] as const,
    registers,
    collect() {
      for (const t of [tallies.sent, tallies.received]) {
        t.frames.forEach((n, i) => {
          if (n > 0) this.inc({ direction: t.direction, body: bodyList[i] as string }, n);
        });
        t.frames.fill(0);
      }
    },
  });
  new Counter({
    name: 'lifeline_bytes_total',
    help: 'Encoded Envelope bytes written and read, by direction.',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      for (const t of [tallies.sent, tallies.received]) {
        if (t.bytes > 0) this.inc({ direction: t.direction }, t.bytes);
        t.bytes = 0;
      }
    },
  });
  const depth = new Histogram({
    name: 'lifeline_queue_depth',
    help: 'Per-session outbound queue length, sampled (BP-3).',
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const latency = new FastHistogram('lifeline_delivery_latency_seconds', 'Publish to socket write of a sequenced message.', RTT_BUCKETS, registers).cell();
  const failed = new Counter({
    name: 'lifeline_messages_failed_total',
    help: 'Client messages the application handler failed on, and sends the server rejected.',
    registers,
  });
  const drifts = new Counter({
    name: 'lifeline_drift_total',
    help: 'StateDrift reports received, by reason (SD-2, SD-3).',
    labelNames: ['reason'] as const,
    registers,
  });
  const drops = new Counter({
    name: 'lifeline_dropped_total',
    help: 'Queued items dropped or coalesced away by the backpressure policy (BP-6 … BP-11).',
    labelNames: ['policy'] as const,
    registers,
  });
  const resumes = new Counter({
    name: 'lifeline_resume_total',
    help: 'Welcome resume results by outcome (RESUMED, SNAPSHOT, NEW) and reason (RS-5).',
    labelNames: ['outcome', 'reason'] as const,
    registers,
  });
  const handoffClaims = new Counter({
    name: 'lifeline_handoff_claims_total',
    help: 'Sessions another node held attached, claimed here (MN-17, MN-18): released (that node stored it detached on request), lease_expired (its lease ran out) or not_listening (it hears no release request: its process is gone), both without a wait, or bound (the release wait ran out).',
    labelNames: ['cause'] as const,
    registers,
  });
  const losses = new Counter({
    name: 'lifeline_sessions_lost_total',
    help: 'Live sessions this node stopped serving on the shared store\'s word: taken_over (another node claimed it, MN-4) or record_missing (the store lost its record, §21.8).',
    labelNames: ['cause'] as const,
    registers,
  });

  return {
    registry,
    setGaugeSource(source) {
      read = source;
    },
    upgradeRejected(status, transport = 'ws') {
      const name = httpNames.get(status);
      const t = transport === 'http' ? 'http' : 'ws'; // two values at most, whatever a caller passes
      rejections.inc(name === undefined ? { status: OTHER, name: OTHER, transport: t } : { status: String(status), name, transport: t });
    },
    connectionClosed(code, durationSeconds) {
      closes.inc(closeCodeLabels(code));
      durations.observe(finite(durationSeconds));
    },
    heartbeatRtt(seconds, source = 'ping') {
      rtt.observe({ source: source === 'client' ? 'client' : 'ping' }, finite(seconds));
    },
    heartbeatJitter(seconds) {
      jitter.observe(Math.abs(Number.isFinite(seconds) ? seconds : 0));
    },
    sweepTick(driftSeconds, intervalSeconds) {
      lag.observe(finite(driftSeconds));
      interval.set(finite(intervalSeconds));
    },
    sweepDuration(seconds) {
      sweep.observe(finite(seconds));
    },
    queueDepth(items) {
      depth.observe(finite(items));
    },
    deliveryLatency(seconds) {
      latency.observe(finite(seconds));
    },
    messageFailed() {
      failed.inc();
    },
    drift(reason) {
      drifts.inc({ reason: driftNames.get(reason) ?? OTHER });
    },
    frame(dir, body, size) {
      const t = dir === 'received' ? tallies.received : tallies.sent;
      const n = finite(size);
      const i = body === undefined ? otherBody : (bodyIndex.get(body) ?? otherBody);
      t.frames[i] = (t.frames[i] as number) + 1;
      t.bytes += n;
      t.size.observe(n);
    },
    dropped(policy, count = 1) {
      if (count <= 0 || !Number.isFinite(count)) return;
      drops.inc({ policy: policyNames.get(policy) ?? OTHER }, count);
    },
    resume(outcome, reason) {
      resumes.inc({ outcome: outcomeNames.get(outcome) ?? OTHER, reason: reasonNames.get(reason) ?? OTHER });
    },
    handoffClaim(cause) {
      handoffClaims.inc({ cause: HANDOFF_CAUSES.has(cause) ? cause : 'bound' }); // four values at most, whatever a caller passes
    },
    sessionLost(cause) {
      losses.inc({ cause: cause === 'record_missing' ? 'record_missing' : 'taken_over' }); // two values at most, whatever a caller passes
    },
    async metricsHandler(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      try {
        const text = await registry.metrics();
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      } catch {
        // A gauge source that throws must not take the server down; the scrape fails visibly.
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
      }
    },
  };
}
