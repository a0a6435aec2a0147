/**
 * Two reference nodes on one shared store and one broker (spec §21): the multi-node target of
 * `conformance self --multi-node`, of conformance-multi-node.test.ts and of the multi-node mutants.
 * In process, the store is `MemorySessionStore({ shared: true })` and the broker a `MemoryHub`, the
 * doubles that run the same contract suites as the Redis ones. The nodes share the application's
 * state channels (one application, two processes of it) and keep an inbox each: a case adds them up.
 *
 * Node A is the target the runner resets (its hooks): a reset replaces A's server on the same port
 * and the same store and hub, as a restarted process would rejoin them; node B keeps running.
 */
import type { Broker } from '../../server/stores/broker.js';
import { MemoryHub } from '../../server/stores/memory-hub.js';
import { MemorySessionStore } from '../../server/stores/memory-session-store.js';
import type { SessionStore } from '../../server/stores/session-store.js';
import type { ServerConfig } from '../config.js';
import type { PeerNodeTarget } from '../server-mode/harness.js';
import type { Hooks } from '../server-mode/hooks.js';
import { startReferenceServerTarget, type AppChannels, type ReferenceServerTarget, type ServerOverride, type ServerPatch } from './reference-server.js';

/** How a mutant breaks one node: its view of the store or the broker, its options, its live server. */
export interface NodeTweaks {
  readonly store?: (store: SessionStore) => SessionStore;
  readonly broker?: (broker: Broker) => Broker;
  readonly override?: ServerOverride;
  readonly patch?: ServerPatch;
}

export interface ClusterTarget {
  readonly url: string;
  /** Node A's config with `multi-node` declared and `peer` naming node B. */
  readonly config: ServerConfig;
  readonly hooks: Hooks;
  readonly peer: PeerNodeTarget & { readonly hooks: Hooks };
  readonly a: ReferenceServerTarget;
  readonly b: ReferenceServerTarget;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly a?: NodeTweaks;
  readonly b?: NodeTweaks;
}

export async function startReferenceCluster(config: ServerConfig, opts: ClusterOptions = {}): Promise<ClusterTarget> {
  const store = new MemorySessionStore({ shared: true });
  const hub = new MemoryHub();
  const channels: AppChannels = new Map();
  let n = 0;
  // Each server (A after every reset too) gets a broker of its own on the hub, as a process its own connection.
  const node = (name: 'A' | 'B', t: NodeTweaks = {}): ServerOverride => (o) => {
    const broker = hub.broker(`${name}${++n}`);
    const options = { ...o, sessionStore: t.store ? t.store(store) : store, broker: t.broker ? t.broker(broker) : broker };
    return t.override ? t.override(options) : options;
  };
  const features = config.features.includes('multi-node') ? config.features : [...config.features, 'multi-node' as const];
  const a = await startReferenceServerTarget({ ...config, features }, node('A', opts.a), opts.a?.patch, channels);
  const b = await startReferenceServerTarget({ ...config, features }, node('B', opts.b), opts.b?.patch, channels);
  return {
    url: a.url,
    config: { ...a.config, peer: { url: b.url, hooks: { url: b.hooksUrl } } },
    hooks: a.hooks,
    peer: { url: b.url, hooks: b.hooks },
    a,
    b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/**
 * A view of `target` where `changes` replace some members (a mutant's broken store or broker);
 * everything else is the target's own, bound to it.
 */
export function alter<T extends object>(target: T, changes: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, k, r) {
      if (Object.prototype.hasOwnProperty.call(changes, k)) return (changes as Record<PropertyKey, unknown>)[k];
      const v: unknown = Reflect.get(t, k, r);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(t) : v;
    },
    has(t, k) {
      if (Object.prototype.hasOwnProperty.call(changes, k)) return (changes as Record<PropertyKey, unknown>)[k] !== undefined;
      return Reflect.has(t, k);
    },
  });
}
