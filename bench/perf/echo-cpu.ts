/**
 * The server's own CPU per echo round trip (issue 16), without sockets: the echo scenario's server
 * (createServer, `session.send` from the message event) on in-process stand-ins of WebSockets
 * (contenders/fake-socket.ts) that take every write at once. What is timed is everything the
 * server does for a round trip above ws and the kernel: ingress, decode, dedupe (SEQ-8), the
 * application event, send, seq, encode, the delayed Ack (SEQ-5) and the client's Acks (SEQ-7).
 * ws's parse and the batched write are not in it (the echo scenario's profile has them).
 *
 * 100 sessions, bursts of 16 Messages per session per tick as the echo scenario's load generator
 * sends them (reference-client shape: seq, message_id `<prefix>-<n in base 36>`, payload), and one
 * client Ack per 20 messages (what the reference client's delayed ack sends on that bench). The
 * frames are built per burst by a small writer; its cost is measured alone and subtracted.
 *
 *   npx tsc -p tsconfig.bench.json && node .bench-build/bench/perf/echo-cpu.js [payloadBytes=64] [rounds=400]
 */
import { createServer } from '../../server/server.js';
import { FakeSocket } from '../contenders/fake-socket.js';
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../spec/protocol/defaults.js';
import { ackEnvelope, varint } from './wire-bytes.js';

const [payloadBytes = 64, rounds = 400] = process.argv.slice(2).map(Number);
const SESSIONS = 100;
const BURST = 16;
const ACK_EVERY = 20;

const payload = new Uint8Array(payloadBytes).map((_, i) => i & 0xff);

/** A client Message frame as the reference client writes it (fields 1, 2, 5). */
function messageFrame(seq: number, messageId: string): Buffer {
  const body: number[] = [0x08];
  varint(body, seq);
  body.push(0x12, messageId.length);
  for (let i = 0; i < messageId.length; i++) body.push(messageId.charCodeAt(i));
  body.push(0x2a);
  varint(body, payload.length);
  const head: number[] = [0x32];
  varint(head, body.length + payload.length);
  const out = Buffer.allocUnsafe(head.length + body.length + payload.length);
  out.set(head, 0);
  out.set(body, head.length);
  out.set(payload, head.length + body.length);
  return out;
}

function ackFrame(seq: number): Buffer {
  return Buffer.from(ackEnvelope(seq));
}

/** Counts the Messages it is sent (tag 6): their seqs are 1 … echoes. */
class EchoSocket extends FakeSocket {
  echoes = 0;
  override send(data: Uint8Array, opts?: unknown, cb?: (err?: Error) => void): void {
    if (data[0] === 0x32) this.echoes++;
    super.send(data, opts, cb);
  }
}

interface Peer {
  readonly s: EchoSocket;
  readonly prefix: string;
  sent: number;
  acked: number;
}

const helloBytes = Buffer.from(encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, agent: 'perf' }) } })));
const tick = () => new Promise<void>((r) => setImmediate(r));

/** One burst per peer: 16 Messages, and an Ack of what the server has sent when one is due. */
function burst(peers: Peer[], deliver: boolean): void {
  for (const p of peers) {
    for (let k = 0; k < BURST; k++) {
      const n = ++p.sent;
      const f = messageFrame(n, `${p.prefix}${n.toString(36)}`);
      if (deliver) p.s.emit('message', f, true);
    }
    if (p.sent - p.acked >= ACK_EVERY) {
      const f = ackFrame(p.s.echoes);
      p.acked = p.sent;
      if (deliver) p.s.emit('message', f, true);
    }
  }
}

async function run(deliver: boolean, peers: Peer[], n: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const c0 = process.cpuUsage();
  for (let r = 0; r < n; r++) {
    burst(peers, deliver);
    await tick();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (n * peers.length * BURST);
}

async function main(): Promise<void> {
  const srv = createServer({ heartbeatIntervalMs: 5_000, messageRatePerSecond: Infinity, controlRatePerSecond: Infinity, upgradeRatePerSecond: Infinity });
  srv.on('message', (session, m) => session.send({ payload: m.payload }));
  const ws = (srv as unknown as { wsTransport: { adopt(ws: unknown, info: unknown): unknown } }).wsTransport;
  const peers: Peer[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const s = new EchoSocket();
    ws.adopt(s, { principal: 'anonymous', req: { socket: { remoteAddress: '127.0.0.1' }, headers: {} }, upgradeStartedAtMs: Date.now() });
    s.emit('message', helloBytes, true);
    peers.push({ s, prefix: `${Math.floor(Math.random() * 2 ** 32).toString(36)}-`, sent: 0, acked: 0 });
  }
  await tick();
  if (process.env['ECHO_DEBUG']) {
    const orig = FakeSocket.prototype.close;
    FakeSocket.prototype.close = function (this: FakeSocket, code?: number, reason?: string) {
      console.log('close', code, reason);
      return orig.call(this, code);
    } as typeof orig;
  }
  const spare: Peer[] = peers.map((p) => ({ s: p.s, prefix: p.prefix, sent: 0, acked: 0 }));
  await run(true, peers, rounds); // warm-up: JIT, and the dedupe table at its 10,000 bound
  const all: number[] = [];
  const gen: number[] = [];
  for (let rep = 0; rep < 9; rep++) {
    gen.push(await run(false, spare, rounds));
    all.push(await run(true, peers, rounds));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
  const out = peers.reduce((a, p) => a + p.s.echoes, 0);
  const sent = peers.reduce((a, p) => a + p.sent, 0);
  const min = (a: number[]) => Math.min(...a);
  console.log(`payload ${payloadBytes} B: server ${(med(all) - med(gen)).toFixed(2)} µs/rt (min ${(min(all) - min(gen)).toFixed(2)}) (loop ${all.map((x) => x.toFixed(2)).join(' ')}; frame building ${med(gen).toFixed(2)}); echoes ${out} for ${sent} sent`);
  await srv.close();
}

await main();
