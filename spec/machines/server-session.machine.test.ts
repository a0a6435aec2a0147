import { getAdjacencyMap } from '@xstate/graph';
import { advanceClock } from './simulated-time.js';
import { ackEvent, driftEvent, heartbeatEvent, helloEvent, messageEvent, serverModelEvents, subscribeEvent, unsubscribeEvent } from './server-session.events.js';
import { allStateNodes, transitionKey } from './model-coverage.js';
import { transitionTour } from './model-tour.js';
import fc from 'fast-check';
import { __unsafe_getAllOwnEventDescriptors, createActor, SimulatedClock, type AnyTransitionDefinition, type StateNode } from 'xstate';
import { describe, expect, test } from 'vitest';
import { codeOf, type WsCloseCodeName } from '../protocol/close-codes.js';
import {
  closeResetsSession,
  serverSessionMachine,
  serverStateName,
  type ServerSessionContext,
  type ServerSessionEvent,
  type ServerSessionInput,
} from './server-session.machine.js';

type Snap = ReturnType<ReturnType<typeof createActor<typeof serverSessionMachine>>['getSnapshot']>;

const input: ServerSessionInput = { handshakeTimeoutMs: 50, resumeTtlMs: 500, replayWindowMs: 200, heartbeatMissedMax: 1 };
const missedMax = input.heartbeatMissedMax as number;
/** The adaptive heartbeat on (HB-11): the interval may reach two base intervals after two stable beats. */
const adaptive: ServerSessionInput = { ...input, heartbeatIntervalStepsMax: 2, heartbeatStableBeats: 2 };
const stepsMax = adaptive.heartbeatIntervalStepsMax as number;

const hello = helloEvent;
const modelEvents = serverModelEvents;

function serialize(s: Snap): string {
  const c = s.context;
  return JSON.stringify({
    v: s.value, m: c.missed, t: c.silentTicks, w: c.welcomed, d: c.drainDeadlineMs, r: c.isRebalance,
    k: c.intervalSteps, kc: c.clientSteps, ka: c.announcedSteps, tv: c.ticksSinceVisit, sb: c.stableBeats,
  });
}

type Rec = { name: string; params?: unknown };
const WRITES = new Set(['sendWelcome', 'sendPing', 'sendHeartbeatAck', 'sendDrainNotice', 'deliverMessage', 'ackDuplicate', 'applyAck', 'answerDrift', 'subscribe']);
const SOCKET_ENDS = new Set(['closeSocket', 'terminateSocket', 'forgetSocket', 'handOverSocket']);

function harness(inp: ServerSessionInput = input) {
  const clock = new SimulatedClock();
  const actions: Rec[] = [];
  const transitions: AnyTransitionDefinition[] = [];
  const rec = (name: string) => (_: unknown, params?: unknown) => {
    actions.push(params === undefined ? { name } : { name, params });
  };
  const names = [
    'createSession', 'handOverSocket', 'attachSocket', 'sendWelcome', 'closeSocket', 'terminateSocket', 'forgetSocket',
    'sendPing', 'sendHeartbeatAck', 'deliverMessage', 'ackDuplicate', 'applyAck', 'answerDrift', 'subscribe',
    'confirmSubscribe', 'unsubscribe', 'sendDrainNotice', 'loseContinuity', 'releaseReplay', 'leaveChannels', 'deleteSession',
  ] as const;
  const machine = serverSessionMachine.provide({ actions: Object.fromEntries(names.map((n) => [n, rec(n)])) });
  const actor = createActor(machine, {
    clock,
    input: inp,
    inspect: (ev) => {
      if (ev.type === '@xstate.microstep') transitions.push(...ev._transitions);
    },
  });
  actor.start();
  const advance = (ms: number) => advanceClock(clock, ms);
  return { clock, actor, actions, transitions, advance };
}
type Harness = ReturnType<typeof harness>;

const delayFns = (serverSessionMachine.implementations.delays ?? {}) as Record<string, (a: { context: ServerSessionContext }) => number>;

function play(h: Harness, ev: ServerSessionEvent | { type: string }) {
  if (ev.type.startsWith('xstate.after.')) {
    const name = ev.type.split('.')[2] as string;
    const fn = delayFns[name];
    if (!fn) throw new Error(`unknown delay ${name}`);
    h.advance(fn({ context: h.actor.getSnapshot().context }));
  } else {
    h.actor.send(ev as ServerSessionEvent);
  }
}

/** Every `always` transition, keyed like the others. */
function alwaysKeys(nodes: StateNode<ServerSessionContext, ServerSessionEvent>[]): string[] {
  return nodes.flatMap((n) => (n.always ?? []).map((_t, i) => `${n.id} --always#${i}`));
}

function takenKey(t: AnyTransitionDefinition): string {
  if (t.eventType === '') return `${t.source.id} --always#${(t.source.always ?? []).indexOf(t)}`;
  return transitionKey(t);
}

/** Drive a fresh actor to attached with a new session. */
function attach(h: Harness) {
  play(h, hello());
  expect(h.actor.getSnapshot().matches('attached')).toBe(true);
}

const closes = (h: Harness) =>
  h.actions.filter((a) => a.name === 'closeSocket' || a.name === 'terminateSocket').map((a) => (a.params as { name: WsCloseCodeName }).name);

describe('server session machine: model coverage', () => {
  /**
   * Walk the machine's graph with these inputs and events, and replay every edge on real actors (a
   * transition tour: each actor walks from edge to edge, checking every state it lands in):
   * returns the transitions taken and the state nodes reached.
   */
  function traverse(inp: ServerSessionInput, events: readonly ServerSessionEvent[], isOnlyThese = false) {
    const eventsFor = (s: Snap): ServerSessionEvent[] =>
      __unsafe_getAllOwnEventDescriptors(s).flatMap((type) => {
        const matching = events.filter((e) => e.type === type);
        if (matching.length > 0) return matching;
        // Delays are always taken; other events only when the walk is not restricted.
        return (isOnlyThese && !type.startsWith('xstate.after.') ? [] : [{ type }]) as ServerSessionEvent[];
      });
    // Events carry decoded bodies, whose seqs are bigints (JSON has none).
    const serializeEvent = (e: ServerSessionEvent) => JSON.stringify(e, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    const traversal = { events: eventsFor, serializeState: (s: Snap) => serialize(s), serializeEvent, input: inp };
    const adjacency = getAdjacencyMap(serverSessionMachine, traversal);
    const taken = new Set<string>();
    const reached = new Set<string>();
    let h: Harness | undefined;
    const note = (x: Harness) => {
      for (const n of x.actor.getSnapshot()._nodes) reached.add(n.id);
      return serialize(x.actor.getSnapshot());
    };
    const tour = transitionTour<ServerSessionEvent, typeof adjacency>(adjacency, serialize, {
      start: () => note((h = harness(inp))),
      step: (ev) => {
        play(h as Harness, ev);
        return note(h as Harness);
      },
      end: () => {
        for (const t of (h as Harness).transitions) taken.add(takenKey(t));
        h?.actor.stop();
      },
    }, serializeEvent);
    return { taken, reached, replays: tour.edges, tour };
  }

  test('HS-9 HB-2 HB-11 RS-1 every state and every transition is reached by graph paths replayed on real actors', () => {
    // Every event with the adaptation off, then the liveness events with it on (HB-11): the
    // product of both would be too large a graph to walk.
    const all = traverse(input, modelEvents);
    const livenessEvents = modelEvents.filter((e) => ['frame.heartbeat', 'frame.ack', 'socket.pong', 'sweep.tick'].includes(e.type));
    const adapted = traverse(adaptive, [hello(), ...livenessEvents], true);
    const taken = new Set([...all.taken, ...adapted.taken]);
    const reached = new Set([...all.reached, ...adapted.reached]);
    const replays = all.replays + adapted.replays;
    console.log(`server-session model: ${all.replays} + ${adapted.replays} (HB-11) edges replayed in ${all.tour.steps + adapted.tour.steps} steps on ${all.tour.actors + adapted.tour.actors} actors`);
    const nodes = allStateNodes(serverSessionMachine.root as StateNode<ServerSessionContext, ServerSessionEvent>);
    expect(nodes.map((n) => n.id).filter((id) => !reached.has(id))).toEqual([]);
    const defined = [
      ...nodes.flatMap((n) => [...n.transitions.values()].flat().map((t) => transitionKey(t as AnyTransitionDefinition))),
      ...alwaysKeys(nodes),
    ];
    expect(defined.length).toBeGreaterThan(50);
    expect(defined.filter((k) => !taken.has(k)), `taken: ${taken.size}`).toEqual([]);
    expect(replays).toBeGreaterThan(200);
    // ~3,000 replayed edges since issue 13 added BP-16, BP-17 and RS-11: 23 s on a loaded 2-core machine.
  }, 90_000);

  test('HS-9 the states are the spec\'s: handshaking, active, draining, detached, closed (+ liveness and flow regions)', () => {
    expect(Object.keys(serverSessionMachine.root.states).sort()).toEqual(['attached', 'closed', 'detached', 'expired', 'handedOver', 'handshaking']);
    const attached = serverSessionMachine.root.states.attached as StateNode<ServerSessionContext, ServerSessionEvent>;
    expect(Object.keys(attached.states).sort()).toEqual(['flow', 'liveness', 'phase']);
    expect(Object.keys((attached.states.phase as StateNode<ServerSessionContext, ServerSessionEvent>).states)).toEqual(['active', 'draining']);
  });

  test('HS-7 every transition cites a spec id', () => {
    const nodes = allStateNodes(serverSessionMachine.root as StateNode<ServerSessionContext, ServerSessionEvent>);
    const uncited = [
      ...nodes.flatMap((n) => [...n.transitions.values()].flat()),
      ...nodes.flatMap((n) => n.always ?? []),
    ]
      .filter((t) => !(t.meta as { spec?: string } | undefined)?.spec)
      .map((t) => takenKey(t as AnyTransitionDefinition));
    expect(uncited).toEqual([]);
  });
});

describe('server session machine: invariants over arbitrary event sequences', () => {
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...modelEvents) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }).map((ms) => ({ type: 'advance' as const, ms })) },
  );

  test.each([
    ['', input],
    ['HB-11 (adaptive heartbeat on) ', adaptive],
  ])('HS-9 HB-3 CC-6 %snever attached without Welcome; final states are final; no write after the socket ends; missed ≤ missed_max + 1', (_, inp) => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const h = harness(inp);
        let socketOpen = true; // the handshaking connection's socket
        let welcomedSocket = false;
        let seen = 0;
        let finalValue: string | undefined;
        for (const s of steps) {
          if (finalValue !== undefined) break;
          if (s.type === 'advance') h.advance(s.ms);
          else h.actor.send(s);
          const snap = h.actor.getSnapshot();
          for (const a of h.actions.slice(seen)) {
            if (finalValue !== undefined) throw new Error(`action ${a.name} after final state ${finalValue}`);
            if (a.name === 'attachSocket') {
              socketOpen = true;
              welcomedSocket = false;
            }
            if (a.name === 'sendWelcome') welcomedSocket = true;
            if (WRITES.has(a.name) && !socketOpen) throw new Error(`${a.name} after the socket ended`);
            if (a.name === 'closeSocket' && (a.params as { name: string }).name === 'NORMAL' && h.actions.some((x) => x.name === 'createSession')) {
              // CC-6: out of the channels and the store before the close.
              const before = h.actions.slice(0, h.actions.indexOf(a)).map((x) => x.name);
              expect(before.slice(-2)).toEqual(['leaveChannels', 'deleteSession']);
            }
            if (SOCKET_ENDS.has(a.name) && !(a.name === 'closeSocket' && (a.params as { name: string }).name === 'SESSION_TAKEN_OVER')) {
              socketOpen = false;
            }
          }
          seen = h.actions.length;
          if (snap.matches('attached')) {
            expect(snap.context.welcomed).toBe(true);
            expect(welcomedSocket).toBe(true);
          }
          expect(snap.context.missed).toBeLessThanOrEqual(missedMax + 1);
          expect(snap.context.silentTicks).toBeLessThanOrEqual((missedMax + 1) * stepsMax);
          expect(snap.context.intervalSteps).toBeGreaterThanOrEqual(1);
          expect(snap.context.intervalSteps).toBeLessThanOrEqual(stepsMax); // HB-11: within [base, max]
          if (snap.status === 'done') finalValue ??= String(snap.value);
          else expect(finalValue).toBeUndefined();
        }
        h.actor.stop();
      }),
      { numRuns: 500 },
    );
  });
});

describe('server session machine: rules', () => {
  test('HS-10 no Hello within the handshake timeout closes 4201', () => {
    const h = harness();
    h.advance(49);
    expect(h.actor.getSnapshot().value).toBe('handshaking');
    h.advance(1);
    expect(closes(h)).toEqual(['HANDSHAKE_TIMEOUT']);
    expect(h.actor.getSnapshot().value).toBe('closed');
  });

  test('HS-11 HS-12 CC-8 a Hello is checked for version, then authorization, then capacity, before any session exists', () => {
    const cases: [ServerSessionEvent, WsCloseCodeName][] = [
      [hello({ isVersionSupported: false, isAuthorized: false }), 'VERSION_UNSUPPORTED'],
      [hello({ isAuthorized: false, isOverCapacity: true }), 'UNAUTHORIZED'],
      [hello({ isOverCapacity: true }), 'TRY_AGAIN_LATER'],
    ];
    for (const [ev, name] of cases) {
      const h = harness();
      play(h, ev);
      expect(closes(h)).toEqual([name]);
      expect(h.actions.map((a) => a.name)).not.toContain('createSession'); // HS-7
      expect(h.actions.map((a) => a.name)).not.toContain('sendWelcome');
    }
  });

  test('SEC-6 SEC-7 a forbidden channel closes 4001, too many channels 1008, in Hello or in Subscribe', () => {
    const h = harness();
    play(h, hello({ isForbidden: true, isOverChannelLimit: true }));
    expect(closes(h)).toEqual(['FORBIDDEN']);
    const h2 = harness();
    attach(h2);
    play(h2, subscribeEvent({ isOverChannelLimit: true }));
    expect(closes(h2)).toEqual(['POLICY_VIOLATION']);
    expect(h2.actor.getSnapshot().value).toBe('closed');
  });

  test('HS-8 WIRE-7 any body before Hello closes 1002; a second Hello closes 1002 and ends the session', () => {
    const h = harness();
    play(h, heartbeatEvent());
    expect(closes(h)).toEqual(['PROTOCOL_ERROR']);
    const h2 = harness();
    attach(h2);
    play(h2, hello());
    expect(closes(h2)).toEqual(['PROTOCOL_ERROR']);
    expect(h2.actor.getSnapshot().value).toBe('closed');
  });

  test('HS-9 Welcome is the first thing sent after a valid Hello', () => {
    const h = harness();
    attach(h);
    expect(h.actions.map((a) => a.name)).toEqual(['createSession', 'sendWelcome']);
  });

  test('HB-1 HB-2 HB-3 a silent peer gets a ping per tick and is terminated on tick missed_max + 2', () => {
    const h = harness({ ...input, heartbeatMissedMax: 2 });
    attach(h);
    for (let i = 1; i <= 3; i++) {
      play(h, { type: 'sweep.tick' });
      expect(h.actor.getSnapshot().context.missed).toBe(i);
    }
    expect(h.actions.filter((a) => a.name === 'sendPing')).toHaveLength(3);
    expect(closes(h)).toEqual([]);
    play(h, { type: 'sweep.tick' });
    expect(h.actions.at(-1)).toEqual({ name: 'terminateSocket', params: { name: 'HEARTBEAT_TIMEOUT' } });
    expect(h.actor.getSnapshot().value).toBe('detached'); // RS-1: 4200 keeps the session
  });

  test('HB-2 HB-8 a pong clears the count; any frame clears it too', () => {
    const h = harness({ ...input, heartbeatMissedMax: 2 });
    attach(h);
    play(h, { type: 'sweep.tick' });
    play(h, { type: 'sweep.tick' });
    expect(h.actor.getSnapshot().matches({ attached: { liveness: 'suspect' } })).toBe(true);
    play(h, { type: 'socket.pong' });
    expect(h.actor.getSnapshot().context.missed).toBe(0);
    expect(h.actor.getSnapshot().matches({ attached: { liveness: 'alive' } })).toBe(true);
    play(h, { type: 'sweep.tick' });
    play(h, ackEvent(false));
    expect(h.actor.getSnapshot().context).toMatchObject({ missed: 0, silentTicks: 0 });
  });

  test('HB-7 a peer that answers pings but sends no frame is closed 4200 on tick missed_max + 2', () => {
    const h = harness({ ...input, heartbeatMissedMax: 2 });
    attach(h);
    for (let i = 0; i < 3; i++) {
      play(h, { type: 'sweep.tick' });
      play(h, { type: 'socket.pong' });
    }
    expect(closes(h)).toEqual([]);
    play(h, { type: 'sweep.tick' });
    expect(h.actions.at(-1)).toEqual({ name: 'closeSocket', params: { name: 'HEARTBEAT_TIMEOUT' } });
  });

  test('HB-11 off by default: stable heartbeats never change the interval, every ack says unchanged', () => {
    const h = harness({ ...input, heartbeatMissedMax: 2 });
    attach(h);
    for (let i = 0; i < 20; i++) play(h, heartbeatEvent(true));
    expect(h.actor.getSnapshot().context.intervalSteps).toBe(1);
    const acks = h.actions.filter((a) => a.name === 'sendHeartbeatAck').map((a) => (a.params as { intervalSteps: number }).intervalSteps);
    expect(acks).toEqual(new Array(20).fill(0));
  });

  test('HB-11 the interval grows one base interval per run of stable on-time heartbeats, announced in the ack, up to the ceiling', () => {
    const h = harness({ ...input, heartbeatMissedMax: 2, heartbeatIntervalStepsMax: 3, heartbeatStableBeats: 2 });
    attach(h);
    const announce = () => (h.actions.filter((a) => a.name === 'sendHeartbeatAck').at(-1)?.params as { intervalSteps: number }).intervalSteps;
    play(h, heartbeatEvent(false));
    play(h, heartbeatEvent(false));
    expect(announce()).toBe(0); // stable RTT required
    play(h, heartbeatEvent(true));
    expect(announce()).toBe(2);
    play(h, heartbeatEvent(true));
    expect(announce()).toBe(0);
    play(h, heartbeatEvent(true));
    expect(announce()).toBe(3);
    for (let i = 0; i < 5; i++) play(h, heartbeatEvent(true));
    expect(announce()).toBe(0);
    expect(h.actor.getSnapshot().context).toMatchObject({ intervalSteps: 3, clientSteps: 3, announcedSteps: 3 });
  });

  /** Attach with the adaptive heartbeat and grow the interval to `k` base intervals. */
  function adapted(k: number, missedMax = 2) {
    const h = harness({ ...input, heartbeatMissedMax: missedMax, heartbeatIntervalStepsMax: 4, heartbeatStableBeats: 1 });
    attach(h);
    for (let i = 1; i < k; i++) play(h, heartbeatEvent(true));
    expect(h.actor.getSnapshot().context.intervalSteps).toBe(k);
    return h;
  }
  const pings = (h: Harness) => h.actions.filter((a) => a.name === 'sendPing').length;

  test('HB-11 HB-1 HB-3 at k base intervals a session is pinged on every k-th tick, and a silent peer is dropped within k·I × (missed_max + 1) + I', () => {
    for (const k of [2, 3, 4]) {
      for (const M of [1, 2]) {
        const h = adapted(k, M);
        // A pong answers each ping for a while: one ping per k ticks.
        for (let t = 1; t <= 3 * k; t++) {
          play(h, { type: 'sweep.tick' });
          if (h.actions.at(-1)?.name === 'sendPing') play(h, { type: 'socket.pong', isRttSpike: false });
          if (t % k === 0) play(h, heartbeatEvent(false)); // on time, keeps HB-7 quiet
        }
        expect(pings(h)).toBe(3);
        // Then silence (the last proof of life was just now): count base ticks to the drop.
        let ticks = 0;
        while (h.actor.getSnapshot().matches('attached')) {
          play(h, { type: 'sweep.tick' });
          ticks++;
          expect(ticks).toBeLessThanOrEqual(k * (M + 1) + 1); // HB-3 under HB-11
        }
        expect(h.actions.at(-1)).toEqual({ name: 'terminateSocket', params: { name: 'HEARTBEAT_TIMEOUT' } });
      }
    }
  });

  test('HB-11 a ping unanswered at the next visit resets to the base interval; the next ack announces it; HB-7 keeps the longer bound until then', () => {
    const h = adapted(3);
    for (let t = 0; t < 3; t++) play(h, { type: 'sweep.tick' }); // the 3rd tick pings; no pong comes
    expect(pings(h)).toBe(1);
    play(h, { type: 'sweep.tick' }); // the next tick finds it unanswered: base interval, ping again
    expect(pings(h)).toBe(2);
    expect(h.actor.getSnapshot().context).toMatchObject({ intervalSteps: 1, clientSteps: 3, missed: 2 });
    play(h, { type: 'socket.pong', isRttSpike: false }); // the path is back
    // The client still beats every 3 base intervals: HB-7 must not fire before its next Heartbeat.
    for (let t = 0; t < 2; t++) {
      play(h, { type: 'sweep.tick' });
      play(h, { type: 'socket.pong', isRttSpike: false });
    }
    expect(h.actor.getSnapshot().matches('attached')).toBe(true);
    play(h, heartbeatEvent(false));
    expect(h.actions.at(-1)).toEqual({ name: 'sendHeartbeatAck', params: { intervalSteps: 1, clientSteps: 3 } });
    expect(h.actor.getSnapshot().context).toMatchObject({ intervalSteps: 1, announcedSteps: 1, clientSteps: 3 });
    play(h, heartbeatEvent(false)); // the first Heartbeat after the announcement
    expect(h.actor.getSnapshot().context.clientSteps).toBe(1);
  });

  test('HB-11 an RTT spike or a late Heartbeat resets to the base interval', () => {
    const h = adapted(2);
    play(h, { type: 'socket.pong', isRttSpike: true });
    expect(h.actor.getSnapshot().context.intervalSteps).toBe(1);
    const h2 = adapted(2);
    // No frame for more than the interval plus a base tick: a late Heartbeat.
    for (let t = 0; t < 3; t++) {
      play(h2, { type: 'sweep.tick' });
      play(h2, { type: 'socket.pong', isRttSpike: false });
    }
    expect(h2.actor.getSnapshot().context.intervalSteps).toBe(2);
    for (let t = 0; t < 1; t++) {
      play(h2, { type: 'sweep.tick' });
      play(h2, { type: 'socket.pong', isRttSpike: false });
    }
    expect(h2.actor.getSnapshot().context.intervalSteps).toBe(1);
    // A spike without adaptation changes nothing.
    const h3 = harness();
    attach(h3);
    play(h3, { type: 'socket.pong', isRttSpike: true });
    expect(h3.actor.getSnapshot().context.intervalSteps).toBe(1);
  });

  test('HB-11 a new socket (resume) starts again at the base interval', () => {
    const h = adapted(3);
    play(h, { type: 'socket.closed', code: codeOf('ABNORMAL') });
    play(h, { type: 'socket.attached', socketId: 9 });
    expect(h.actor.getSnapshot().context).toMatchObject({ intervalSteps: 1, clientSteps: 1, announcedSteps: 1, stableBeats: 0 });
  });

  test('HB-6 a Heartbeat is answered at once', () => {
    const h = harness();
    attach(h);
    play(h, heartbeatEvent());
    expect(h.actions.at(-1)).toEqual({ name: 'sendHeartbeatAck', params: { intervalSteps: 0, clientSteps: 1 } });
  });

  test('SEQ-3 SEQ-4 SEQ-10 BP-14 client messages: next is delivered, a duplicate only acked, a gap closes 1002, over rate closes 4203', () => {
    const h = harness();
    attach(h);
    play(h, messageEvent('next'));
    play(h, messageEvent('duplicate'));
    expect(h.actions.slice(-2).map((a) => a.name)).toEqual(['deliverMessage', 'ackDuplicate']);
    play(h, messageEvent('gap'));
    expect(closes(h)).toEqual(['PROTOCOL_ERROR']);
    const h2 = harness();
    attach(h2);
    play(h2, messageEvent('next', { isOverRate: true }));
    expect(closes(h2)).toEqual(['RATE_LIMITED']);
    expect(h2.actor.getSnapshot().value).toBe('detached');
  });

  test('SEQ-6 an ack beyond the last sent seq closes 1002', () => {
    const h = harness();
    attach(h);
    play(h, ackEvent(true));
    expect(closes(h)).toEqual(['PROTOCOL_ERROR']);
  });

  test('RS-1 RS-2 a detached session resumes within resume_ttl and expires after it', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'socket.closed', code: codeOf('ABNORMAL') });
    expect(h.actor.getSnapshot().value).toBe('detached');
    h.advance(499);
    play(h, { type: 'socket.attached', socketId: 7 });
    expect(h.actor.getSnapshot().matches('attached')).toBe(true);
    expect(h.actions.slice(-2)).toEqual([{ name: 'attachSocket', params: { socketId: 7 } }, { name: 'sendWelcome' }]);
    play(h, { type: 'socket.closed', code: codeOf('GOING_AWAY') });
    h.advance(500);
    expect(h.actor.getSnapshot().value).toBe('expired');
    expect(h.actions.slice(-2).map((a) => a.name)).toEqual(['leaveChannels', 'deleteSession']);
  });

  test('RS-3 a detached session releases its replay buffer after replayWindowMs and lives on until resume_ttl', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'socket.closed', code: codeOf('ABNORMAL') });
    h.advance(199);
    expect(h.actions.map((a) => a.name)).not.toContain('releaseReplay');
    h.advance(1);
    expect(h.actions.at(-1)?.name).toBe('releaseReplay');
    expect(h.actor.getSnapshot().value).toBe('detached');
    h.advance(300);
    expect(h.actor.getSnapshot().value).toBe('expired');
    // Not below the TTL: nothing is released early.
    const h2 = harness({ ...input, replayWindowMs: 500 });
    attach(h2);
    play(h2, { type: 'socket.closed', code: codeOf('ABNORMAL') });
    h2.advance(500);
    expect(h2.actions.map((a) => a.name)).not.toContain('releaseReplay');
  });

  test('RS-1 CC-6 a peer close whose advice resets the session ends it', () => {
    expect(closeResetsSession(codeOf('NORMAL'))).toBe(true);
    expect(closeResetsSession(codeOf('GOING_AWAY'))).toBe(false);
    expect(closeResetsSession(codeOf('ABNORMAL'))).toBe(false);
    const h = harness();
    attach(h);
    play(h, { type: 'socket.closed', code: codeOf('NORMAL') });
    expect(h.actor.getSnapshot().value).toBe('closed');
  });

  test('RS-7 a resume while attached closes the older socket 4002, then welcomes the new one', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'socket.attached', socketId: 3 });
    expect(h.actions.slice(-3)).toEqual([
      { name: 'closeSocket', params: { name: 'SESSION_TAKEN_OVER' } },
      { name: 'attachSocket', params: { socketId: 3 } },
      { name: 'sendWelcome' },
    ]);
  });

  test('RS-2 a resuming Hello hands the socket over and creates nothing', () => {
    const h = harness();
    play(h, hello({ isResume: true }));
    expect(h.actions.map((a) => a.name)).toEqual(['handOverSocket']);
    expect(h.actor.getSnapshot().value).toBe('handedOver');
  });

  test('BP-11 a DISCONNECT overflow closes 4202 and keeps the session, continuity lost; detached it only loses continuity', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'queue.overflow' });
    expect(closes(h)).toEqual(['SLOW_CONSUMER']);
    expect(h.actions.at(-1)?.name).toBe('loseContinuity');
    expect(h.actor.getSnapshot().value).toBe('detached');
    play(h, { type: 'queue.overflow' });
    expect(h.actions.at(-1)?.name).toBe('loseContinuity');
  });

  test('DR-2 DR-4 drain: the notice first, service as usual, close 1012 at the session deadline', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'app.drain', reconnectAfterMs: 5, deadlineMs: 30 });
    expect(h.actions.at(-1)).toEqual({ name: 'sendDrainNotice', params: { reconnectAfterMs: 5, deadlineMs: 30 } });
    expect(serverStateName(h.actor.getSnapshot().value)).toBe('draining');
    play(h, heartbeatEvent());
    expect(h.actions.at(-1)?.name).toBe('sendHeartbeatAck');
    h.advance(29);
    expect(closes(h)).toEqual([]);
    h.advance(1);
    expect(closes(h)).toEqual(['SERVICE_RESTART']);
    expect(h.actor.getSnapshot().value).toBe('detached'); // RS-1: 1012 keeps the session
  });

  test('DR-6 DR-4 a rebalance drain (a target named) closes 4300 at the session deadline instead of 1012', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'app.drain', reconnectAfterMs: 5, deadlineMs: 30, isRebalance: true });
    h.advance(30);
    expect(closes(h)).toEqual(['RECONNECT_ELSEWHERE']);
    expect(h.actor.getSnapshot().value).toBe('detached');
  });

  test('SEC-6 CC-6 CC-5 revoke ends the session 4102, end closes 1000 after leaving channels and store, a failure closes 1011', () => {
    const h = harness();
    attach(h);
    play(h, { type: 'app.revoke' });
    expect(h.actions.slice(-3).map((a) => a.name)).toEqual(['leaveChannels', 'deleteSession', 'closeSocket']);
    expect(closes(h)).toEqual(['REVOKED']);
    const h2 = harness();
    attach(h2);
    play(h2, { type: 'app.end' });
    expect(h2.actions.slice(-3)).toEqual([{ name: 'leaveChannels' }, { name: 'deleteSession' }, { name: 'closeSocket', params: { name: 'NORMAL' } }]);
    const h3 = harness();
    attach(h3);
    play(h3, { type: 'app.fail', reason: 'x' });
    expect(closes(h3)).toEqual(['INTERNAL_ERROR']);
    expect(h3.actor.getSnapshot().value).toBe('detached');
  });

  test('SD-5 CH-1 CH-2 drift and subscriptions are passed to the adapter while attached', () => {
    const h = harness();
    attach(h);
    play(h, driftEvent);
    play(h, subscribeEvent());
    play(h, unsubscribeEvent);
    expect(h.actions.slice(-3).map((a) => a.name)).toEqual(['answerDrift', 'subscribe', 'unsubscribe']);
  });

  test('CH-4 a Subscribe from a client that announced subscribed is confirmed after it took effect; otherwise not', () => {
    const h = harness();
    attach(h);
    play(h, subscribeEvent({ isConfirmAsked: true }));
    expect(h.actions.slice(-2).map((a) => a.name)).toEqual(['subscribe', 'confirmSubscribe']);
    play(h, subscribeEvent());
    expect(h.actions.at(-1)?.name).toBe('subscribe');
    // SEC-7: a refused Subscribe closes; nothing is confirmed.
    play(h, subscribeEvent({ isOverChannelLimit: true, isConfirmAsked: true }));
    expect(h.actions.map((a) => a.name).filter((n) => n === 'confirmSubscribe')).toHaveLength(1);
  });
});
