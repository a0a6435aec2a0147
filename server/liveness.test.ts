import { afterEach, describe, expect, test, vi } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { RawClient } from '../testkit/raw-client.js';
import type { Connection } from './connection.js';
import { SweptConnections } from './liveness.js';
import { LivenessSweep } from './sweep.js';
import { Harness } from '../test/support/server.js';
import { clockAt } from '../test/support/clock.js';
import { SimulatedClock } from 'xstate';
import { advanceClock } from '../spec/machines/simulated-time.js';

const h = new Harness();
afterEach(() => h.cleanup());

const I = 100; // heartbeat interval for these tests, ms
const M = 2; // missed max

/** Keep a client's application heartbeat going every `ms` until stopped. */
function beat(c: RawClient, ms: number): () => void {
  const t = setInterval(() => {
    if (c.isOpen) c.heartbeat(BigInt(Math.round(performance.now())), 7);
  }, ms);
  return () => clearInterval(t);
}

describe('liveness', () => {
  test('HB-1 the server pings every connected socket once per interval', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: M });
    const a = await h.session(srv);
    const b = await h.session(srv);
    const stopA = beat(a, I / 2);
    const stopB = beat(b, I / 2);
    await vi.waitFor(() => expect(Math.min(a.pings, b.pings)).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    stopA();
    stopB();
  });

  test('HB-1 HB-2 with a fixed interval the sweep pings and counts without an event per tick to the session machine', async () => {
    const events: string[] = [];
    const srv = await h.server({
      heartbeatIntervalMs: I,
      heartbeatMissedMax: M,
      inspect: (ev) => {
        if (ev.type === '@xstate.event') events.push(ev.event.type);
      },
    });
    const a = await h.session(srv);
    const stop = beat(a, I / 2);
    await vi.waitFor(() => expect(a.pings).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    stop();
    expect(a.isOpen).toBe(true);
    expect(events).toContain('frame.heartbeat'); // the probe sees the actor's events
    expect(events.filter((t) => t === 'sweep.tick' || t === 'liveness.expired')).toEqual([]);
  });

  test('HB-2 HB-3 a zombie that answers nothing is terminated within interval × (missed + 1) plus one interval', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: M });
    const bystander = await h.session(srv);
    const stop = beat(bystander, I / 2);
    const zombie = await h.client(srv, { autoPong: false });
    await zombie.handshake();
    const t0 = performance.now();
    const info = await zombie.waitForClose(10_000);
    const elapsed = performance.now() - t0;
    // The server closes on the sweep tick that finds the count above missed_max: after (M+1)·I of
    // silence, at most one interval later (HB-3). Slack for a loaded machine on the upper side only.
    expect(elapsed).toBeGreaterThanOrEqual((M + 1) * I - 20);
    expect(elapsed).toBeLessThanOrEqual((M + 2) * I + 1500);
    expect([codeOf('HEARTBEAT_TIMEOUT'), codeOf('ABNORMAL')]).toContain(info.code);
    expect(zombie.pings).toBeGreaterThanOrEqual(M + 1); // HB-2: a ping per tick until the count exceeds M
    expect(bystander.isOpen).toBe(true);
    stop();
  });

  test('HB-3 a half-open peer (TCP paused, nothing read or answered) is destroyed without waiting for a close handshake', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: M });
    const zombie = await h.client(srv, { autoPong: false });
    await zombie.handshake();
    zombie.pause(); // reads nothing: a close frame would never be answered
    await vi.waitFor(() => expect(srv.stats().connections).toBe(0), { timeout: 5000 });
    expect(srv.stats().sessions).toBe(1); // RS-1: 4200 keeps the session for resume
    expect(srv.sessions()[0]?.state).toBe('detached');
  });

  test('HB-8 HB-2 a live client is never dropped: heartbeats and pongs keep it over many intervals', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I / 2, heartbeatMissedMax: 1 });
    const c = await h.session(srv);
    const stop = beat(c, I / 4);
    await vi.waitFor(() => expect(c.pings).toBeGreaterThanOrEqual(12), { timeout: 10_000 });
    expect(c.isOpen).toBe(true);
    stop();
  });

  test('HB-8 frames alone are proof of life: a client that never pongs but keeps sending stays', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I / 2, heartbeatMissedMax: 1 });
    const c = await h.session(srv, {}, { autoPong: false });
    const stop = beat(c, I / 5);
    await vi.waitFor(() => expect(c.pings).toBeGreaterThanOrEqual(10), { timeout: 10_000 });
    expect(c.isOpen).toBe(true);
    stop();
  });

  test('HB-7 a client that answers pings but sends no Heartbeat is closed 4200', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: M });
    const wedged = await h.session(srv); // autoPong on: the transport is fine, the application is not
    const t0 = performance.now();
    const info = await wedged.waitForClose(10_000);
    expect(info.code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual((M + 1) * I - 20);
  });

  test('HB-6 BP-12 a Heartbeat is answered with its id and sent_at at once, even behind a full window', async () => {
    const srv = await h.server({ snapshot: () => undefined });
    const c = await h.session(srv, { receiveWindow: 1, channels: ['feed'] });
    for (let i = 0; i < 50; i++) await srv.publish('feed', { payload: new Uint8Array([i]) });
    await c.waitForBody('message');
    const id = c.heartbeat(123_456n, 42);
    const ack = await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
    expect(ack.echoSentAtMs).toBe(123_456n);
    expect(c.bodies('message')).toHaveLength(1); // the window (1) still holds the rest back
    expect(srv.sessions()[0]?.stats().clientRttMs).toBe(42); // HB-9: the client's reported RTT
  });

  test('HB-2 RTT is measured per session from ping to pong, and the sweep reports its tick lag', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I / 2, heartbeatMissedMax: 4 });
    const c = await h.session(srv);
    const stop = beat(c, I / 4);
    await vi.waitFor(() => expect(srv.sessions()[0]?.stats().rttMs).toBeDefined(), { timeout: 5000 });
    expect(srv.sessions()[0]?.stats().rttMs).toBeGreaterThanOrEqual(0);
    const ticks = srv.stats().sweep.ticks;
    const until = performance.now() + 3 * (I / 2);
    while (performance.now() < until) {
      // wedge the event loop for three intervals
    }
    await vi.waitFor(() => expect(srv.stats().sweep.ticks).toBeGreaterThan(ticks), { timeout: 5000 });
    expect(srv.stats().sweep.maxLagMs).toBeGreaterThanOrEqual(I / 2);
    stop();
  });
});

describe('adaptive heartbeat (HB-11)', () => {
  // Ceiling 3 base intervals, growth after 2 stable beats; RTT noise of a loaded test machine ignored.
  const adaptive = { heartbeatIntervalMs: I, heartbeatIntervalMaxMs: 3 * I, heartbeatStableBeats: 2, heartbeatRttToleranceMs: 1000, heartbeatMissedMax: M };

  /** A client that beats at the interval in force, as the last HeartbeatAck.interval_ms announced it. */
  function beatAdaptively(c: RawClient): { stop(): void; intervalMs(): number; hold(isHeld: boolean): void } {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let isHeld = false;
    const intervalMs = () => {
      const announced = c.bodies('heartbeatAck').filter((a) => a.intervalMs > 0);
      return announced.at(-1)?.intervalMs ?? I;
    };
    const tick = () => {
      if (!c.isOpen) return;
      if (!isHeld) c.heartbeat(BigInt(Math.round(performance.now())), 1);
      timer = setTimeout(tick, intervalMs());
    };
    tick();
    return {
      stop: () => clearTimeout(timer),
      intervalMs,
      hold: (held) => {
        // Released: beat at once, as a client whose path came back would; the silence stays short.
        if (isHeld && !held && c.isOpen) c.heartbeat(BigInt(Math.round(performance.now())), 1);
        isHeld = held;
      },
    };
  }

  test('HB-11 the interval grows while heartbeats are on time, announced in HeartbeatAck.interval_ms, up to the ceiling of Welcome', async () => {
    const srv = await h.server(adaptive);
    const c = await h.session(srv);
    expect(c.bodies('welcome')[0]?.heartbeatIntervalMaxMs).toBe(3 * I);
    const beat = beatAdaptively(c);
    await c.waitForBody('heartbeatAck', 10_000, (a) => a.intervalMs === 2 * I);
    await c.waitForBody('heartbeatAck', 10_000, (a) => a.intervalMs === 3 * I);
    expect(c.bodies('heartbeatAck').every((a) => a.intervalMs <= 3 * I)).toBe(true);
    expect(c.isOpen).toBe(true);
    beat.stop();
  });

  test('HB-11 off by default: every HeartbeatAck says unchanged and Welcome states the base as the ceiling', async () => {
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: M });
    const c = await h.session(srv);
    expect(c.bodies('welcome')[0]?.heartbeatIntervalMaxMs).toBe(I);
    const stop = beat(c, I / 2);
    await c.waitForCount('heartbeatAck', 12, 10_000);
    expect(c.bodies('heartbeatAck').map((a) => a.intervalMs)).toEqual(new Array(c.bodies('heartbeatAck').length).fill(0));
    stop();
  });

  test('HB-11 HB-3 a silent peer under an adapted interval is dropped within interval_in_force × (missed + 1) + one base interval', async () => {
    const srv = await h.server(adaptive);
    const closed = new Promise<{ code: number; at: number }>((resolve) => srv.on('sessionClosed', (_s, info) => resolve({ code: info.code, at: performance.now() })));
    const c = await h.session(srv);
    const beat = beatAdaptively(c);
    await c.waitForBody('heartbeatAck', 10_000, (a) => a.intervalMs === 3 * I);
    beat.stop();
    c.pause(); // from now on: no pong, no frame
    const silentFrom = performance.now();
    const { code, at } = await closed;
    expect(code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    // Slack on the upper side only, for a loaded machine.
    expect(at - silentFrom).toBeLessThanOrEqual(3 * I * (M + 1) + I + 1500);
  });

  test('HB-11 a missed ping resets the interval to the base, and the next HeartbeatAck announces it', async () => {
    // missed_max 4: the held heartbeats must not reach HB-7's silence bound on a loaded machine.
    const srv = await h.server({ ...adaptive, heartbeatMissedMax: 4 });
    const c = await h.session(srv, {}, { autoPong: false });
    let isSkipWanted = false;
    let isSkipping = false;
    let acksAtFirstSkip: number | undefined;
    const beat = beatAdaptively(c);
    c.ws.on('ping', (data) => {
      if (isSkipping) {
        // The ping after a skipped one: answer it and beat again.
        isSkipping = false;
        beat.hold(false);
        c.ws.pong(data);
      } else if (isSkipWanted && beat.intervalMs() > I) {
        // A ping goes unanswered while the interval is adapted. Heartbeats are held too until the
        // next ping: any frame is proof of life (HB-8) and cancels the miss. A Heartbeat already in
        // flight can still cancel it; then the interval stays adapted and the next ping is skipped.
        acksAtFirstSkip ??= c.bodies('heartbeatAck').length;
        isSkipping = true;
        beat.hold(true);
      } else c.ws.pong(data);
    });
    await c.waitForBody('heartbeatAck', 10_000, (a) => a.intervalMs === 2 * I);
    isSkipWanted = true;
    const trace = () => `acks since the first skip: ${c.bodies('heartbeatAck').slice(acksAtFirstSkip).map((a) => a.intervalMs).join(',')}; open ${c.isOpen}`;
    await vi.waitFor(() => expect(acksAtFirstSkip, 'a ping skipped while adapted').toBeDefined(), { timeout: 10_000 });
    await vi.waitFor(() => expect(c.bodies('heartbeatAck').slice(acksAtFirstSkip).some((a) => a.intervalMs === I), trace()).toBe(true), { timeout: 10_000 });
    expect(c.isOpen).toBe(true); // a reset, not a drop
    beat.stop();
  });
});

describe('liveness sweep', () => {
  test('HB-1 with slices each member is still visited exactly once per interval', () => {
    const visits = new Map<number, number>();
    let now = 0;
    const sweep = new LivenessSweep<number>({
      intervalMs: 100,
      slices: 4,
      clock: clockAt(() => now),
      visit: (m) => visits.set(m, (visits.get(m) ?? 0) + 1),
    });
    for (let i = 0; i < 10; i++) sweep.add(i);
    for (let t = 0; t < 4; t++) {
      now += 25;
      sweep.tick();
    }
    expect([...visits.values()]).toEqual(new Array(10).fill(1));
    sweep.delete(3);
    for (let t = 0; t < 4; t++) {
      now += 25;
      sweep.tick();
    }
    expect(visits.get(3)).toBe(1);
    expect(visits.get(4)).toBe(2);
    expect(sweep.stats().lagMs).toBe(0);
    now += 125; // one tick 100 ms late
    sweep.tick();
    expect(sweep.stats().lagMs).toBe(100);
  });

  test('HB-1 the sweep fires on the server\'s Clock (issue 12): a simulated clock drives it, and stop() cancels it', () => {
    const clock = new SimulatedClock();
    const visits: number[] = [];
    const sweep = new LivenessSweep<number>({ intervalMs: 100, slices: 2, clock, visit: (m) => visits.push(m) });
    sweep.add(1);
    sweep.start();
    advanceClock(clock, 49);
    expect(sweep.stats().ticks).toBe(0);
    advanceClock(clock, 1);
    expect(sweep.stats().ticks).toBe(1);
    advanceClock(clock, 150);
    expect(sweep.stats()).toMatchObject({ ticks: 4, lagMs: 0 });
    expect(visits).toEqual([1, 1]); // once per interval
    sweep.stop();
    advanceClock(clock, 1000);
    expect(sweep.stats().ticks).toBe(4);
  });

  test('HB-1 the server\'s sweep visits the marked open connections only, as its own Set did (issue 16: no second Set)', async () => {
    const srv = await h.server({ heartbeatIntervalMs: 60_000 });
    const a = await h.session(srv);
    const handshaking = await h.client(srv); // open, no Hello yet: not swept
    await h.session(srv);
    const reg = (srv as unknown as { registry: { conns: Set<Connection>; sweep: LivenessSweep<Connection> } }).registry;
    expect(reg.conns.size).toBe(3);
    expect(srv.stats().sweep.members).toBe(2);
    const visited: Connection[] = [];
    const sweep = new LivenessSweep<Connection>({ members: new SweptConnections(reg.conns), intervalMs: 100, slices: 1, clock: clockAt(() => 0), visit: (c) => visited.push(c) });
    const [first, second] = [...reg.conns].filter((c) => c.isSwept) as [Connection, Connection];
    for (const c of [first, second, first]) sweep.add(c); // a second add changes nothing
    sweep.tick();
    expect(visited).toEqual([first, second]);
    a.destroy(); // its socket closes: unmarked, out of the open set
    await vi.waitFor(() => expect(srv.stats().sweep.members).toBe(1));
    expect(srv.stats().connections).toBe(2);
    expect(handshaking.isOpen).toBe(true);
  });
});
