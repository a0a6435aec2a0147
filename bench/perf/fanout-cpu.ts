/**
 * CPU cost of the server's own part of a fan-out delivery, in ns, without sockets: real
 * LiveSessions on fake WebSockets that accept every write at once, so what is timed is the
 * queue, the gate, the seq, the encode, the metrics and the bookkeeping, not the kernel.
 * Complements fanout-cost.ts (which includes ws and writev and is dominated by them).
 *
 *   npx tsx bench/perf/fanout-cpu.ts [sessions=1000] [messages=200] [payloadBytes=64]
 */
import { create } from '@bufbuild/protobuf';
import type { AnyActorRef } from 'xstate';
import { HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { systemClock } from '../../server/clock.js';
import { Connection, type PeerEvents } from '../../server/connection.js';
import { createLifelineMetrics } from '../../server/observability/metrics.js';
import { resolveOptions } from '../../server/options.js';
import type { OutItem } from '../../server/outbound.js';
import { LiveSession, type SessionEnv } from '../../server/session.js';
import { LocalChannels } from '../../server/stores/local-channels.js';
import type { PeerTransport } from '../../server/transport.js';

const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;
const [sessions = 1000, messages = 200, payloadBytes = 64] = isMain ? process.argv.slice(2).map(Number) : [];

/** A transport for Connection.write: always open, never buffered. */
function fakePeer(): PeerTransport {
  return { kind: 'ws', isOpen: true, bufferedAmount: 0, write() {}, close() {}, terminate() {}, ping() {} };
}
const noEvents: PeerEvents = { frame() {}, pong() {}, closed() {}, protocolError() {} };

const actor = { send() {} } as unknown as AnyActorRef;
const silent = pino({ level: 'silent' });

/** ns per delivery; `isShared` false = every delivery encodes its own copy (before shared-frame.ts). */
export function measure(withMetrics: boolean, isShared = true): number {
  const opts = resolveOptions({ receiveWindow: messages + 1, replayWindowMessages: messages + 1, queueLimitMessages: messages + 1 });
  const channels = new LocalChannels<LiveSession>();
  const env: SessionEnv = {
    opts,
    clock: systemClock,
    channels,
    snapshot: undefined,
    onMessage: undefined,
    emitMessage: () => {},
    fail: (_s, err) => {
      throw err;
    },
    metrics: withMetrics ? createLifelineMetrics() : undefined,
    onDrainNotice: () => {},
    dedupe: undefined,
    channelTail: undefined,
        writeAhead: undefined,
  };
  const hello = create(HelloSchema, { protocolVersion: 1, receiveWindow: messages + 1, channels: ['perf'] });
  const all: LiveSession[] = [];
  for (let i = 0; i < sessions; i++) {
    const s = new LiveSession(`s${i}`, 'p', actor, env, hello);
    s.conn = new Connection(fakePeer(), { events: noEvents, clock: systemClock, logger: silent }, 'p');
    s.welcomeNew(hello);
    all.push(s);
  }
  const payload = new Uint8Array(payloadBytes).fill(7);
  const t0 = performance.now();
  for (let k = 0; k < messages; k++) {
    const item: OutItem = { kind: 'message', channel: 'perf', key: '', messageId: '', payload, bytes: payload.byteLength, baseVersion: 0n, version: 0n, digest: 0, enqueuedAt: systemClock.now(), ...(isShared ? { share: { writes: 0, frame: undefined } } : {}) };
    for (const s of channels.members('perf')) s.enqueue(item);
  }
  const ns = ((performance.now() - t0) * 1e6) / (sessions * messages);
  for (const s of all) s.dispose();
  return ns;
}

// Run only as a script (encode-once.ts imports measure()).
if (isMain) {
  const results: Record<string, number[]> = { off: [], on: [] };
  for (let rep = 0; rep < 15; rep++) {
    results.off?.push(measure(false));
    results.on?.push(measure(true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`node ${process.version}, ${sessions} sessions × ${messages} messages of ${payloadBytes} B, fake sockets`);
  for (const [k, v] of Object.entries(results)) console.log(`metrics ${k.padEnd(4)} min ${Math.min(...v).toFixed(0)} ns, median ${median(v).toFixed(0)} ns per delivery (runs: ${v.map((x) => x.toFixed(0)).join(' ')})`);
}
