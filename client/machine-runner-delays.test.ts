/**
 * The runner's list of pending delays (machine-runner.ts `schedule`, built as exact-size arrays,
 * issue 16): every delay it arms is one it can cancel. Connected, a client has two pending (HB-5's
 * interval, HB-4's dead-peer delay); a close must clear both, and nothing may fire after it.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, test } from 'vitest';
import { clientConnectionMachine, type ClientConnectionEvent } from '../spec/machines/client-connection.machine.js';
import { ClientMachineRunner } from './machine-runner.js';

/** SimulatedClock's pending timeouts (a public field of the class, not in its typings). */
const pending = (c: SimulatedClock) => (c as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;

describe('ClientMachineRunner delays', () => {
  test('HS-10 HB-4 HB-5: the delays armed on the way to connected are all cleared by a close', async () => {
    const clock = new SimulatedClock();
    const steps: unknown[] = [];
    const runner = new ClientMachineRunner(
      clientConnectionMachine,
      { random: () => 0.5, silenceMs: () => 0, handshakeTimeoutMs: 300, heartbeatIntervalMs: 60 },
      clock,
      { onMachineAction: () => {}, fetchToken: async () => 'tok', onMachineStep: (v) => steps.push(v), onMachineError: (e) => steps.push(['error', e]) },
    );
    runner.send({ type: 'app.connect' });
    expect(pending(clock)).toBe(1); // the handshake deadline
    for (let i = 0; i < 5; i++) await Promise.resolve(); // the token
    runner.send({ type: 'socket.opened' });
    runner.send({ type: 'frame.welcome', sessionId: 's1', heartbeatIntervalMs: 50, heartbeatMissedMax: 2 } as ClientConnectionEvent);
    expect(runner.getSnapshot().value).toMatchObject({ connected: {} });
    expect(pending(clock)).toBe(2); // heartbeat interval and dead-peer delay; the deadline is cancelled
    runner.send({ type: 'app.close' });
    runner.send({ type: 'socket.closed', code: 1000, reason: '' });
    expect(pending(clock)).toBe(0);
    const before = steps.length;
    clock.increment(10_000);
    expect(steps.length).toBe(before);
  });
});
