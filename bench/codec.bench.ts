/**
 * Scenario 4 (issue 7): encode + decode time and bytes of the hot messages,
 * Lifeline's codec against JSON.stringify/JSON.parse of the same content and
 * against plain protobuf-es toBinary/fromBinary.
 *
 * Timing: each cell times (process CPU time) a batch of N encode+decode pairs (a per-call timer
 * would cost more than a 50 ns operation, which is why this does not use
 * tinybench's per-iteration sampling); contenders are interleaved, each
 * repetition starting with a different one; the cell is the median over
 * repetitions. Run alone: `npx tsx bench/codec.bench.ts [--quick]`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  MessageSchema,
  StatePatchSchema,
  type Envelope,
} from '../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../spec/protocol/codec.js';
import { decodeFast, encodeFast } from '../spec/protocol/fast-codec.js';
import { fmt, median, ratio, rotate, table } from './lib/stats.js';

export interface CodecOptions {
  /** Repetitions per cell (median taken). */
  readonly reps: number;
  /** Target wall time per timed batch, in ms. */
  readonly batchMs: number;
}

export interface CodecRow {
  readonly message: string;
  readonly contender: string;
  readonly nsPerOp: number;
  readonly bytes: number;
  readonly nsRatioToJson: number;
  readonly bytesRatioToJson: number;
}

interface Contender {
  readonly name: string;
  /** Encode then decode once; returns the frame size in bytes. */
  readonly roundTrip: () => number;
}

// A JSON-encoded StatePatch delta of exactly 200 bytes, as the demo's ticker sends.
function delta200(): Uint8Array {
  const base = '{"symbol":"ABC","price":12.34,"bid":12.33,"ask":12.35,"volume":1200,"note":"';
  const text = base + 'x'.repeat(200 - base.length - 2) + '"}';
  const b = new TextEncoder().encode(text);
  if (b.length !== 200) throw new Error(`delta is ${b.length} B`);
  return b;
}

/** The messages under test, each with a JSON twin carrying the same content. */
function messages(): { name: string; env: Envelope; json: () => unknown; fromJson: (o: unknown) => unknown }[] {
  const delta = delta200();
  const payload64 = new Uint8Array(64).map((_, i) => (i * 7) & 0xff);
  // Monotonic-clock ms (a day of uptime), as Heartbeat.sent_at_ms carries (HB-9).
  const sentAt = 86_400_123n;
  const hb = create(HeartbeatSchema, { id: 4711, sentAtMs: sentAt, rttMs: 23 });
  const hba = create(HeartbeatAckSchema, { id: 4711, echoSentAtMs: sentAt, intervalMs: 25_000 });
  const ack = create(AckSchema, { seq: 123_456n });
  const patch = create(StatePatchSchema, {
    seq: 98_765n, channel: 'demo.ticker', baseVersion: 41n, version: 42n, delta, digest: 0xdeadbeef,
  });
  const msg = create(MessageSchema, { seq: 98_766n, channel: 'chat.room-1', payload: payload64 });
  const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
  // JSON twins: u64 as numbers (what a JSON protocol sends), bytes as base64
  // (Protobuf's JSON mapping; JSON has no bytes), same field names.
  return [
    {
      name: 'Heartbeat',
      env: create(EnvelopeSchema, { body: { case: 'heartbeat', value: hb } }),
      json: () => ({ heartbeat: { id: hb.id, sentAtMs: Number(hb.sentAtMs), rttMs: hb.rttMs } }),
      fromJson: (o) => o,
    },
    {
      name: 'HeartbeatAck',
      env: create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: hba } }),
      json: () => ({ heartbeatAck: { id: hba.id, echoSentAtMs: Number(hba.echoSentAtMs), intervalMs: hba.intervalMs } }),
      fromJson: (o) => o,
    },
    {
      name: 'Ack',
      env: create(EnvelopeSchema, { body: { case: 'ack', value: ack } }),
      json: () => ({ ack: { seq: Number(ack.seq) } }),
      fromJson: (o) => o,
    },
    {
      name: 'StatePatch (200 B delta)',
      env: create(EnvelopeSchema, { body: { case: 'statePatch', value: patch } }),
      json: () => ({
        statePatch: {
          seq: Number(patch.seq), channel: patch.channel, baseVersion: Number(patch.baseVersion),
          version: Number(patch.version), delta: b64(patch.delta), digest: patch.digest,
        },
      }),
      fromJson: (o) => {
        const p = (o as { statePatch: { delta: string } }).statePatch;
        return { ...p, delta: unb64(p.delta) };
      },
    },
    {
      name: 'Message (64 B payload)',
      env: create(EnvelopeSchema, { body: { case: 'message', value: msg } }),
      json: () => ({ message: { seq: Number(msg.seq), channel: msg.channel, payload: b64(msg.payload) } }),
      fromJson: (o) => {
        const m = (o as { message: { payload: string } }).message;
        return { ...m, payload: unb64(m.payload) };
      },
    },
  ];
}

// Written on every iteration so the optimiser cannot drop the work.
let sink: unknown;

function contenders(m: ReturnType<typeof messages>[number]): Contender[] {
  const { env } = m;
  return [
    {
      name: 'JSON.stringify/parse',
      roundTrip: () => {
        const s = JSON.stringify(m.json());
        sink = m.fromJson(JSON.parse(s));
        return Buffer.byteLength(s);
      },
    },
    {
      name: 'protobuf-es toBinary/fromBinary',
      roundTrip: () => {
        const b = toBinary(EnvelopeSchema, env);
        sink = fromBinary(EnvelopeSchema, b);
        return b.length;
      },
    },
    {
      name: 'Lifeline codec encode/decode',
      roundTrip: () => {
        const b = encode(env);
        sink = decode(b);
        return b.length;
      },
    },
    {
      name: 'fast path alone (no validation)',
      roundTrip: () => {
        const b = encodeFast(env) as Uint8Array;
        sink = decodeFast(b);
        return b.length;
      },
    },
  ];
}

/**
 * CPU ns per round trip over a batch. Process CPU time rather than wall time:
 * on a shared 2-core machine preemption inflates wall time at random, while
 * CPU time still counts this process's work, GC threads included.
 */
function timeBatch(c: Contender, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) c.roundTrip();
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n;
}

/** Iterations that take about `ms` for this contender. */
function calibrate(c: Contender, ms: number): number {
  let n = 256;
  for (;;) {
    const ns = timeBatch(c, n) * n;
    if (ns >= ms * 1e6 * 0.5 || n >= 1 << 22) return Math.max(1, Math.round((n * ms * 1e6) / Math.max(ns, 1)));
    n *= 4;
  }
}

export function runCodec(opts: CodecOptions): CodecRow[] {
  const rows: CodecRow[] = [];
  for (const m of messages()) {
    const cs = contenders(m);
    const sizes = cs.map((c) => c.roundTrip());
    // Warm up (JIT: every contender reaches its optimised code) and size each batch.
    let ns = cs.map((c) => calibrate(c, opts.batchMs));
    for (let w = 0; w < 3; w++) cs.forEach((c, i) => timeBatch(c, ns[i] as number));
    ns = cs.map((c) => calibrate(c, opts.batchMs));
    const samples = cs.map(() => [] as number[]);
    for (let r = 0; r < opts.reps; r++) {
      for (const i of rotate(cs.map((_, k) => k), r)) samples[i]?.push(timeBatch(cs[i] as Contender, ns[i] as number));
    }
    const med = samples.map((s) => median(s));
    const jsonNs = med[0] as number;
    const jsonBytes = sizes[0] as number;
    cs.forEach((c, i) =>
      rows.push({
        message: m.name,
        contender: c.name,
        nsPerOp: med[i] as number,
        bytes: sizes[i] as number,
        nsRatioToJson: (med[i] as number) / jsonNs,
        bytesRatioToJson: (sizes[i] as number) / jsonBytes,
      }),
    );
  }
  if (sink === 42) console.log(''); // keep sink observable
  return rows;
}

export function codecTable(rows: readonly CodecRow[]): string {
  return table(
    ['message', 'contender', 'encode+decode CPU ns/op', '× JSON time', 'bytes', '× JSON bytes'],
    rows.map((r) => [
      r.message, r.contender, fmt(r.nsPerOp), ratio(r.nsPerOp, r.nsPerOp / r.nsRatioToJson), String(r.bytes),
      ratio(r.bytes, r.bytes / r.bytesRatioToJson),
    ]),
  );
}

// Standalone: npx tsx bench/codec.bench.ts [--quick]
if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const rows = runCodec(quick ? { reps: 5, batchMs: 10 } : { reps: 15, batchMs: 20 });
  console.log(codecTable(rows));
}
