import { afterEach, describe, expect, test } from 'vitest';
import { SnapshotReason } from '../gen/lifeline/v1/envelope_pb.js';
import { Harness } from '../test/support/server.js';
import { stateDigest } from '../spec/protocol/digest.js';
import { createDemoApp, type DemoApp } from './app.js';
import {
  COUNTER_CHANNEL,
  TICKER_CHANNEL,
  applyDemoPatch,
  decodeDemoState,
  encodeDemoState,
  incrementPayload,
  type DemoState,
} from './demo-state.js';

const h = new Harness();
let app: DemoApp | undefined;
afterEach(async () => {
  app?.stop();
  await h.cleanup();
});

describe('demo application', () => {
  test('CH-1 SD-1 SD-3 a client gets both snapshots, live ticker patches, and its increments, all digest-checked', async () => {
    app = createDemoApp({ tickMs: 20 });
    const srv = await h.server({ ...app.hooks });
    app.start(srv);
    const c = await h.session(srv, { channels: [COUNTER_CHANNEL, TICKER_CHANNEL] });
    await c.waitForCount('snapshot', 2);
    const state = new Map<string, { v: bigint; s: DemoState }>();
    for (const snap of c.bodies('snapshot')) {
      expect(snap.reason).toBe(SnapshotReason.SUBSCRIBED);
      expect(snap.digest).toBe(stateDigest(snap.state));
      state.set(snap.channel, { v: snap.version, s: decodeDemoState(snap.channel, snap.state) });
    }
    expect(state.get(COUNTER_CHANNEL)?.s).toEqual({ value: 0 });
    c.message({ channel: COUNTER_CHANNEL, payload: incrementPayload() });
    c.message({ channel: COUNTER_CHANNEL, payload: incrementPayload() });
    await c.waitForCount('statePatch', 10);
    await c.waitFor((f) => f.body.case === 'statePatch' && f.body.value.channel === COUNTER_CHANNEL && f.body.value.version === 3n);
    for (const p of c.bodies('statePatch')) {
      const cur = state.get(p.channel);
      if (!cur) throw new Error('patch before snapshot');
      expect(p.baseVersion).toBe(cur.v); // SD-1
      const next = applyDemoPatch(p.channel, cur.s, p.delta);
      expect(stateDigest(encodeDemoState(p.channel, next))).toBe(p.digest); // SD-3
      state.set(p.channel, { v: p.version, s: next });
    }
    expect(state.get(COUNTER_CHANNEL)?.s).toEqual({ value: 2 });
    expect(app.counter).toEqual({ value: 2 });
  });
});
