import { getAdjacencyMap, getShortestPaths } from '@xstate/graph';
import { advanceClock } from './simulated-time.js';
import { allStateNodes, transitionKey } from './model-coverage.js';
import fc from 'fast-check';
import { __unsafe_getAllOwnEventDescriptors, createActor, fromPromise, SimulatedClock, type AnyTransitionDefinition, type StateNode } from 'xstate';
import { describe, expect, test } from 'vitest';
import { backoffCeilingMs } from '../protocol/backoff.js';
import { adviceForCode, adviceForHttpStatus, closeCodes, codeOf, type CloseRow } from '../protocol/close-codes.js';
import {
  clientConnectionMachine,
  clientStateName,
  reconnectDelayFor,
  type ClientConnectionContext,
  type ClientConnectionEvent,
  type ClientConnectionInput,
} from './client-connection.machine.js';

type Snap = ReturnType<ReturnType<typeof createActor<typeof clientConnectionMachine>>['getSnapshot']>;
// Events the model explores, plus the getToken actor's done/error events (sent directly in replays).
type ModelEvent = ClientConnectionEvent | { type: 'xstate.done.actor.getToken'; output: string } | { type: 'xstate.error.actor.getToken'; error: string };

const input: ClientConnectionInput = {
  random: () => 0.5,
  reconnectBaseMs: 100,
  reconnectCapMs: 1000,
  reconnectMaxAttempts: 2,
  suspendedRetryMs: 5000,
  handshakeTimeoutMs: 50,
  heartbeatIntervalMs: 20,
  heartbeatMissedMax: 2,
};

/**
 * The second model's input: both carriers, so it reaches the fallback and the probe (HT-20 … HT-25).
 * The probe wait and the probe's timeout (the handshake timeout) are longer than the heartbeat
 * interval and the dead-peer span, so a heartbeat the graph takes beside them is not overtaken.
 */
const modelInput: ClientConnectionInput = { ...input, handshakeTimeoutMs: 70, transports: ['ws', 'http'], httpFallbackAfter: 2, wsRetryMs: 80, wsRetryCapMs: 320 };

const welcome: ModelEvent = { type: 'frame.welcome', sessionId: 's1', heartbeatIntervalMs: 20, heartbeatMissedMax: 2 };
const modelEvents: ModelEvent[] = [
  { type: 'app.connect' },
  { type: 'app.close' },
  { type: 'app.reconnect' },
  { type: 'network.online' },
  { type: 'socket.opened' },
  { type: 'socket.closed', code: codeOf('NORMAL'), reason: '' }, // none
  { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' }, // backoff
  { type: 'socket.closed', code: codeOf('TOKEN_EXPIRED'), reason: '' }, // refresh-token
  { type: 'socket.closed', code: codeOf('SERVICE_RESTART'), reason: '' }, // server-delay, none given
  { type: 'socket.closed', code: codeOf('PROTOCOL_ERROR'), reason: '' }, // backoff + reset session
  { type: 'socket.refused', status: 503, retryAfterMs: 300 },
  { type: 'socket.refused', status: 403 },
  { type: 'socket.refused', status: 426 }, // a proxy that strips Upgrade (HT-21)
  { type: 'frame.invalid', code: codeOf('PROTOCOL_ERROR'), reason: 'WIRE-7' },
  { type: 'frame.invalid', code: codeOf('UNSUPPORTED_DATA'), reason: 'WIRE-1' },
  welcome,
  { type: 'frame.heartbeatAck', intervalMs: 40 },
  { type: 'frame.heartbeatAck', intervalMs: 0 },
  { type: 'frame.drainNotice', reconnectAfterMs: 100_000, target: '' }, // the slot comes only as the model's own event
  { type: 'frame.any' },
  { type: 'probe.opened' },
  { type: 'probe.failed' },
  { type: 'xstate.done.actor.getToken', output: 'tok' },
  { type: 'xstate.error.actor.getToken', error: 'no token' },
];

/** The abstraction of a snapshot the model distinguishes (finite: failures ≤ max attempts). */
function serialize(s: Snap): string {
  const c = s.context;
  return JSON.stringify({
    v: s.value,
    f: c.failures,
    sid: c.sessionId !== '',
    fr: c.forceRefresh,
    hb: c.heartbeatIntervalMs,
    dp: c.isDrainPending,
    t: c.transport,
    wf: c.wsFailures,
  });
}

interface Recorded {
  readonly opens: number;
  readonly closes: { code: number; reason: string }[];
  readonly hellos: { sessionId: string; token: string | undefined }[];
  readonly heartbeats: number[];
  readonly tokenInputs: { forceRefresh: boolean }[];
  readonly welcomes: number;
  /** The carrier of each openSocket (HT-20). */
  readonly over: string[];
  readonly probes: number;
  readonly probeCloses: number;
}

function harness(inp: ClientConnectionInput = input) {
  const clock = new SimulatedClock();
  const rec = { opens: 0, closes: [] as { code: number; reason: string }[], hellos: [] as { sessionId: string; token: string | undefined }[], heartbeats: [] as number[], tokenInputs: [] as { forceRefresh: boolean }[], welcomes: 0, over: [] as string[], probes: 0, probeCloses: 0 };
  const transitions: AnyTransitionDefinition[] = [];
  const machine = clientConnectionMachine.provide({
    // Never settles by itself: the test delivers getToken's outcome as the actor's done/error event.
    actors: {
      getToken: fromPromise<string | undefined, { forceRefresh: boolean; sessionId: string }>(({ input: i }) => {
        rec.tokenInputs.push({ forceRefresh: i.forceRefresh });
        return new Promise(() => {});
      }),
    },
    actions: {
      openSocket: (_, p) => { rec.opens++; rec.over.push(p.transport); },
      openProbe: () => { rec.probes++; },
      closeProbe: () => { rec.probeCloses++; },
      closeSocket: (_, p) => { rec.closes.push(p); },
      sendHello: (_, p) => { rec.hellos.push(p); },
      sendHeartbeat: () => { rec.heartbeats.push(clock.now()); },
      acceptWelcome: () => { rec.welcomes++; },
    },
  });
  const actor = createActor(machine, {
    clock,
    input: inp,
    inspect: (ev) => {
      if (ev.type === '@xstate.microstep') transitions.push(...ev._transitions);
    },
  });
  actor.start();
  const advance = (ms: number) => advanceClock(clock, ms);
  return { clock, actor, rec: rec as Recorded, transitions, advance };
}

const delayFns = (clientConnectionMachine.implementations.delays ?? {}) as Record<string, (a: { context: ClientConnectionContext }) => number>;

/** Play one model event on a real actor: delays become clock time, the rest are sent as is. */
function play(h: ReturnType<typeof harness>, ev: ModelEvent) {
  if (h.actor.getSnapshot().status !== 'active') return; // closed is final: nothing more to deliver
  if (ev.type.startsWith('xstate.after.')) {
    const name = ev.type.split('.')[2] as string;
    const fn = delayFns[name];
    if (!fn) throw new Error(`unknown delay ${name}`);
    h.advance(fn({ context: h.actor.getSnapshot().context }));
  } else if (ev.type.startsWith('xstate.') && !h.actor.getSnapshot().matches({ connecting: 'authorizing' })) {
    // getToken settles only while it runs (an unhandled actor error event would be rethrown).
  } else {
    h.actor.send(ev as ClientConnectionEvent);
  }
}

describe('client connection machine: model coverage', () => {
  // Per state: the model events it listens to, plus a bare event for each of its own delays and actor
  // completions (an events array would replace @xstate/graph's own discovery of `after` transitions).
  const eventsFrom = (events: readonly ModelEvent[]) => (s: Snap): ClientConnectionEvent[] =>
    __unsafe_getAllOwnEventDescriptors(s).flatMap((type) => {
      const matching = events.filter((e) => e.type === type);
      return (matching.length ? matching : [{ type }]) as ClientConnectionEvent[];
    });
  // The second model's events: what moves the carrier (HT-21 … HT-25), one admission refusal that must
  // not count, the drain that holds a probe back, and what reaches `connected`.
  const transportEvents = modelEvents.filter((e) =>
    ['app.connect', 'socket.opened', 'frame.welcome', 'frame.drainNotice', 'probe.opened', 'probe.failed', 'xstate.done.actor.getToken'].includes(e.type) ||
    (e.type === 'socket.closed' && e.code === codeOf('ABNORMAL')) ||
    (e.type === 'socket.refused' && (e.status === 426 || e.status === 503)));
  /** Replay every edge of the graph the machine has under `inp` on real actors; collect what they took. */
  function replayModel(inp: ClientConnectionInput, events: readonly ModelEvent[], taken: Set<string>, reached: Set<string>): { states: number; replays: number } {
    const traversal = { events: eventsFrom(events), serializeState: (s: Snap) => serialize(s), input: inp };
    const adjacency = getAdjacencyMap(clientConnectionMachine, traversal);
    const paths = getShortestPaths(clientConnectionMachine, traversal);
    const pathTo = new Map(paths.map((p) => [serialize(p.state as Snap), p.steps.map((s) => s.event as ModelEvent)]));
    let replays = 0;
    for (const [from, entry] of Object.entries(adjacency)) {
      const prefix = pathTo.get(from);
      expect(prefix, `no path to ${from}`).toBeDefined();
      for (const { event, state: expected } of Object.values(entry.transitions) as { event: ModelEvent; state: Snap }[]) {
        const h = harness(inp);
        for (const n of h.actor.getSnapshot()._nodes) reached.add(n.id);
        for (const ev of [...(prefix as ModelEvent[]), event as ModelEvent]) {
          play(h, ev);
          for (const n of h.actor.getSnapshot()._nodes) reached.add(n.id);
        }
        expect(serialize(h.actor.getSnapshot()), `edge ${from} --${JSON.stringify(event)}--> (after ${(prefix as ModelEvent[]).length} steps)`).toBe(serialize(expected as Snap));
        for (const t of h.transitions) taken.add(transitionKey(t));
        h.actor.stop();
        replays++;
      }
    }
    return { states: Object.keys(adjacency).length, replays };
  }

  test('RC-1 HT-20 every state and every transition is reached by graph paths replayed on real actors', () => {
    const taken = new Set<string>();
    const reached = new Set<string>();
    // WebSocket only: every rule of §15, the watchdog included.
    const ws = replayModel(input, modelEvents, taken, reached);
    // Both carriers (HT-20 … HT-25), with a peer that always just spoke: the probe's delays run beside
    // the heartbeat's, and with a silent peer the watchdog would overtake the probe wait the graph
    // takes. The watchdog's close is the first model's.
    const both = replayModel({ ...modelInput, silenceMs: () => 0 }, transportEvents, taken, reached);
    const replays = ws.replays + both.replays;
    {
      // The dead-peer re-check (HB-8) depends on input.silenceMs, outside the model's events: one
      // replay with a peer that always just spoke.
      const h = harness({ ...input, silenceMs: () => 0 });
      connect(h);
      h.advance(60);
      for (const t of h.transitions) taken.add(transitionKey(t));
      h.actor.stop();
    }
    const nodes = allStateNodes(clientConnectionMachine.root as StateNode<ClientConnectionContext, ClientConnectionEvent>);
    expect([...nodes.map((n) => n.id)].filter((id) => !reached.has(id))).toEqual([]);
    const defined = nodes.flatMap((n) => [...n.transitions.values()].flat().map((t) => transitionKey(t as AnyTransitionDefinition)));
    expect(defined.length).toBeGreaterThan(30);
    expect(defined.filter((k) => !taken.has(k))).toEqual([]);
    expect(replays).toBeGreaterThan(100);
    console.log(`client machine model: ${ws.states} + ${both.states} states, ${replays} edge replays, ${defined.length} transitions covered`);
  }, 60_000); // two models, ~1,250 replays: 5–14 s alone, over 20 s on a loaded 2-core machine

  test('RC-1 every top-level state is one of the eight the spec names', () => {
    expect(Object.keys(clientConnectionMachine.root.states).sort()).toEqual(
      ['closed', 'connected', 'connecting', 'failed', 'handshaking', 'idle', 'reconnecting', 'suspended'],
    );
  });

  test('RC-1 transitions that enforce a rule cite a spec id', () => {
    const nodes = allStateNodes(clientConnectionMachine.root as StateNode<ClientConnectionContext, ClientConnectionEvent>);
    const uncited = nodes
      .flatMap((n) => [...n.transitions.values()].flat())
      .filter((t) => !(t.meta as { spec?: string } | undefined)?.spec)
      .map((t) => transitionKey(t as AnyTransitionDefinition));
    expect(uncited).toEqual([]);
  });
});

/** Let `ms` pass with the server speaking every 10 ms (HB-8), so the watchdog stays quiet. */
function live(h: ReturnType<typeof harness>, ms: number) {
  for (let t = 0; t < ms; t += 10) {
    h.advance(Math.min(10, ms - t));
    if (clientStateName(h.actor.getSnapshot().value) === 'connected') play(h, { type: 'frame.any' });
  }
}

/** Drive a fresh actor to `connected`. */
function connect(h: ReturnType<typeof harness>, token = 'tok') {
  play(h, { type: 'app.connect' });
  play(h, { type: 'xstate.done.actor.getToken', output: token });
  play(h, { type: 'socket.opened' });
  play(h, welcome);
}

describe('client connection machine: rules', () => {
  test('HS-10 no Welcome within the handshake timeout closes 4201 and reconnects', () => {
    const h = harness();
    play(h, { type: 'app.connect' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    h.advance(49);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('handshaking');
    h.advance(1);
    expect(h.rec.closes.at(-1)?.code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
  });

  test('HB-4 HB-8 silence for interval × (missed + 1) closes 4200; any frame restarts the clock', () => {
    const h = harness();
    connect(h);
    h.advance(50);
    play(h, { type: 'frame.any' }); // HB-8
    h.advance(59);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
    h.advance(1);
    expect(h.rec.closes.at(-1)?.code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
  });

  test('HB-4 HB-8 with silenceMs and no frame events: a frame during the wait re-arms for the rest, silence then closes 4200', () => {
    let lastFrameAt = 0;
    let clockRef: SimulatedClock | undefined;
    const h = harness({ ...input, silenceMs: () => (clockRef?.now() ?? 0) - lastFrameAt });
    clockRef = h.clock;
    connect(h);
    lastFrameAt = h.clock.now(); // the Welcome
    h.advance(50);
    lastFrameAt = h.clock.now(); // a frame, recorded by the adapter only (HB-8)
    h.advance(59); // 60 ms after Welcome the delay fires, sees 10 ms of silence, waits 50 more
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
    expect(h.rec.closes).toEqual([]);
    h.advance(1); // 60 ms after the last frame: interval × (missed + 1)
    expect(h.rec.closes.at(-1)?.code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
  });

  test('HB-5 HB-11 one heartbeat per interval in force; HeartbeatAck.interval_ms changes it', () => {
    const h = harness();
    connect(h);
    for (let i = 0; i < 5; i++) { h.advance(10); play(h, { type: 'frame.any' }); }
    expect(h.rec.heartbeats).toEqual([20, 40]);
    play(h, { type: 'frame.heartbeatAck', intervalMs: 40 });
    const t0 = h.clock.now();
    for (let i = 0; i < 12; i++) { h.advance(10); play(h, { type: 'frame.any' }); }
    expect(h.rec.heartbeats.filter((t) => t > t0).map((t) => t - t0)).toEqual([40, 80, 120]);
    // The dead-peer bound follows the interval in force: 40 × 3.
    h.advance(119);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
    h.advance(1);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
  });

  test('RC-4 RC-10 the attempt count resets on Welcome and the next Hello resumes the session', () => {
    const h = harness({ ...input, reconnectMaxAttempts: 5 });
    play(h, { type: 'app.connect' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.closed', code: 1006, reason: '' });
    expect(h.actor.getSnapshot().context.failures).toBe(1);
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    play(h, welcome);
    expect(h.actor.getSnapshot().context.failures).toBe(0);
    play(h, { type: 'socket.closed', code: 1006, reason: '' });
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    expect(h.rec.hellos.map((x) => x.sessionId)).toEqual(['', 's1']);
  });

  test('RC-5 getToken runs before every attempt, with forceRefresh after a refresh-token advice', () => {
    const h = harness({ ...input, reconnectMaxAttempts: 5 });
    connect(h);
    play(h, { type: 'socket.closed', code: codeOf('TOKEN_EXPIRED'), reason: '' });
    expect(h.actor.getSnapshot().context.sessionId).toBe('s1'); // 4100 keeps the session
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    expect(h.rec.tokenInputs).toEqual([{ forceRefresh: false }, { forceRefresh: true }]);
    play(h, { type: 'xstate.done.actor.getToken', output: 'fresh' });
    play(h, { type: 'socket.opened' });
    expect(h.rec.hellos.at(-1)).toEqual({ sessionId: 's1', token: 'fresh' });
    play(h, { type: 'socket.closed', code: 1006, reason: '' });
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    expect(h.rec.tokenInputs.at(-1)).toEqual({ forceRefresh: false });
  });

  test('RC-5 HS-4 an HTTP 401 refusal refreshes the token before the next attempt', () => {
    const h = harness({ ...input, reconnectMaxAttempts: 5 });
    play(h, { type: 'app.connect' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.refused', status: 401 });
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    expect(h.rec.tokenInputs.at(-1)).toEqual({ forceRefresh: true });
  });

  test('RC-3 after reconnectMaxAttempts failed attempts the client is suspended until reconnect, online or its retry timer', () => {
    for (const leave of ['app.reconnect', 'network.online', 'timer'] as const) {
      const h = harness({ ...input, reconnectMaxAttempts: 3 });
      play(h, { type: 'app.connect' });
      for (let i = 0; i < 3; i++) {
        expect(clientStateName(h.actor.getSnapshot().value)).toBe('connecting');
        play(h, { type: 'xstate.done.actor.getToken', output: 't' });
        play(h, { type: 'socket.closed', code: 1006, reason: '' });
        if (i < 2) h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
      }
      expect(clientStateName(h.actor.getSnapshot().value)).toBe('suspended');
      const opens = h.rec.opens;
      h.advance(4999);
      expect(h.rec.opens).toBe(opens);
      if (leave === 'timer') h.advance(1);
      else play(h, { type: leave });
      expect(clientStateName(h.actor.getSnapshot().value)).toBe('connecting');
      play(h, { type: 'xstate.done.actor.getToken', output: 't' });
      play(h, { type: 'socket.closed', code: 1006, reason: '' });
      // An explicit reconnect or online signal starts a fresh cycle; the timer retries once.
      expect(clientStateName(h.actor.getSnapshot().value)).toBe(leave === 'timer' ? 'suspended' : 'reconnecting');
    }
  });

  test('RC-6 CC-6 a close whose advice is none ends in failed and nothing reconnects', () => {
    const h = harness();
    connect(h);
    play(h, { type: 'socket.closed', code: codeOf('NORMAL'), reason: 'bye' });
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('failed');
    const opens = h.rec.opens;
    h.advance(10 * 60_000);
    expect(h.rec.opens).toBe(opens);
    play(h, { type: 'network.online' });
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('failed');
  });

  test('RC-9 close() sends NORMAL, ends in closed and never reconnects', () => {
    for (const prefix of [[], [{ type: 'app.connect' }], [{ type: 'app.connect' }, { type: 'xstate.done.actor.getToken', output: 't' }, { type: 'socket.opened' }, welcome]] as ModelEvent[][]) {
      const h = harness();
      for (const e of prefix) play(h, e);
      play(h, { type: 'app.close' });
      expect(h.actor.getSnapshot().status).toBe('done');
      expect(h.rec.closes.at(-1)?.code).toBe(codeOf('NORMAL'));
      const opens = h.rec.opens;
      h.advance(10 * 60_000);
      expect(h.rec.opens).toBe(opens);
    }
  });

  test('DR-6 a DrainNotice reconnects after reconnect_after_ms from receipt, not before, closed or not', () => {
    for (const serverClosesFirst of [false, true]) {
      const h = harness();
      connect(h);
      play(h, { type: 'frame.drainNotice', reconnectAfterMs: 300, target: 'ws://127.0.0.1:1/other' });
      // The client stays connected while it waits for its slot: heartbeats and the watchdog go on.
      expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
      const beats = h.rec.heartbeats.length;
      for (let i = 0; i < 5; i++) { h.advance(20); play(h, { type: 'frame.any' }); }
      expect(h.rec.heartbeats.length).toBe(beats + 5);
      if (serverClosesFirst) play(h, { type: 'socket.closed', code: codeOf('SERVICE_RESTART'), reason: 'drain' });
      live(h, 199);
      expect(h.rec.tokenInputs.length).toBe(1);
      h.advance(1);
      expect(clientStateName(h.actor.getSnapshot().value)).toBe('connecting');
      if (!serverClosesFirst) expect(h.rec.closes.at(-1)?.code).toBe(codeOf('GOING_AWAY'));
      play(h, { type: 'xstate.done.actor.getToken', output: 't' });
      expect(h.actor.getSnapshot().context.target).toBe('ws://127.0.0.1:1/other');
      play(h, { type: 'socket.opened' });
      expect(h.rec.hellos.at(-1)?.sessionId).toBe('s1'); // DR-6 reconnects resume (1012 keeps the session)
      play(h, welcome);
      expect(h.actor.getSnapshot().context.target).toBe(''); // the target held until this Welcome
      expect(h.actor.getSnapshot().context.retries).toBe(0);
    }
  });

  test('DR-6 a drop during the drain wait reconnects at the later of the slot and its own delay; advice none cancels the slot', () => {
    // A backoff close (min 1 s) 100 ms into a 300 ms wait: its own delay ends later than the slot.
    const h = harness({ ...input, random: () => 0 });
    connect(h);
    play(h, { type: 'frame.drainNotice', reconnectAfterMs: 300, target: '' });
    live(h, 100);
    play(h, { type: 'socket.closed', code: codeOf('PROTOCOL_ERROR'), reason: '' });
    h.advance(999);
    expect(h.rec.tokenInputs.length).toBe(1);
    h.advance(1);
    expect(h.rec.tokenInputs.length).toBe(2);
    // A 1006 with a short backoff: not before the slot.
    const g = harness({ ...input, random: () => 0 });
    connect(g);
    play(g, { type: 'frame.drainNotice', reconnectAfterMs: 300, target: '' });
    play(g, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
    g.advance(299);
    expect(clientStateName(g.actor.getSnapshot().value)).toBe('reconnecting');
    g.advance(1);
    expect(clientStateName(g.actor.getSnapshot().value)).toBe('connecting');
    // Advice none during the wait: failed, and the slot reconnects nothing.
    const f = harness();
    connect(f);
    play(f, { type: 'frame.drainNotice', reconnectAfterMs: 300, target: '' });
    play(f, { type: 'socket.closed', code: codeOf('SESSION_TAKEN_OVER'), reason: '' });
    f.advance(10_000);
    expect(clientStateName(f.actor.getSnapshot().value)).toBe('failed');
    expect(f.rec.opens).toBe(1);
  });

  test('HS-10 one handshake deadline per attempt covers the token, the socket opening and the Welcome', () => {
    // 30 ms to open leaves 20 ms for the Welcome (50 in all), not a fresh 50.
    const h = harness();
    play(h, { type: 'app.connect' });
    h.advance(10);
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    h.advance(20);
    play(h, { type: 'socket.opened' });
    h.advance(19);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('handshaking');
    h.advance(1);
    expect(h.rec.closes.at(-1)?.code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
    // A getToken that never answers fails the attempt at the same deadline.
    const g = harness();
    play(g, { type: 'app.connect' });
    g.advance(49);
    expect(clientStateName(g.actor.getSnapshot().value)).toBe('connecting');
    g.advance(1);
    expect(clientStateName(g.actor.getSnapshot().value)).toBe('reconnecting');
    expect(g.actor.getSnapshot().context.lastEnd?.code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(g.rec.opens).toBe(0);
    // A Welcome in time cancels it: nothing fires later.
    const w = harness();
    connect(w);
    w.advance(45);
    play(w, { type: 'frame.any' });
    w.advance(10);
    expect(w.rec.closes).toEqual([]);
  });

  test('RC-2 the first delay of a series is n = 0, after a failed first attempt as after a drop', () => {
    const opts = { reconnectBaseMs: 100, reconnectCapMs: 1000 };
    const h = harness({ ...input, random: () => 0.999, reconnectMaxAttempts: 8 });
    play(h, { type: 'app.connect' });
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      play(h, { type: 'xstate.done.actor.getToken', output: 't' });
      play(h, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
      seen.push(h.actor.getSnapshot().context.reconnectDelayMs);
      h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    }
    expect(seen).toEqual([0, 1, 2, 3].map((n) => Math.floor(0.999 * backoffCeilingMs(n, opts))));
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    play(h, welcome);
    play(h, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
    expect(h.actor.getSnapshot().context.reconnectDelayMs).toBe(Math.floor(0.999 * backoffCeilingMs(0, opts)));
  });

  test('CC-2 a close the client sends for the server\'s fault resets the session and backs off from 1 s, whatever the code', () => {
    for (const code of [codeOf('UNSUPPORTED_DATA'), codeOf('MESSAGE_TOO_BIG'), codeOf('INVALID_PAYLOAD'), codeOf('PROTOCOL_ERROR')]) {
      const h = harness({ ...input, random: () => 0 });
      connect(h);
      play(h, { type: 'frame.invalid', code, reason: 'x' });
      const snap = h.actor.getSnapshot();
      expect(h.rec.closes.at(-1)?.code).toBe(code);
      expect(clientStateName(snap.value)).toBe('reconnecting');
      expect(snap.context.sessionId).toBe('');
      expect(snap.context.reconnectDelayMs).toBe(closeCodes.PROTOCOL_ERROR.minDelayMs);
    }
  });

  test('RC-8 HS-6 a 503 refusal waits its Retry-After; server-delay with no delay given backs off', () => {
    const h = harness({ ...input, reconnectMaxAttempts: 5 });
    play(h, { type: 'app.connect' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.refused', status: 503, retryAfterMs: 2500 });
    expect(h.actor.getSnapshot().context.reconnectDelayMs).toBe(2500);
    h.advance(2500);
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.refused', status: 503 });
    const d = h.actor.getSnapshot().context.reconnectDelayMs;
    expect(d).toBeGreaterThanOrEqual(closeCodes.HTTP_DRAINING.minDelayMs);
    expect(d).toBeLessThanOrEqual(Math.max(closeCodes.HTTP_DRAINING.minDelayMs, backoffCeilingMs(2, input as Required<ClientConnectionInput>)));
  });

  test('RC-7 advice immediate reconnects at once on the first attempt only', () => {
    const immediate = { retry: 'immediate', resetSession: false, minDelayMs: 0 } as const;
    expect(reconnectDelayFor(immediate, 0, () => 0.99, { reconnectBaseMs: 1000, reconnectCapMs: 30_000 })).toBe(0);
    expect(reconnectDelayFor(immediate, 1, () => 0.99, { reconnectBaseMs: 1000, reconnectCapMs: 30_000 })).toBeGreaterThan(1000);
  });

  // Iterate the registry: every code's reaction follows its row (CC-2), unregistered codes their class (CC-3).
  const registered = Object.entries(closeCodes) as [string, CloseRow][];
  const unregistered = [3000, 4050, 4150, 4250, 4350, 4999, 1016];
  const registryCases = [
    ...registered.filter(([, r]) => r.code !== undefined).map(([name, r]) => [name, r.code as number, 'code'] as const),
    ...registered.filter(([, r]) => r.http !== undefined).map(([name, r]) => [name, r.http as number, 'http'] as const),
    ...unregistered.map((c) => [`unregistered ${c}`, c, 'code'] as const),
  ];
  for (const [name, value, kind] of registryCases) test(`CC-2 CC-3 CC-4 CC-7 RC-2 RC-6 RC-8 RC-10 ${name} (${value}) is answered by its advice, with its delay bounds`, () => {
    const advice = kind === 'code' ? adviceForCode(value) : adviceForHttpStatus(value);
    const h = harness({ ...input, reconnectMaxAttempts: 5 });
    connect(h);
    play(h, { type: 'socket.closed', code: 1006, reason: '' });
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    const ev: ClientConnectionEvent = kind === 'code'
      ? { type: 'socket.closed', code: value, reason: '' }
      : { type: 'socket.refused', status: value };
    play(h, ev);
    const snap = h.actor.getSnapshot();
    if (advice.retry === 'none') {
      expect(clientStateName(snap.value)).toBe('failed');
      return;
    }
    expect(clientStateName(snap.value)).toBe('reconnecting');
    expect(snap.context.sessionId).toBe(advice.resetSession ? '' : 's1'); // RC-10
    expect(snap.context.forceRefresh).toBe(advice.retry === 'refresh-token');
    const d = snap.context.reconnectDelayMs;
    expect(d).toBeGreaterThanOrEqual(advice.minDelayMs);
    expect(d).toBeLessThanOrEqual(Math.max(advice.minDelayMs, backoffCeilingMs(1, { reconnectBaseMs: 100, reconnectCapMs: 1000 })));
    // Not before the delay, and at it.
    const tokens = h.rec.tokenInputs.length;
    if (d > 0) { h.advance(d - 1); expect(h.rec.tokenInputs.length).toBe(tokens); }
    h.advance(1);
    expect(h.rec.tokenInputs.length).toBe(tokens + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over arbitrary event sequences.

type Cmd = { kind: 'event'; ev: ModelEvent } | { kind: 'tick'; ms: number };
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...modelEvents).map((ev): Cmd => ({ kind: 'event', ev })) },
  { weight: 1, arbitrary: fc.constantFrom(...[410, 4050, 4150, 4250, 4350, 1011, 1013, 4203]).map((code): Cmd => ({ kind: 'event', ev: { type: 'socket.closed', code, reason: '' } })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 2000 }).map((ms): Cmd => ({ kind: 'tick', ms })) },
);

function adviceOfEvent(ev: ModelEvent) {
  if (ev.type === 'socket.closed' || ev.type === 'frame.invalid') return adviceForCode(ev.code);
  if (ev.type === 'socket.refused') return adviceForHttpStatus(ev.status);
  return undefined;
}

/** Whether an event ends the connection in a state (where the machine listens for it). */
function endsConnection(ev: ModelEvent, state: string): boolean {
  if (ev.type === 'socket.closed') return ['connecting', 'handshaking', 'connected'].includes(state);
  if (ev.type === 'socket.refused') return state === 'connecting';
  if (ev.type === 'frame.invalid') return ['handshaking', 'connected'].includes(state);
  return false;
}

describe('client connection machine: transports (§22.7)', () => {
  const both: ClientConnectionInput = { ...input, reconnectMaxAttempts: 8, transports: ['ws', 'http'], httpFallbackAfter: 2, wsRetryMs: 1000, wsRetryCapMs: 3000, handshakeTimeoutMs: 500 };
  /** Fail the current attempt with `ev` and wait out the reconnect delay. */
  function failAttempt(h: ReturnType<typeof harness>, ev: ClientConnectionEvent) {
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, ev);
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
  }
  /** Keep a connection alive for `ms` with frames every 10 ms (HB-8). */
  const alive = (h: ReturnType<typeof harness>, ms: number) => live(h, ms);

  test('HT-20 HT-21 after httpFallbackAfter attempts whose WebSocket never opened, the next goes over HTTP; a proxy 426 is not advice none', () => {
    const h = harness(both);
    play(h, { type: 'app.connect' });
    failAttempt(h, { type: 'socket.refused', status: 426 });
    failAttempt(h, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    expect(h.rec.over).toEqual(['ws', 'ws', 'http']);
    play(h, { type: 'socket.opened' });
    play(h, welcome);
    expect(h.actor.getSnapshot().context.transport).toBe('http');
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
  });

  test('HT-21 admission refusals (401, 403 … 429, 503) never count toward the fallback', () => {
    const h = harness(both);
    play(h, { type: 'app.connect' });
    failAttempt(h, { type: 'socket.refused', status: 503, retryAfterMs: 10 });
    failAttempt(h, { type: 'socket.refused', status: 429, retryAfterMs: 10 });
    failAttempt(h, { type: 'socket.refused', status: 401 });
    failAttempt(h, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    expect(h.rec.over).toEqual(['ws', 'ws', 'ws', 'ws', 'ws']);
    expect(h.actor.getSnapshot().context.wsFailures).toBe(1);
    // 403 keeps its advice (none): the server refused, whatever the carrier (HS-2, RC-6).
    play(h, { type: 'socket.refused', status: 403 });
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('failed');
  });

  test('HT-21 HT-22 a WebSocket that opened resets the count at Welcome; an HTTP open that fails sends the next attempt back to ws', () => {
    const h = harness(both);
    play(h, { type: 'app.connect' });
    failAttempt(h, { type: 'socket.refused', status: 502 });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    play(h, welcome);
    expect(h.actor.getSnapshot().context.wsFailures).toBe(0);
    play(h, { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' });
    h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    failAttempt(h, { type: 'socket.refused', status: 426 });
    failAttempt(h, { type: 'socket.refused', status: 426 });
    failAttempt(h, { type: 'socket.refused', status: 404 }); // the HTTP open: no carrier there
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    expect(h.rec.over).toEqual(['ws', 'ws', 'ws', 'ws', 'http', 'ws']);
  });

  test('HT-21 a handshake deadline while the WebSocket is opening does not count: slow is not blocked', () => {
    const h = harness(both);
    play(h, { type: 'app.connect' });
    for (let i = 0; i < 3; i++) {
      play(h, { type: 'xstate.done.actor.getToken', output: 't' });
      h.advance(both.handshakeTimeoutMs as number);
      expect(clientStateName(h.actor.getSnapshot().value)).toBe('reconnecting');
      h.advance(h.actor.getSnapshot().context.reconnectDelayMs);
    }
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    expect(h.rec.over).toEqual(['ws', 'ws', 'ws', 'ws']);
    expect(h.actor.getSnapshot().context.wsFailures).toBe(0);
  });

  test('HT-21 transports [ws] keeps the v1 behaviour: a 426 is advice none (RC-6)', () => {
    const h = harness({ ...both, transports: ['ws'] });
    play(h, { type: 'app.connect' });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.refused', status: 426 });
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('failed');
  });

  /** Fall back and connect over HTTP. */
  function overHttp(h: ReturnType<typeof harness>) {
    play(h, { type: 'app.connect' });
    failAttempt(h, { type: 'socket.refused', status: 426 });
    failAttempt(h, { type: 'socket.refused', status: 426 });
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    play(h, { type: 'socket.opened' });
    play(h, welcome);
    expect(h.actor.getSnapshot().context.transport).toBe('http');
  }

  test('HT-23 HT-24 over HTTP a probe runs after wsRetryMs; each failed probe doubles the wait up to wsRetryCapMs', () => {
    const h = harness(both);
    overHttp(h);
    alive(h, 990);
    expect(h.rec.probes).toBe(0);
    alive(h, 20);
    expect(h.rec.probes).toBe(1);
    play(h, { type: 'probe.failed' });
    expect(h.actor.getSnapshot().context.wsRetryDelayMs).toBe(2000);
    alive(h, 1990);
    expect(h.rec.probes).toBe(1);
    alive(h, 20);
    expect(h.rec.probes).toBe(2);
    // A probe that neither opens nor fails times out as a failed one (the handshake timeout).
    alive(h, 510);
    expect(h.actor.getSnapshot().context.wsRetryDelayMs).toBe(3000); // capped
    expect(h.rec.probeCloses).toBe(2); // leaving `probing` abandons the probe
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connected');
  });

  test('HT-25 a probe that opens: close the HTTP connection 1001 "transport switch", reconnect at once over ws, resume the session', () => {
    const h = harness(both);
    overHttp(h);
    alive(h, 1010);
    play(h, { type: 'probe.opened' });
    expect(h.rec.closes.at(-1)).toEqual({ code: codeOf('GOING_AWAY'), reason: 'transport switch' });
    expect(clientStateName(h.actor.getSnapshot().value)).toBe('connecting'); // no backoff
    play(h, { type: 'xstate.done.actor.getToken', output: 't' });
    expect(h.rec.over.at(-1)).toBe('ws');
    play(h, { type: 'socket.opened' });
    expect(h.rec.hellos.at(-1)?.sessionId).toBe('s1'); // RS-10: resumed
    play(h, welcome);
    const c = h.actor.getSnapshot().context;
    expect([c.transport, c.wsFailures, c.wsRetryDelayMs]).toEqual(['ws', 0, 1000]);
    alive(h, 3000);
    expect(h.rec.probes).toBe(1); // no probe over ws
  });

  test('HT-23 no probe over ws, nor over http when ws is not one of the transports', () => {
    const h = harness({ ...both, transports: ['http'] });
    connect(h);
    expect(h.rec.over).toEqual(['http']);
    alive(h, 5000);
    expect(h.rec.probes).toBe(0);
  });
});

describe('client connection machine: properties', () => {
  test('RC-2 RC-7 RC-8 every reconnect delay lies in its window, for every advice, attempt and draw', () => {
    const retry = fc.constantFrom('immediate', 'backoff', 'refresh-token', 'server-delay') as fc.Arbitrary<'immediate' | 'backoff' | 'refresh-token' | 'server-delay'>;
    fc.assert(
      fc.property(
        retry,
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
        (r, minDelayMs, n, draw, base, cap, serverDelay) => {
          const opts = { reconnectBaseMs: base, reconnectCapMs: cap };
          const d = reconnectDelayFor({ retry: r, resetSession: false, minDelayMs }, n, () => draw, opts, serverDelay);
          if (r === 'immediate' && n === 0) {
            expect(d).toBe(0); // RC-7
          } else if (r === 'server-delay' && serverDelay !== undefined) {
            expect(d).toBe(Math.max(minDelayMs, serverDelay)); // RC-8
          } else {
            expect(d).toBeGreaterThanOrEqual(minDelayMs);
            expect(d).toBeLessThanOrEqual(Math.max(minDelayMs, Math.min(cap, base * 2 ** n))); // RC-2
          }
        },
      ),
    );
  });

  test('RC-1 RC-2 RC-3 RC-6 RC-9 invariants hold over arbitrary event sequences', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 80 }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 16 }), (cmds, randoms) => {
        let i = 0;
        const opts = { ...input, random: () => randoms[i++ % randoms.length] as number };
        const h = harness(opts);
        let welcomeThisConnection = false;
        let failedSince: number | undefined; // opens count when failed was entered
        let closedCalled = false;
        let opensAtClose = 0;
        let lastOpens = 0;
        for (const c of cmds) {
          const before = h.actor.getSnapshot();
          const stateBefore = clientStateName(before.value);
          if (c.kind === 'tick') h.advance(c.ms);
          else play(h, c.ev);
          const after = h.actor.getSnapshot();
          const state = clientStateName(after.value);
          if (h.rec.opens !== lastOpens) { welcomeThisConnection = false; lastOpens = h.rec.opens; }
          if (c.kind === 'event' && c.ev.type === 'frame.welcome' && stateBefore === 'handshaking') welcomeThisConnection = true;
          // Never connected without a Welcome in this connection.
          if (state === 'connected') expect(welcomeThisConnection).toBe(true);
          // RC-6: a close whose advice is none, seen by a live connection, ends in failed.
          if (c.kind === 'event' && endsConnection(c.ev, stateBefore) && adviceOfEvent(c.ev)?.retry === 'none') {
            expect(state).toBe('failed');
          }
          if (state === 'failed' && stateBefore !== 'failed') failedSince = h.rec.opens;
          if (state !== 'failed' && stateBefore === 'failed') {
            // Only an explicit reconnect (or close) leaves it.
            expect(c.kind === 'event' && (c.ev.type === 'app.reconnect' || c.ev.type === 'app.close')).toBe(true);
            failedSince = undefined;
          }
          if (failedSince !== undefined && state === 'failed') expect(h.rec.opens).toBe(failedSince);
          // RC-2 every backoff delay lies in its window.
          if (state === 'reconnecting' && stateBefore !== 'reconnecting' && c.kind === 'event' && c.ev.type !== 'frame.drainNotice') {
            const end = after.context.lastEnd;
            if (end) {
              const min = end.advice.minDelayMs;
              const n = stateBefore === 'connected' ? 0 : after.context.failures;
              const serverDelay = c.ev.type === 'socket.refused' && end.advice.retry === 'server-delay' ? c.ev.retryAfterMs ?? 0 : 0;
              const d = after.context.reconnectDelayMs;
              expect(d).toBeGreaterThanOrEqual(min);
              expect(d).toBeLessThanOrEqual(Math.max(min, backoffCeilingMs(n, { reconnectBaseMs: 100, reconnectCapMs: 1000 }), serverDelay));
            }
          }
          // RC-3: never more consecutive failures than the limit.
          expect(after.context.failures).toBeLessThanOrEqual(2);
          // RC-9: closed is final, and nothing opens after close().
          if (closedCalled) {
            expect(state).toBe('closed');
            expect(h.rec.opens).toBe(opensAtClose);
          }
          if (state === 'closed' && !closedCalled) { closedCalled = true; opensAtClose = h.rec.opens; }
        }
        h.actor.stop();
      }),
      { numRuns: 300 },
    );
  });
});
