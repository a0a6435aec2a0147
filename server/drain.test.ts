import { afterEach, describe, expect, test, vi } from 'vitest';
import { DrainReason, ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { DRAIN_SLICE_MS } from '../spec/protocol/drain-spread.js';
import { tryConnect, type RawClient } from '../testkit/raw-client.js';
import type { LiveSession } from './session.js';
import { MemoryBroker } from './stores/broker.js';
import { MemorySessionStore } from './stores/memory-session-store.js';
import type { EndReason } from './stores/session-store.js';
import { Harness, httpUrl } from '../test/support/server.js';
import { clockAt } from '../test/support/clock.js';

const h = new Harness();
afterEach(() => h.cleanup());

const enc = (s: string) => new TextEncoder().encode(s);

describe('drain', () => {
  test('DR-1 HS-6 readiness goes off first, then upgrades get 503 with Retry-After', async () => {
    const srv = await h.server({ retryAfterSeconds: 2 });
    const c = await h.session(srv);
    let readyAtNotice = 0;
    c.ws.once('message', () => {
      // the first frame after Welcome is the notice; readiness is already off
      void fetch(httpUrl(srv, '/readyz')).then((r) => (readyAtNotice = r.status));
    });
    const drained = srv.drain({ deadlineMs: 400, spreadMs: 100 });
    expect(srv.stats()).toMatchObject({ isReady: false, isDraining: true });
    expect((await fetch(httpUrl(srv, '/readyz'))).status).toBe(503);
    expect((await fetch(httpUrl(srv, '/healthz'))).status).toBe(200);
    const r = await tryConnect(srv.url());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.refusal.status).toBe(503);
      expect(r.refusal.headers['retry-after']).toBe('2');
    }
    await c.waitForBody('drainNotice');
    await vi.waitFor(() => expect(readyAtNotice).toBe(503));
    await drained;
  });

  test('DR-1 HS-6 endDrain() after the drain resolves reopens the node: ready again, upgrades accepted, a new drain possible', async () => {
    const srv = await h.server();
    const c = await h.session(srv);
    const drained = srv.drain({ deadlineMs: 300, spreadMs: 50 });
    const reopened = srv.endDrain(); // called early: waits for the drain, never reopens mid-drain
    await c.waitForBody('drainNotice');
    expect(srv.stats()).toMatchObject({ isReady: false, isDraining: true });
    await drained;
    await reopened;
    expect(srv.stats()).toMatchObject({ isReady: true, isDraining: false });
    expect((await fetch(httpUrl(srv, '/readyz'))).status).toBe(200);
    const again = await h.session(srv); // HS-6: accepted again
    const second = srv.drain({ deadlineMs: 200, spreadMs: 50 });
    await again.waitForBody('drainNotice'); // a new drain, not the settled one
    await second;
  });

  test('DR-2 DR-4 every session gets a DrainNotice, is served until its deadline, then closed 1012', async () => {
    const srv = await h.server();
    const a = await h.session(srv, { channels: ['feed'] });
    const b = await h.session(srv, { channels: ['feed'] });
    const t0 = performance.now();
    const drained = srv.drain({ deadlineMs: 600, spreadMs: 200, reason: DrainReason.SHUTDOWN });
    const na = await a.waitForBody('drainNotice');
    await b.waitForBody('drainNotice');
    expect(na.reason).toBe(DrainReason.SHUTDOWN);
    expect(na.deadlineMs).toBeGreaterThan(0);
    expect(na.deadlineMs).toBeLessThanOrEqual(600);
    await srv.publish('feed', { payload: enc('still served') }); // DR-4: flushed while draining
    await a.waitForBody('message');
    for (const c of [a, b]) {
      const info = await c.waitForClose(5000);
      expect(info.code).toBe(codeOf('SERVICE_RESTART'));
      const iNotice = c.frames.findIndex((f) => f.body.case === 'drainNotice');
      expect(iNotice).toBeGreaterThan(0); // the notice came before the close
    }
    expect(performance.now() - t0).toBeGreaterThanOrEqual(na.deadlineMs - 20);
    await drained;
    expect(srv.stats().connections).toBe(0);
  });

  test('DR-6 DR-4 DR-5 a rebalance drain names its target in every DrainNotice and closes 4300 instead of 1012', async () => {
    const srv = await h.server();
    const target = 'wss://node-b.example/lifeline';
    const a = await h.session(srv);
    const b = await h.session(srv, {}, {});
    b.pause(); // reads nothing: still open at the drain deadline, destroyed then (DR-5)
    const drained = srv.drain({ deadlineMs: 500, spreadMs: 100, target });
    const n = await a.waitForBody('drainNotice');
    expect(n).toMatchObject({ target, reason: DrainReason.REBALANCE });
    expect((await a.waitForClose(5000)).code).toBe(codeOf('RECONNECT_ELSEWHERE'));
    await drained;
    expect(srv.stats().connections).toBe(0);
    // RS-1: 4300 keeps the sessions for a resume (on this node or, with a shared store, the target).
    expect(srv.sessions().map((s) => s.state)).toEqual(['detached', 'detached']);
  });

  test('DR-6 a drain target longer than the codec allows is refused before anything changes', async () => {
    const srv = await h.server();
    await expect(srv.drain({ target: `wss://x.example/${'a'.repeat(2048)}` })).rejects.toThrow(RangeError);
    expect(srv.stats()).toMatchObject({ isReady: true, isDraining: false });
  });

  test('DR-3 the reconnect slots of one drain are spread: each client its own slice of the window', async () => {
    const n = 20;
    const spreadMs = 2000;
    // Notices carry slot − time since the drain began (spec §13.2); a clock frozen for the drain
    // makes that time 0, so the values are the slots themselves whatever the machine's load.
    let frozenAt: number | undefined;
    const srv = await h.server({ clock: clockAt(() => frozenAt ?? performance.now()) });
    const clients: RawClient[] = [];
    for (let i = 0; i < n; i++) clients.push(await h.session(srv));
    frozenAt = performance.now();
    const drained = srv.drain({ deadlineMs: 800, spreadMs });
    const slots = await Promise.all(clients.map(async (c) => (await c.waitForBody('drainNotice')).reconnectAfterMs));
    const perSlice = new Map<number, number>();
    for (const s of slots) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(spreadMs);
      perSlice.set(Math.floor(s / DRAIN_SLICE_MS), (perSlice.get(Math.floor(s / DRAIN_SLICE_MS)) ?? 0) + 1);
    }
    // Even share e = 20 × 100 / 2000 = 1: no slice may hold more than one client.
    expect(Math.max(...perSlice.values())).toBe(1);
    expect(Math.max(...slots) - Math.min(...slots)).toBeGreaterThan(spreadMs / 2);
    await drained;
  });

  test('DR-5 at the drain deadline every connection still open is destroyed, and drain() resolves', async () => {
    const srv = await h.server({ heartbeatIntervalMs: 60_000 });
    const stuck = await h.session(srv);
    stuck.pause(); // never reads the close frame, so the close handshake never completes
    const t0 = performance.now();
    await srv.drain({ deadlineMs: 300, spreadMs: 100 });
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(3000);
    expect(srv.stats().connections).toBe(0);
  });

  test('DR-2 a client that leaves at its slot ends the drain early; its session stays resumable', async () => {
    const srv = await h.server();
    const c = await h.session(srv);
    const id = c.bodies('welcome')[0]?.sessionId as string;
    const drained = srv.drain({ deadlineMs: 10_000, spreadMs: 100 });
    await c.waitForBody('drainNotice');
    c.close(codeOf('GOING_AWAY'));
    const t0 = performance.now();
    await drained;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(srv.session(id)?.state).toBe('detached');
  });
});

describe('revoke and credentials', () => {
  test('SEC-6 revoke closes every session of the principal with 4102 at once and forgets them; others stay', async () => {
    const srv = await h.server({ authenticate: (req) => req.headers['x-user'] as string | undefined });
    const a1 = await h.session(srv, {}, { headers: { 'x-user': 'alice' } });
    const a2 = await h.session(srv, {}, { headers: { 'x-user': 'alice' } });
    const detachedAlice = await h.session(srv, {}, { headers: { 'x-user': 'alice' } });
    const detachedId = detachedAlice.bodies('welcome')[0]?.sessionId as string;
    detachedAlice.destroy();
    await vi.waitFor(() => expect(srv.session(detachedId)?.state).toBe('detached'));
    const bob = await h.session(srv, {}, { headers: { 'x-user': 'bob' } });
    expect(srv.revoke('alice')).toBe(3);
    expect((await a1.waitForClose()).code).toBe(codeOf('REVOKED'));
    expect((await a2.waitForClose()).code).toBe(codeOf('REVOKED'));
    expect(srv.sessions().map((s) => s.principal)).toEqual(['bob']);
    const again = await h.client(srv, { headers: { 'x-user': 'alice' } });
    const w = await again.handshake({ sessionId: detachedId });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.UNKNOWN_SESSION });
    const id = bob.heartbeat();
    await bob.waitForBody('heartbeatAck', 5000, (x) => x.id === id);
  });

  test('SEC-5 an expired credential closes 4100 and keeps the session for a resume with a fresh token', async () => {
    const srv = await h.server({ authenticate: (req) => req.headers['x-user'] as string | undefined });
    const c = await h.session(srv, {}, { headers: { 'x-user': 'carol' } });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    expect(srv.expireCredential('carol')).toBe(1);
    expect((await c.waitForClose()).code).toBe(codeOf('TOKEN_EXPIRED'));
    const again = await h.client(srv, { headers: { 'x-user': 'carol' } });
    const w = await again.handshake({ sessionId: id });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
  });
});

describe('teardown', () => {
  test('CC-6 ending a session leaves every channel first, then the store, then closes 1000; nothing fans out to it', async () => {
    const order: string[] = [];
    class RecordingBroker extends MemoryBroker {
      override leave(channel: string): void {
        order.push('leave channels'); // the node's last subscriber of the channel left
        super.leave(channel);
      }
    }
    class RecordingStore extends MemorySessionStore {
      override end(id: string, reason: EndReason, fence?: number): Promise<void> {
        order.push('delete session');
        return super.end(id, reason, fence);
      }
    }
    const srv = await h.server({ broker: new RecordingBroker(), sessionStore: new RecordingStore() });
    srv.on('sessionClosed', (_s, info) => order.push(`close ${info.code}`));
    const c = await h.session(srv, { channels: ['feed'] });
    srv.sessions()[0]?.end();
    expect(await srv.publish('feed', { payload: enc('too late') })).toBe(0);
    expect(order).toEqual(['leave channels', 'delete session', 'close 1000']);
    expect((await c.waitForClose()).code).toBe(codeOf('NORMAL'));
    expect(c.bodies('message')).toHaveLength(0);
    expect(srv.stats().sessions).toBe(0);
  });

  test('CC-6 CC-5 a failure during teardown closes 1011 instead, and the server goes on', async () => {
    class FailingBroker extends MemoryBroker {
      override leave(): void {
        throw new Error('broker unreachable');
      }
    }
    const srv = await h.server({ broker: new FailingBroker() });
    const c = await h.session(srv, { channels: ['feed'] }); // its channel's leave is the failing step
    const other = await h.session(srv);
    srv.sessions().find((s) => s.id === c.bodies('welcome')[0]?.sessionId)?.end();
    expect((await c.waitForClose()).code).toBe(codeOf('INTERNAL_ERROR'));
    const id = other.heartbeat();
    await other.waitForBody('heartbeatAck', 5000, (x) => x.id === id);
  });

  test('CC-7 closing the server without a drain closes sockets with 1001', async () => {
    const srv = await h.server();
    const c = await h.session(srv);
    await srv.close();
    expect([codeOf('GOING_AWAY'), codeOf('ABNORMAL')]).toContain((await c.waitForClose()).code);
  });
});
