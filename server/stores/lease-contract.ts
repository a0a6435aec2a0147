/**
 * MN-17, MN-18 for a shared store: release requests reach the owner's listeners only, and a node's
 * liveness lease lives for its TTL, renewed, until it runs out or is ended. Every store with these
 * methods runs it (memory-session-store.test.ts, redis-session-store.test.ts). Real time: a Redis
 * key's TTL runs on Redis's clock, so the TTLs here are short (hundreds of ms).
 */
import { describe, expect, it, vi } from 'vitest';
import type { SessionStore } from './session-store.js';

let serial = 0;
/** Node ids unique per call: a shared store needs no flush between tests. */
const node = (name: string): string => `${name}-${process.pid}-${serial++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function nodeLeaseContract(name: string, open: () => Promise<SessionStore>, dispose?: (store: SessionStore) => Promise<void> | void): void {
  describe(`MN-17 MN-18 release requests and node leases: ${name}`, () => {
    async function withStore(body: (store: Required<Pick<SessionStore, 'requestRelease' | 'watchReleaseRequests' | 'renewLease' | 'leaseState' | 'endLease'>>) => Promise<void>) {
      const store = await open();
      try {
        const { requestRelease, watchReleaseRequests, renewLease, leaseState, endLease } = store;
        if (!requestRelease || !watchReleaseRequests || !renewLease || !leaseState || !endLease) throw new Error(`${name} keeps no leases`);
        await body({
          requestRelease: requestRelease.bind(store),
          watchReleaseRequests: watchReleaseRequests.bind(store),
          renewLease: renewLease.bind(store),
          leaseState: leaseState.bind(store),
          endLease: endLease.bind(store),
        });
      } finally {
        await dispose?.(store);
      }
    }

    it('MN-17 MN-18 a release request reaches the owner\'s listeners, not another node\'s, and says how many; a stopped watch hears nothing', () =>
      withStore(async (s) => {
        const a = node('a');
        const b = node('b');
        const heard: string[] = [];
        const stopA = s.watchReleaseRequests(a, (id, by) => heard.push(`${a}:${id}:${by}`));
        const stopB = s.watchReleaseRequests(b, (id, by) => heard.push(`${b}:${id}:${by}`));
        // A subscription may take a round trip (Redis): ask until the owner hears.
        await vi.waitFor(async () => {
          await s.requestRelease('s1', a, b);
          await sleep(5);
          expect(heard).toContain(`${a}:s1:${b}`);
        }, { timeout: 5_000, interval: 1 });
        expect(heard.every((h) => h === `${a}:s1:${b}`)).toBe(true); // node b heard none of it
        stopA();
        await s.requestRelease('s2', a, b);
        await vi.waitFor(async () => {
          await s.requestRelease('probe', b, a);
          await sleep(5);
          expect(heard).toContain(`${b}:probe:${a}`); // requests published after s2 have arrived
        }, { timeout: 5_000, interval: 1 });
        expect(heard.some((h) => h.includes(':s2:'))).toBe(false);
        expect(await s.requestRelease('s3', b, a)).toBe(1); // one listener of node b heard it
        stopB();
        await vi.waitFor(async () => expect(await s.requestRelease('s4', b, a)).toBe(0), { timeout: 5_000, interval: 10 }); // none now: "gone" (an unsubscribe may take a round trip)
        expect(await s.requestRelease('s5', node('never'), a)).toBe(0);
      }));

    it('MN-18 a lease is alive for its TTL once renewed, runs out without renewals (expired), and is expired at once when ended; a node that never kept one reads never', () =>
      withStore(async (s) => {
        const a = node('a');
        expect(await s.leaseState(a)).toBe('never'); // never taken: a node of a release before MN-18
        await s.renewLease(a, 600);
        expect(await s.leaseState(a)).toBe('alive');
        await sleep(150);
        await s.renewLease(a, 600); // renewed: lives 600 ms from now (a margin for a loaded machine)
        await sleep(200);
        expect(await s.leaseState(a)).toBe('alive');
        // Ran out: expired, not never (the node kept a lease: it is dead, not old).
        await vi.waitFor(async () => expect(await s.leaseState(a)).toBe('expired'), { timeout: 2_000, interval: 20 });
        await s.renewLease(a, 10_000);
        expect(await s.leaseState(a)).toBe('alive');
        expect(await s.leaseState(node('other'))).toBe('never'); // one node's lease is its own, and so is its mark
        await s.endLease(a);
        expect(await s.leaseState(a)).toBe('expired');
      }));
  });
}
