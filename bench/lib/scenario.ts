/** What every scenario gets from bench/run.ts and gives back to it. */
import type { Kind } from '../contenders/baselines.js';
import { CORES, HAS_TASKSET, startChild, type Child, type ChildSpec } from './proc.js';

export interface RunContext {
  readonly quick: boolean;
  /** Contenders available in this tree (Lifeline only once server/ exists). */
  readonly kinds: readonly Kind[];
  /** Progress line on stderr. */
  log(msg: string): void;
  /** Children started by the scenario, stopped by run.ts even if the scenario throws. */
  readonly children: Set<Child>;
  /** Write a V8 CPU profile of every child here (`--profile=dir`). */
  readonly profileDir?: string;
  /**
   * Where the children run (issue 16): 'pinned' = server on core 0, load generator on core 1
   * (taskset), the default; 'shared' (`--shared`) = no pinning, both processes share every core,
   * as the outside harness ran.
   */
  readonly placement: Placement;
  /**
   * Welcome.client_ack_delay_ms of the fan-out and saturation servers (`--fanout-client-ack-delay-ms=`;
   * 0 = the clients' own 50 ms). Unset: the server's default (250 ms, SEQ-12).
   */
  readonly fanoutClientAckDelayMs?: number;
}

export type Placement = 'pinned' | 'shared';

export interface Target {
  /** e.g. 'echo 64 B: Lifeline ≥ 0.85× raw ws rt/s'. */
  readonly what: string;
  readonly measured: string;
  /** undefined = not measurable in this run (contender missing). */
  readonly isMet: boolean | undefined;
}

export interface Section {
  readonly title: string;
  /** Markdown table(s). */
  readonly table: string;
  /** How it was measured, caveats. */
  readonly notes: readonly string[];
  readonly targets: readonly Target[];
  /** How the processes of this section were placed on the cores (issue 16); run.ts prints it under the title. */
  readonly placement: string;
}

/** Start a child, wait until its role registered its handlers, track it for cleanup. */
export async function launch(ctx: RunContext, spec: ChildSpec, readyTimeoutMs = 60_000): Promise<Child> {
  const cfg = spec.config as { kind?: string; carrier?: string } | undefined;
  const kind = `${cfg?.kind ?? 'all'}${cfg?.carrier === 'http' ? '-http' : ''}`;
  const prof = ctx.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}/${spec.scenario}-${spec.role}-${kind}`]
    : [];
  const { cpu, ...rest } = spec;
  const pin = ctx.placement === 'pinned' && cpu !== undefined ? { cpu } : {};
  const child = startChild({ ...rest, ...pin, nodeFlags: [...(spec.nodeFlags ?? []), ...prof] });
  ctx.children.add(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.label} not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
    child.onEvent((ev) => {
      if ((ev as { ready?: boolean }).ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${child.label} exited (${code}) before it was ready`));
    });
  });
  return child;
}

export async function stopAll(ctx: RunContext, ...children: (Child | undefined)[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (!c) return;
      await c.stop();
      ctx.children.delete(c);
    }),
  );
}

export const LABEL: Record<Kind, string> = { ws: 'raw ws', wsb: 'raw ws, batched', socketio: 'Socket.IO 4', lifeline: 'Lifeline' };

/** Whether the pins asked for are real (taskset present, two cores). */
export function isPinned(ctx: RunContext): boolean {
  return ctx.placement === 'pinned' && HAS_TASKSET && CORES >= 2;
}

/** Section.placement for a server + load generator scenario. */
export function placementOf(ctx: RunContext): string {
  if (isPinned(ctx)) return `pinned: server process on core ${SERVER_CPU}, load generator on core ${LOAD_CPU} (taskset), one core each`;
  return `shared: server and load generator unpinned, sharing the machine's ${CORES} core(s)`;
}

/** Which client drives a row: the contender's own (ws, socket.io-client), or for Lifeline the lean bench client or the reference client. */
export type ClientKind = 'own' | 'lean' | 'reference';

/**
 * What carries a row's frames (issue 15): a WebSocket (every scenario's default), or HTTP: Lifeline
 * over its HTTP carrier (spec §22), Socket.IO over Engine.IO long-polling only. The roles of the
 * echo and fan-out scenarios take it as `carrier` in their config.
 */
export type Carrier = 'websocket' | 'http';

/** Socket.IO's options for a carrier: polling only on both ends over HTTP. */
export function ioCarrier(carrier: Carrier): { carrier: 'websocket' | 'polling' } {
  return { carrier: carrier === 'http' ? 'polling' : 'websocket' };
}

/** One row of a scenario (issue 16: the same server with two clients is two rows). */
export interface Contender {
  readonly kind: Kind;
  readonly client: ClientKind;
  readonly label: string;
  /** Unique per row: cells are keyed by it. */
  readonly key: string;
  /** Default 'websocket' (issue 15's HTTP rows say 'http'). */
  readonly carrier?: Carrier;
}

/**
 * The rows of a scenario: each kind of the run (with raw ws, batched after raw ws when asked),
 * Lifeline once per client asked for (the reference client only where it loads).
 */
export function contendersOf(
  ctx: RunContext,
  o: { readonly isBatched?: boolean; readonly lifelineClients: readonly ClientKind[]; readonly hasReferenceClient: boolean },
): Contender[] {
  const kinds = o.isBatched ? withBatchedWs(ctx.kinds) : [...ctx.kinds];
  return kinds.flatMap((kind): Contender[] => {
    if (kind !== 'lifeline') return [{ kind, client: 'own', label: LABEL[kind], key: kind }];
    return o.lifelineClients
      .filter((c) => c !== 'reference' || o.hasReferenceClient)
      .map((client) => ({ kind, client, label: `${LABEL[kind]} (${CLIENT_LABEL[client]})`, key: `${kind}-${client}` }));
  });
}

const CLIENT_LABEL: Record<ClientKind, string> = { own: 'own client', lean: 'bench wire client', reference: 'reference client' };

/** The contenders of the echo and fan-out scenarios: the run's kinds with raw ws, batched, right after raw ws (issue 16). */
export function withBatchedWs(kinds: readonly Kind[]): Kind[] {
  return kinds.flatMap((k): Kind[] => (k === 'ws' ? ['ws', 'wsb'] : [k]));
}

/** The server on core 0, the load generator on core 1 (when there are two). */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
