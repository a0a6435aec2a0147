/**
 * The echo server's CPU per round trip with ws and the write batch in it (issue 16, session 9): as
 * echo-cpu.ts (createServer, `session.send` from the message event, 100 sessions × bursts of 16,
 * a client Ack per 20), but each session is the server's own WebSocket class (PeerWebSocket) on an
 * in-process Duplex instead of a TCP socket. A burst arrives as one chunk of masked frames, as one
 * read from the kernel delivers it, and goes through ws's socket listener, the receive path
 * (ws-receive.ts, ws's Receiver), ingress … send, and the write batch's one write per socket per
 * tick into the Duplex. Only the kernel is missing: no syscalls.
 *
 * Builds side by side: each argument after the payload size and rounds is a compiled tree (the
 * directory holding server/ and bench/, default this one); their servers run in one process, blocks
 * of rounds alternated, so the load of a shared machine falls on each alike.
 *
 *   npx tsc -p tsconfig.bench.json && node --expose-gc .bench-build/bench/perf/echo-wire-cpu.js 64 200 [buildDirA buildDirB …]
 */
import { Duplex } from 'node:stream';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../spec/protocol/defaults.js';
import { ackEnvelope } from './wire-bytes.js';

const args = process.argv.slice(2);
const payloadBytes = Number(args[0] ?? 64);
const rounds = Number(args[1] ?? 200);
const here = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const builds = args.length > 2 ? args.slice(2).map((d) => resolve(d)) : [here];
const SESSIONS = 100;
const BURST = 16;
const ACK_EVERY = 20;
const REPS = Number(process.env['REPS'] ?? 9);

const payload = new Uint8Array(payloadBytes).map((_, i) => i & 0xff);

/** A client frame (RFC 6455: final, binary, masked) of an Envelope, appended to `out`. */
function maskedFrame(out: number[], env: ArrayLike<number>): void {
  const n = env.length;
  out.push(0x82);
  if (n < 126) out.push(0x80 | n);
  else out.push(0x80 | 126, n >> 8, n & 0xff);
  const key = [(Math.random() * 256) | 0, (Math.random() * 256) | 0, (Math.random() * 256) | 0, (Math.random() * 256) | 0];
  out.push(...key);
  for (let i = 0; i < n; i++) out.push((env[i] as number) ^ (key[i & 3] as number));
}

const KEY = [0x5a, 0x3c, 0x96, 0x0f] as const;

/**
 * Writes the masked frame of a Message Envelope (fields 1, 2, 5, as the reference client) at
 * `buf[pos]`, straight into the chunk (load generation is subtracted, so it is kept cheap).
 */
function writeMessageFrame(buf: Buffer, pos: number, seq: number, messageId: string): number {
  const idLen = messageId.length;
  const seqLen = seq < 0x80 ? 1 : seq < 0x4000 ? 2 : seq < 0x200000 ? 3 : 4;
  const plLen = payload.length;
  const plHdr = plLen < 0x80 ? 1 : 2;
  const bodyLen = 1 + seqLen + 2 + idLen + 1 + plHdr + plLen;
  const envLen = 1 + (bodyLen < 0x80 ? 1 : 2) + bodyLen;
  buf[pos++] = 0x82;
  if (envLen < 126) buf[pos++] = 0x80 | envLen;
  else {
    buf[pos++] = 0x80 | 126;
    buf[pos++] = envLen >> 8;
    buf[pos++] = envLen & 0xff;
  }
  for (const k of KEY) buf[pos++] = k;
  const s = pos;
  buf[pos++] = 0x32;
  if (bodyLen < 0x80) buf[pos++] = bodyLen;
  else {
    buf[pos++] = (bodyLen & 0x7f) | 0x80;
    buf[pos++] = bodyLen >> 7;
  }
  buf[pos++] = 0x08;
  let v = seq;
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  buf[pos++] = 0x12;
  buf[pos++] = idLen;
  pos += buf.write(messageId, pos, 'latin1');
  buf[pos++] = 0x2a;
  if (plLen < 0x80) buf[pos++] = plLen;
  else {
    buf[pos++] = (plLen & 0x7f) | 0x80;
    buf[pos++] = plLen >> 7;
  }
  buf.set(payload, pos);
  pos += plLen;
  for (let i = s; i < pos; i++) buf[i] = (buf[i] as number) ^ (KEY[(i - s) & 3] as number);
  return pos;
}

/** The socket under a session: counts the Messages (tag 6) in the server's unmasked frames. */
class WireSocket extends Duplex {
  echoes = 0;
  constructor() {
    super({ read() {} });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let pos = 0;
    while (pos + 2 <= chunk.length) {
      let n = (chunk[pos + 1] as number) & 0x7f;
      let h = 2;
      if (n === 126) {
        n = ((chunk[pos + 2] as number) << 8) | (chunk[pos + 3] as number);
        h = 4;
      }
      if (chunk[pos + h] === 0x32) this.echoes++;
      pos += h + n;
    }
    cb();
  }
}

interface Peer {
  readonly sock: WireSocket;
  readonly prefix: string;
  sent: number;
  acked: number;
}

interface Build {
  readonly dir: string;
  readonly peers: Peer[];
  readonly close: () => Promise<void>;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** The frames of one burst per peer (16 Messages and an Ack when due), as one chunk each. */
function burst(peers: Peer[], deliver: boolean): void {
  const room = BURST * (payload.length + 48) + 32;
  for (const p of peers) {
    const chunk = Buffer.allocUnsafe(room);
    let pos = 0;
    for (let k = 0; k < BURST; k++) {
      const n = ++p.sent;
      pos = writeMessageFrame(chunk, pos, n, `${p.prefix}${n.toString(36)}`);
    }
    if (p.sent - p.acked >= ACK_EVERY) {
      const ack: number[] = [];
      maskedFrame(ack, ackEnvelope(p.sock.echoes));
      chunk.set(ack, pos);
      pos += ack.length;
      p.acked = p.sent;
    }
    if (deliver) p.sock.emit('data', chunk.subarray(0, pos));
  }
}

async function run(peers: Peer[], deliver: boolean, n: number): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = process.cpuUsage();
  for (let r = 0; r < n; r++) {
    burst(peers, deliver);
    await tick();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (n * peers.length * BURST);
}

const helloEnvelope = (): number[] => [
  ...encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, agent: 'perf' }) } })),
];

async function start(dir: string): Promise<Build> {
  const { createServer } = (await import(pathToFileURL(`${dir}/server/server.js`).href)) as typeof import('../../server/server.js');
  const { PeerWebSocket } = (await import(pathToFileURL(`${dir}/server/transports/ws.js`).href)) as typeof import('../../server/transports/ws.js');
  const srv = createServer({ heartbeatIntervalMs: 5_000, messageRatePerSecond: Infinity, controlRatePerSecond: Infinity, upgradeRatePerSecond: Infinity });
  srv.on('message', (session, m) => session.send({ payload: m.payload }));
  const transport = (srv as unknown as { wsTransport: { adopt(ws: unknown, info: unknown): unknown } }).wsTransport;
  const peers: Peer[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const sock = new WireSocket();
    const ws = new PeerWebSocket(null as unknown as string, undefined, {} as never);
    (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(sock, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 1 << 20 });
    transport.adopt(ws, { principal: 'anonymous', req: { socket: { remoteAddress: '127.0.0.1' }, headers: {} }, upgradeStartedAtMs: Date.now() });
    const hello: number[] = [];
    maskedFrame(hello, helloEnvelope());
    sock.emit('data', Buffer.from(hello));
    peers.push({ sock, prefix: `${Math.floor(Math.random() * 2 ** 32).toString(36)}-`, sent: 0, acked: 0 });
  }
  await tick();
  await tick();
  return { dir, peers, close: () => srv.close() };
}

async function main(): Promise<void> {
  void WebSocket; // ws is loaded once, shared by the builds (one node_modules)
  const all: Build[] = [];
  for (const d of builds) all.push(await start(d));
  for (const b of all) await run(b.peers, true, rounds); // warm-up: JIT, and the dedupe table at its 10,000 bound
  const spare = (all[0] as Build).peers.map((p) => ({ sock: p.sock, prefix: p.prefix, sent: 0, acked: 0 }));
  const gen: number[] = [];
  const per = all.map(() => [] as number[]);
  for (let rep = 0; rep < REPS; rep++) {
    gen.push(await run(spare, false, rounds));
    for (let i = 0; i < all.length; i++) {
      const k = (rep + i) % all.length; // rotate the order per repetition
      (per[k] as number[]).push(await run((all[k] as Build).peers, true, rounds));
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
  const min = (a: number[]) => Math.min(...a);
  console.log(`payload ${payloadBytes} B, ${REPS} reps × ${rounds} rounds; load generation ${med(gen).toFixed(2)} µs/rt (subtracted)`);
  all.forEach((b, i) => {
    const xs = per[i] as number[];
    const out = b.peers.reduce((a, p) => a + p.sock.echoes, 0);
    const sent = b.peers.reduce((a, p) => a + p.sent, 0);
    console.log(
      `${b.dir}: server ${(med(xs) - med(gen)).toFixed(2)} µs/rt (min ${(min(xs) - min(gen)).toFixed(2)}) [${xs.map((x) => x.toFixed(2)).join(' ')}] echoes ${out}/${sent}`,
    );
  });
  for (const b of all) await b.close();
}

await main();
