/**
 * Server mode: the runner is many raw clients against one server URL. The
 * harness gives each case a peer factory with unique labels and channels, the
 * declared server config, the test hooks, and cleanup of every socket it opened.
 */
import type { ServerConfig } from '../config.js';
import { CaseFailure, NotApplicable } from '../framework/failure.js';
import type { ModeHarness } from '../framework/runner.js';
import type { Case, CaseContext } from '../framework/types.js';
import { HttpHooks, noHooks, type Hooks } from './hooks.js';
import { HTTP_RECEIVE_GAP_DEFAULT_MS } from './http-peer.js';
import { isRefusal, openPeer, type Peer, type PeerOptions, type Refusal, type Transport } from './peer.js';

/** The second node of a multi-node target (spec §21): its own sockets and hooks, the same store and broker. */
export interface NodeHandle {
  readonly url: string;
  readonly hooks: Hooks;
  peer(opts?: PeerOptions): Promise<Peer>;
  tryPeer(opts?: PeerOptions): Promise<Peer | Refusal>;
}

/** Where the second node is: from server.peer, or the CLI's --peer, with hooks when declared. */
export interface PeerNodeTarget {
  readonly url: string;
  readonly hooks?: Hooks;
}

export interface ServerCaseContext extends CaseContext {
  /** The WebSocket URL of the endpoint; the HTTP carrier posts to the same URL as http(s) (spec §22). */
  readonly url: string;
  /** The carrier of this run's peers (`--transport`, default ws); a peer may ask for the other. */
  readonly transport: Transport;
  readonly server: ServerConfig;
  readonly hooks: Hooks;
  /** A connected peer (fails the case on an HTTP refusal). Heartbeats on by default. */
  peer(opts?: PeerOptions): Promise<Peer>;
  /** Try an upgrade; the peer or the refusal. */
  tryPeer(opts?: PeerOptions): Promise<Peer | Refusal>;
  /** A channel name no other case uses. */
  channel(name?: string): string;
  /** Upgrade headers that pass authentication (config auth.upgradeHeaders). */
  readonly authHeaders: Readonly<Record<string, string>>;
  /** Dead-peer bound of HB-3: interval × (missed + 1) + one interval + slack. */
  readonly deadBoundMs: number;
  /**
   * How long after a peer of this run vanishes the server can know it: 0 over a WebSocket (the TCP
   * connection ends), the receive gap of HT-12 plus slack over HTTP (a cut receive may be a proxy).
   */
  readonly silentDropMs: number;
  /** Node B of a multi-node target (feature multi-node); an ERROR when the declaration names none. */
  nodeB(): NodeHandle;
}

const RESET_TIMEOUT_MS = 10_000;


export function serverHarness(
  url: string,
  server: ServerConfig,
  hooks: Hooks = server.hooks ? new HttpHooks(server.hooks.url) : noHooks,
  peerNode: PeerNodeTarget | undefined = server.peer ? { url: server.peer.url, ...(server.peer.hooks ? { hooks: new HttpHooks(server.peer.hooks.url) } : {}) } : undefined,
  transport: Transport = 'ws',
): ModeHarness {
  let channelCounter = 0;
  return {
    mode: 'server',
    // Bounded: a hook endpoint that never answers must not hold the run (issue 18, runner item 11).
    reset: async () => {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([hooks.reset().catch(() => undefined), new Promise((r) => (t = setTimeout(r, RESET_TIMEOUT_MS)))]);
      clearTimeout(t);
    },
    async extend(base: CaseContext, c: Case): Promise<ServerCaseContext> {
      if (transport !== 'ws' && c.carrier) throw new NotApplicable(`tests the ${c.carrier === 'ws' ? 'WebSocket' : 'HTTP'} carrier itself: it runs in the run over WebSocket`);
      let n = 0;
      const authHeaders = { ...(server.auth?.upgradeHeaders ?? {}) };
      const tryPeerAt = async (at: string, tag: string, opts: PeerOptions = {}) => {
        const label = `${tag}${++n}`;
        const p = await openPeer(at, label, base.transcript, {
          transport,
          ...(server.httpReceiveGapMs !== undefined ? { receiveGapMs: server.httpReceiveGapMs } : {}),
          heartbeatMs: server.heartbeatIntervalMs,
          ...(server.features.includes('hello-auth') && server.auth?.helloToken ? { helloDefaults: { token: server.auth.helloToken } } : {}),
          ...opts,
          headers: { ...authHeaders, ...(opts.headers ?? {}) },
        });
        if (!isRefusal(p)) base.defer(() => p.destroy());
        return p;
      };
      const tryPeer = (opts: PeerOptions = {}) => tryPeerAt(url, 'c', opts);
      const mustPeer = async (p: Peer | Refusal) => {
        if (isRefusal(p)) throw new CaseFailure(`upgrade refused with HTTP ${p.status} where it should succeed`);
        return p;
      };
      // spec §21: peers on node B are labelled b1, b2 … in the transcript, beside node A's c1, c2 …
      const nodeB = (): NodeHandle => {
        if (!peerNode) throw new Error('multi-node is declared but the target names no second node (server.peer.url or --peer)'); // ERROR, not N/A: a declaration error
        const bHooks = peerNode.hooks ?? noHooks;
        return {
          url: peerNode.url,
          hooks: bHooks,
          tryPeer: (opts) => tryPeerAt(peerNode.url, 'b', opts),
          peer: async (opts) => mustPeer(await tryPeerAt(peerNode.url, 'b', opts)),
        };
      };
      const prefix = c.id.replace(/[^a-zA-Z0-9]+/g, '-').toLowerCase();
      return {
        ...base,
        url,
        transport,
        server,
        hooks,
        authHeaders,
        deadBoundMs: server.heartbeatIntervalMs * (server.heartbeatMissedMax + 2) + base.slackMs,
        silentDropMs: transport === 'http' ? (server.httpReceiveGapMs ?? HTTP_RECEIVE_GAP_DEFAULT_MS) + base.slackMs : 0,
        tryPeer,
        peer: async (opts) => mustPeer(await tryPeer(opts)),
        nodeB,
        channel: (name = 'ch') => `conf.${prefix}.${name}.${++channelCounter}`,
      };
    },
  };
}
