import { afterEach, describe, expect, test, vi } from 'vitest';
import { Harness } from '../test/support/server.js';
import { sessionBehind, sessionHandle } from './session-handle.js';
import type { LifelineSession } from './types.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Every name a handle answers to, own or inherited, short of Object.prototype. */
function reachableNames(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const k of Reflect.ownKeys(p)) if (typeof k === 'string' && k !== 'constructor') names.add(k);
  }
  return [...names].sort();
}

const API = ['end', 'id', 'principal', 'send', 'state', 'stats', 'subscriptions'];

describe('session handle (issue 12)', () => {
  test('the application gets the LifelineSession API and nothing else: no queue, log, socket or machine', async () => {
    const srv = await h.server();
    const opened: LifelineSession[] = [];
    srv.on('sessionOpened', (s) => opened.push(s));
    const c = await h.session(srv, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    const handle = srv.session(id)!;
    expect(Object.keys(handle)).toEqual([]);
    expect(reachableNames(handle)).toEqual(API);
    for (const inner of ['queue', 'log', 'conn', 'actor', 'inbound', 'env', 'policy', 'pendingAttach']) expect(inner in handle).toBe(false);
    expect(JSON.parse(JSON.stringify(handle))).toEqual({});
    // One handle per session: events, sessions() and session(id) give the same object.
    expect(opened).toHaveLength(1);
    expect(opened[0]).toBe(handle);
    expect(srv.sessions()[0]).toBe(handle);
    expect(srv.session(id)).toBe(handle);
  });

  test('CH-1 the handle reads and acts on the live session: subscriptions stay current and cannot be changed through it', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { channels: ['feed'] });
    const handle = srv.sessions()[0]!;
    expect(handle.principal).toBe('anonymous');
    expect(handle.state).toBe('active');
    const subs = handle.subscriptions;
    expect([...subs]).toEqual(['feed']);
    expect(subs.has('feed')).toBe(true);
    expect(subs.size).toBe(1);
    expect('add' in subs || 'delete' in subs || 'clear' in subs).toBe(false);
    c.subscribe(['news']);
    await vi.waitFor(() => expect(subs.has('news')).toBe(true));
    expect(handle.subscriptions).toBe(subs);
    handle.send({ payload: new Uint8Array([7]) });
    await c.waitForCount('message', 1);
    expect(handle.stats().lastSentSeq).toBe(1n);
    handle.end();
    expect((await c.waitForClose()).code).toBe(1000); // CC-6
    await vi.waitFor(() => expect(srv.session(handle.id)).toBeUndefined());
  });

  test('SEQ-10 CH-1 onMessage and snapshot are given the same handle, not the server\'s session', async () => {
    const views: object[] = [];
    const srv = await h.server({
      onMessage: (_m, s) => void views.push(s),
      snapshot: (_channel, s) => {
        views.push(s);
        return { version: 1n, state: new Uint8Array([1]) };
      },
    });
    const c = await h.session(srv, { channels: ['state'] });
    c.message({ payload: new Uint8Array([1]) });
    await vi.waitFor(() => expect(views).toHaveLength(2));
    const handle = srv.sessions()[0]!;
    expect(views.every((v) => v === handle)).toBe(true);
    expect('queue' in handle).toBe(false);
  });

  test('sessionBehind finds the server\'s session for package code only; anything else gives undefined', () => {
    const inner: LifelineSession = {
      id: 'x',
      principal: 'p',
      subscriptions: new Set(['a']),
      state: 'active',
      send: () => undefined,
      end: () => undefined,
      stats: () => ({}) as ReturnType<LifelineSession['stats']>,
    };
    const handle = sessionHandle(inner);
    expect(sessionBehind(handle)).toBe(inner);
    expect(sessionBehind(inner)).toBeUndefined();
  });
});
