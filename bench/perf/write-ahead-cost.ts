/**
 * CPU cost per delivery of the write-ahead to a shared store (issue 14, MN-1) against the memory
 * store's direct path, in ns, without sockets: real LiveSessions on fake sockets, the same
 * publications, a "shared" store whose commit answers at once (zero latency), so what is timed is
 * the server's own part: marking the session, one commit per session per tick (its delta read from
 * the OutboundLog), the release of the stored frames to the socket. Each round publishes
 * `perRound` messages to every session, lets one tick pass (the commit and its release), then the
 * client acks everything (the trim is committed in the next round).
 *
 *   npx tsx bench/perf/write-ahead-cost.ts [sessions=1000] [rounds=100] [perRound=4]
 */
import { create } from '@bufbuild/protobuf';
import type { AnyActorRef } from 'xstate';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { systemClock } from '../../server/clock.js';
import { Connection, type PeerEvents } from '../../server/connection.js';
import { resolveOptions } from '../../server/options.js';
import { messageItem } from '../../server/outbound.js';
import { LiveSession, type SessionEnv } from '../../server/session.js';
import { LocalChannels } from '../../server/stores/local-channels.js';
import { WriteAhead } from '../../server/stores/write-ahead.js';
import type { PeerTransport } from '../../server/transport.js';

const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;
const [sessions = 1000, rounds = 100, perRound = 4] = isMain ? process.argv.slice(2).map(Number) : [];

let written = 0;
function fakePeer(): PeerTransport {
  return { kind: 'ws', isOpen: true, bufferedAmount: 0, write() { written++; }, close() {}, terminate() {}, ping() {} };
}
const noEvents: PeerEvents = { frame() {}, pong() {}, closed() {}, protocolError() {} };
const actor = { send() {} } as unknown as AnyActorRef;
const silent = pino({ level: 'silent' });
const tick = () => new Promise<void>((r) => setImmediate(r));

/** ns per delivery; `isShared`: through the write-ahead to a zero-latency store. */
async function measure(isShared: boolean): Promise<number> {
  const window = perRound * 2 + 2;
  const opts = resolveOptions({ receiveWindow: window, replayWindowMessages: window, queueLimitMessages: window * 4 });
  const channels = new LocalChannels<LiveSession>();
  let commits = 0;
  const writeAhead = isShared
    ? new WriteAhead({ commit: () => (commits++, Promise.resolve()) }, { onStale: () => {}, onError: (err) => console.error(err) })
    : undefined;
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
    metrics: undefined,
    onDrainNotice: () => {},
    dedupe: undefined,
    writeAhead,
    channelTail: undefined,
  };
  const hello = create(HelloSchema, { protocolVersion: 1, receiveWindow: window, channels: ['perf'] });
  const all: LiveSession[] = [];
  for (let i = 0; i < sessions; i++) {
    const s = new LiveSession(`s${i}`, 'p', actor, env, hello);
    s.conn = new Connection(fakePeer(), { events: noEvents, clock: systemClock, logger: silent }, 'p');
    s.fence = 1;
    s.welcomeNew(hello);
    all.push(s);
  }
  const payload = new Uint8Array(64).fill(7);
  written = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < perRound; k++) {
      const item = messageItem('perf', { payload }, 0, true, `${r}-${k}`);
      for (const s of channels.members('perf')) if (s.takesPosition('perf', item.position as string)) s.enqueue(item);
    }
    await tick(); // the commit (shared) resolves and its frames go out
    await tick();
    for (const s of all) s.applyAck(s.log.lastSent);
  }
  await writeAhead?.flush();
  const ns = ((performance.now() - t0) * 1e6) / (sessions * rounds * perRound);
  const delivered = written; // counted from after the Welcomes
  if (delivered !== sessions * rounds * perRound) throw new Error(`delivered ${delivered}, expected ${sessions * rounds * perRound}`);
  if (isShared && commits < sessions * rounds) throw new Error(`only ${commits} commits`);
  for (const s of all) s.dispose();
  return ns;
}

if (isMain) {
  const results: Record<string, number[]> = { memory: [], shared: [] };
  for (let rep = 0; rep < 7; rep++) {
    results.memory?.push(await measure(false));
    results.shared?.push(await measure(true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`node ${process.version}, ${sessions} sessions × ${rounds} rounds × ${perRound} messages of 64 B, fake sockets, store commit answers at once`);
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(6)} min ${Math.min(...v).toFixed(0)} ns, median ${median(v).toFixed(0)} ns per delivery (runs: ${v.map((x) => x.toFixed(0)).join(' ')})`);
}
