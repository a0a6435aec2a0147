import { describe, expect, it } from 'vitest';
import { sessionStoreContract, sampleRecord } from './contract.js';
import { nodeLeaseContract } from './lease-contract.js';
import { MemorySessionStore } from './memory-session-store.js';
import { LEASE_MARKER_TTL_MS } from './session-store.js';

sessionStoreContract('MemorySessionStore', (env) => new MemorySessionStore(env));
sessionStoreContract('MemorySessionStore shared', (env) => new MemorySessionStore({ ...env, shared: true }));
nodeLeaseContract('MemorySessionStore shared', () => Promise.resolve(new MemorySessionStore({ shared: true })));

describe('MemorySessionStore shared mode (issue 14)', () => {
  it('isShared follows the option (default false)', () => {
    expect(new MemorySessionStore().isShared).toBe(false);
    expect(new MemorySessionStore({ shared: true }).isShared).toBe(true);
  });

  it('RS-7 a claim notice runs in a microtask: after claim() returns, before the claimer resumes', async () => {
    const store = new MemorySessionStore({ shared: true });
    const r = sampleRecord();
    await store.create(r, 'node-a');
    const order: string[] = [];
    store.watchClaims('node-a', (id, fence, byNode) => order.push(`lost ${fence} to ${byNode}`));
    const claimed = store.claim(r.id, 'node-b');
    order.push('claim returned');
    order.push(`claimed ${await claimed}`);
    expect(order).toEqual(['claim returned', 'lost 2 to node-b', 'claimed 2']);
  });

  it('MN-18 a node\'s lease mark outlives its lease by LEASE_MARKER_TTL_MS from the last renewal, then it reads never again', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore({ shared: true, clock: { now: () => now } });
    await store.renewLease('a', 3000);
    now += 3000;
    expect(await store.leaseState('a')).toBe('expired');
    now += LEASE_MARKER_TTL_MS - 3001;
    expect(await store.leaseState('a')).toBe('expired');
    now += 1;
    expect(await store.leaseState('a')).toBe('never');
  });
});
