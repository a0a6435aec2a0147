import { createActor } from 'xstate';
import { describe, expect, test } from 'vitest';
import { serverSessionMachine, type ServerSessionInput } from '../spec/machines/server-session.machine.js';
import { isAttached } from './ingress.js';

const input: ServerSessionInput = { handshakeTimeoutMs: 50, resumeTtlMs: 500, replayWindowMs: 200, heartbeatMissedMax: 1 };

describe('hot-path state check (issue 7)', () => {
  test('HB-8 isAttached agrees with snapshot.matches("attached") in every state of the session machine', () => {
    const context = createActor(serverSessionMachine, { input }).getSnapshot().context;
    let attached = 0;
    for (const key of Object.keys(serverSessionMachine.root.states)) {
      const snap = serverSessionMachine.resolveState({ value: key, context });
      expect(isAttached(snap.value), key).toBe(snap.matches('attached'));
      if (snap.matches('attached')) attached++;
    }
    expect(attached).toBe(1); // the check was exercised both ways
    expect(isAttached(undefined)).toBe(false);
  });
});
