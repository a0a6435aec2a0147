/**
 * Would encoding a fanned-out Message once pay? Every subscriber's copy differs only in seq and
 * dropped_before, so the rest (message_id, channel, key, payload) could be encoded once per
 * publish and each delivery would write seq, splice the cached bytes and add dropped_before.
 * This measures, per delivery: today's path (create the Message and Envelope, validate, fast
 * encode), the cached variant (a prototype of the splice, byte-identical, checked here), and
 * the whole server-side delivery for scale (fanout-cpu.ts, fake sockets).
 *
 *   npx tsx bench/perf/encode-once.ts [payloadBytes=64]
 */
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, MessageSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { measure } from './fanout-cpu.js';

const [payloadBytes = 64] = process.argv.slice(2).map(Number);
const payload = new Uint8Array(payloadBytes).fill(7);
const channel = 'prices.eur-usd';
const N = 300_000;

function today(seq: bigint, droppedBefore: number): Uint8Array {
  const m = create(MessageSchema, { messageId: '', channel, key: '', payload, droppedBefore });
  m.seq = seq;
  return encode(create(EnvelopeSchema, { body: { case: 'message', value: m } }));
}

// The prototype: fields 2–5 encoded once (as protobuf-es would, via a seq-0 encode minus its
// outer framing), then per delivery: Envelope tag, length, seq field, cached bytes, dropped_before.
function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}
function cachedRest(): Uint8Array {
  const whole = encode(create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: 1n, channel, payload }) } }));
  // [0x32][len][0x08][0x01][rest…]: skip the Envelope tag, its length varint and the seq field.
  let pos = 1;
  while ((whole[pos] as number) >= 0x80) pos++;
  return whole.subarray(pos + 1 + 2);
}
function spliced(rest: Uint8Array, seq: number, droppedBefore: number): Uint8Array {
  const inner = 1 + varintLength(seq) + rest.byteLength + (droppedBefore ? 1 + varintLength(droppedBefore) : 0);
  const out = new Uint8Array(1 + varintLength(inner) + inner);
  let pos = 0;
  out[pos++] = 0x32; // Envelope.message = 6, length-delimited
  pos = writeVarint(out, pos, inner);
  out[pos++] = 0x08; // Message.seq = 1, varint
  pos = writeVarint(out, pos, seq);
  out.set(rest, pos);
  pos += rest.byteLength;
  if (droppedBefore) {
    out[pos++] = 0x30; // Message.dropped_before = 6, varint
    writeVarint(out, pos, droppedBefore);
  }
  return out;
}

const rest = cachedRest();
for (const [seq, d] of [[1, 0], [300, 0], [70_000, 5]] as const) {
  const a = today(BigInt(seq), d);
  const b = spliced(rest, seq, d);
  if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) throw new Error(`prototype differs at seq ${seq}`);
}

function time(fn: (i: number) => Uint8Array): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) sink += fn(i).byteLength;
  const ns = ((performance.now() - t0) * 1e6) / N;
  if (sink === 0) throw new Error('unreachable');
  return ns;
}
const runs: { today: number[]; cached: number[] } = { today: [], cached: [] };
for (let r = 0; r < 7; r++) {
  runs.today.push(time((i) => today(BigInt(i + 1), 0)));
  runs.cached.push(time((i) => spliced(rest, i + 1, 0)));
}
const min = (xs: number[]) => Math.min(...xs);
const before: number[] = [];
const after: number[] = [];
for (let r = 0; r < 9; r++) {
  before.push(measure(false, false));
  after.push(measure(false, true));
}
const delivery = min(before);
console.log(`node ${process.version}, Message with ${payloadBytes} B payload`);
console.log(`encode per delivery today (create + validate + fast codec): ${min(runs.today).toFixed(0)} ns`);
console.log(`encode per delivery, rest cached per publish (prototype):   ${min(runs.cached).toFixed(0)} ns`);
console.log(`whole server-side delivery, fake sockets (fanout-cpu):      ${delivery.toFixed(0)} ns`);
console.log(`saving: ${(min(runs.today) - min(runs.cached)).toFixed(0)} ns per delivery = ${(((min(runs.today) - min(runs.cached)) / delivery) * 100).toFixed(1)} % of the CPU part`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`server-side delivery, each encodes its own (before): min ${min(before).toFixed(0)} ns, median ${median(before).toFixed(0)} ns`);
console.log(`server-side delivery, shared frame (after):          min ${min(after).toFixed(0)} ns, median ${median(after).toFixed(0)} ns`);
