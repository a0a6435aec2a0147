/** What every scenario gets from bench/run.ts and gives back to it. */
import type { Kind } from '../contenders/baselines.js';
import { startChild, type Child, type ChildSpec } from './proc.js';

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
  /** Welcome.client_ack_delay_ms of the fan-out server (`--fanout-client-ack-delay-ms=`, default 0: the clients' own 50 ms). */
  readonly fanoutClientAckDelayMs: number;
}

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
}

/** Start a child, wait until its role registered its handlers, track it for cleanup. */
export async function launch(ctx: RunContext, spec: ChildSpec, readyTimeoutMs = 60_000): Promise<Child> {
  const kind = (spec.config as { kind?: string } | undefined)?.kind ?? 'all';
  const prof = ctx.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}/${spec.scenario}-${spec.role}-${kind}`]
    : [];
  const child = startChild({ ...spec, nodeFlags: [...(spec.nodeFlags ?? []), ...prof] });
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

export const LABEL: Record<Kind, string> = { ws: 'raw ws', socketio: 'Socket.IO 4', lifeline: 'Lifeline' };

/** The server on core 0, the load generator on core 1 (when there are two). */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
