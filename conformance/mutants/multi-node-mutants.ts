/**
 * Multi-node mutants (spec §21): two reference nodes on one store and hub, one of them seeing a
 * broken store or broker through a view (reference-cluster.ts `alter`), never a copy of server code.
 * Each is killed by the case of its rule.
 */
import type { Broker, DeliverLocally, GapListener, Publication } from '../../server/stores/broker.js';
import type { SessionStore } from '../../server/stores/session-store.js';
import { alter } from '../targets/reference-cluster.js';
import type { ServerMutant } from './server-mutants.js';

const mutant = (m: Omit<ServerMutant, 'side'>): ServerMutant => ({ ...m, side: 'server' });

/** A node's broker that delivers its publishes to its own sessions only: the other nodes never hear of them. */
function localOnly(inner: Broker): Broker {
  let deliver: DeliverLocally | undefined;
  return alter(inner, {
    bind: (d: DeliverLocally, onGap?: GapListener) => {
      deliver = d;
      inner.bind(d, onGap);
    },
    publish: (p: Publication) => Promise.resolve(deliver ? deliver(p) : 0),
  });
}

export const multiNodeMutants: readonly ServerMutant[] = [
  mutant({
    id: 'mn-3-other-node-starts-new',
    rule: 'MN-3',
    description: 'node B does not load sessions from the shared store: a Hello naming a session of node A gets NEW',
    cases: ['MN-11+MN-3/drain-to-other-node'],
    cluster: { b: { store: (s: SessionStore) => alter(s, { load: () => Promise.resolve(undefined) }) } },
  }),
  mutant({
    id: 'mn-2-catch-up-skipped',
    rule: 'MN-2',
    description: 'node B does not read the channels from the stored positions: what was published while the session moved is lost',
    cases: ['MN-3+MN-1+MN-2/resume-on-other-node'],
    cluster: { b: { broker: (b: Broker) => alter(b, { since: () => Promise.resolve([]) }) } },
  }),
  mutant({
    id: 'mn-4-no-claim-notice',
    rule: 'MN-4',
    // Nor release requests (MN-18): on one, node A closes the old socket itself, before any claim.
    description: 'node A does not watch claims (nor release requests): its socket stays open when node B takes the session over',
    cases: ['MN-4/takeover-across-nodes-4002'],
    cluster: { a: { store: (s: SessionStore) => alter(s, { watchClaims: undefined, watchReleaseRequests: undefined }) } },
  }),
  mutant({
    id: 'mn-9-broker-local-only',
    rule: 'MN-9',
    description: "node B's publishes reach node B's subscribers only",
    cases: ['MN-9/fan-out-order-across-nodes'],
    cluster: { b: { broker: localOnly } },
  }),
  mutant({
    id: 'mn-5-dedupe-not-consulted',
    rule: 'MN-5',
    description: 'node B never asks the shared store whether a client message id was processed',
    cases: ['MN-5/message-dedupe-across-nodes'],
    cluster: { b: { store: (s: SessionStore) => alter(s, { hasMessageId: () => false }) } },
  }),
];
