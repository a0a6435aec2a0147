import { afterEach, describe, expect, test } from 'vitest';
import { SnapshotReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { LifelineServer } from './server.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** State channels doc and doc2 (state = version as text); anything else is stream-only. */
function stateful() {
  const versions = new Map<string, bigint>([['doc', 1n], ['doc2', 1n]]);
  return {
    snapshot: (ch: string) => {
      const v = versions.get(ch);
      return v === undefined ? undefined : { version: v, state: enc(`${ch}@${v}`), digest: 7 };
    },
    patch: (srv: LifelineServer, ch: string) => {
      const v = versions.get(ch) as bigint;
      versions.set(ch, v + 1n);
      void srv.publishPatch(ch, { baseVersion: v, version: v + 1n, delta: enc(`+${v + 1n}`) });
    },
  };
}

describe('channels', () => {
  test('CH-1 Subscribe sends a SUBSCRIBED snapshot of a state channel before any patch of it', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { receiveWindow: 1, channels: ['feed'] });
    await srv.publish('feed', { payload: enc('hold') }); // seq 1 holds the window
    await c.waitForBody('message');
    c.subscribe(['doc', 'feed2']);
    await new Promise((r) => setTimeout(r, 30));
    app.patch(srv, 'doc'); // published before the snapshot could be written
    await srv.publish('feed2', { payload: enc('stream') });
    c.ackAll();
    const snap = await c.waitForBody('snapshot');
    expect(snap).toMatchObject({ seq: 2n, channel: 'doc', version: 2n, reason: SnapshotReason.SUBSCRIBED, digest: 7 });
    expect(dec(snap.state)).toBe('doc@2'); // the patch is inside it
    c.ackAll();
    await c.waitForCount('message', 2);
    expect(c.bodies('statePatch')).toEqual([]);
    expect(c.bodies('snapshot')).toHaveLength(1); // a stream-only channel gets none
    app.patch(srv, 'doc');
    c.ackAll();
    expect(await c.waitForBody('statePatch')).toMatchObject({ channel: 'doc', baseVersion: 2n, version: 3n });
  });

  test('CH-1 subscribing to a channel already subscribed sends nothing', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { channels: ['doc'] });
    await c.waitForBody('snapshot');
    c.subscribe(['doc']);
    const id = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
    expect(c.bodies('snapshot')).toHaveLength(1);
  });

  test('CH-4 a client that announced subscribed gets one Subscribed per Subscribe, once in effect; a publish after it arrives', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { capabilities: ['subscribed'], channels: ['feed'] });
    expect(c.bodies('welcome')[0]?.capabilities).toEqual(['subscribed']);
    c.subscribe(['doc', 'live']);
    expect((await c.waitForBody('subscribed')).channels).toEqual(['doc', 'live']);
    await srv.publish('live', { payload: enc('right after') }); // ordered after the Subscribed
    expect(dec((await c.waitForBody('message', 5000, (m) => m.channel === 'live')).payload)).toBe('right after');
    expect(c.bodies('snapshot').map((x) => x.channel)).toEqual(['doc']); // CH-1 still: the state channel's Snapshot
    c.subscribe(['doc']); // already subscribed: still answered, no second Snapshot
    await c.waitForCount('subscribed', 2);
    expect(c.bodies('subscribed')[1]?.channels).toEqual(['doc']);
    const id = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
    expect(c.bodies('snapshot')).toHaveLength(1);
  });

  test('CH-4 WIRE-10 a client that did not announce subscribed gets no Subscribed and no capability in Welcome', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { channels: ['feed'] });
    expect(c.bodies('welcome')[0]?.capabilities).toEqual([]);
    c.subscribe(['live']);
    const id = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
    await srv.publish('live', { payload: enc('x') });
    await c.waitForBody('message', 5000, (m) => m.channel === 'live');
    expect(c.bodies('subscribed')).toEqual([]);
  });

  test('CH-2 after Unsubscribe nothing more of the channel is sent, queued items included', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { receiveWindow: 1, channels: ['feed', 'other'] });
    await srv.publish('feed', { payload: enc('f1') });
    await c.waitForBody('message');
    await srv.publish('feed', { payload: enc('f2-queued') });
    await srv.publish('other', { payload: enc('o1') });
    c.unsubscribe(['feed']);
    const hb = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === hb); // the Unsubscribe was processed
    await srv.publish('feed', { payload: enc('f3') });
    c.ackAll();
    await c.waitForCount('message', 2);
    c.ackAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('message').map((m) => dec(m.payload))).toEqual(['f1', 'o1']);
    expect(srv.sessions()[0]?.subscriptions.has('feed')).toBe(false);
  });

  test('SD-5 a StateDrift for a channel is answered with a DRIFT snapshot of it', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { channels: ['doc', 'doc2'] });
    await c.waitForCount('snapshot', 2);
    app.patch(srv, 'doc');
    await c.waitForBody('statePatch');
    c.drift({ channel: 'doc', expectedVersion: 1n, actualVersion: 0n });
    const s = await c.waitForBody('snapshot', 5000, (x) => x.reason === SnapshotReason.DRIFT);
    expect(s).toMatchObject({ channel: 'doc', version: 2n, seq: 4n });
  });

  test('SD-5 SD-4 SD-11 a session-wide StateDrift gets the session re-baseline first, then every channel', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { channels: ['doc', 'doc2', 'feed'] });
    await c.waitForCount('snapshot', 2);
    c.drift({ channel: '' });
    await c.waitForCount('snapshot', 5);
    const drift = c.bodies('snapshot').slice(2);
    expect(drift.map((s) => [s.channel, s.seq, s.reason])).toEqual([
      ['', 3n, SnapshotReason.DRIFT],
      ['doc', 4n, SnapshotReason.DRIFT],
      ['doc2', 5n, SnapshotReason.DRIFT],
    ]);
    expect(drift[0]?.state).toHaveLength(0);
  });

  test('SD-5 SD-1 a drift on a subscribed channel without state is answered at version 0, empty; an unsubscribed one gets nothing', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { channels: ['doc', 'feed'] });
    await c.waitForCount('snapshot', 1);
    c.drift({ channel: 'elsewhere' });
    c.drift({ channel: 'feed' });
    await c.waitForCount('snapshot', 2);
    const s = c.bodies('snapshot')[1];
    expect([s?.channel, s?.version, s?.state.length, s?.reason]).toEqual(['feed', 0n, 0, SnapshotReason.DRIFT]);
    const hb = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === hb);
    expect(c.bodies('snapshot').map((x) => x.channel)).toEqual(['doc', 'feed']);
  });

  test('SD-8 drifts reported while a snapshot is pending are coalesced into it', async () => {
    const app = stateful();
    const srv = await h.server({ snapshot: app.snapshot });
    const c = await h.session(srv, { receiveWindow: 1, channels: ['doc'] });
    await c.waitForBody('snapshot'); // holds the window
    c.drift({ channel: 'doc' });
    c.drift({ channel: 'doc' });
    c.drift({ channel: 'doc' });
    const hb = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === hb);
    expect(srv.sessions()[0]?.stats().pendingSnapshots).toBe(1);
    c.ackAll();
    await c.waitForCount('snapshot', 2);
    c.ackAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('snapshot')).toHaveLength(2);
  });

  test('SEC-6 a channel the principal may not use closes FORBIDDEN 4001, in Hello or in Subscribe', async () => {
    const srv = await h.server({ authorizeChannel: (ch) => !ch.startsWith('admin/') });
    const bystander = await h.session(srv, { channels: ['public'] });
    const a = await h.client(srv);
    a.hello({ channels: ['public', 'admin/keys'] });
    expect((await a.waitForClose()).code).toBe(codeOf('FORBIDDEN'));
    expect(a.bodies('welcome')).toHaveLength(0);
    const b = await h.session(srv, { channels: ['public'] });
    b.subscribe(['admin/users']);
    expect((await b.waitForClose()).code).toBe(codeOf('FORBIDDEN'));
    const hb = bystander.heartbeat();
    await bystander.waitForBody('heartbeatAck', 5000, (x) => x.id === hb);
  });

  test('SEC-7 more channels than the per-session bound closes POLICY_VIOLATION 1008', async () => {
    const srv = await h.server({ maxChannelsPerSession: 3 });
    const c = await h.session(srv, { channels: ['a', 'b'] });
    c.subscribe(['b', 'c']); // 3 distinct: fine
    const hb = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (x) => x.id === hb);
    c.subscribe(['d']);
    expect((await c.waitForClose()).code).toBe(codeOf('POLICY_VIOLATION'));
  });
});
