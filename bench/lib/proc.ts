/**
 * Child processes for the bench: the server and the load generator each run in
 * their own Node process (issue 7), pinned to their own core when `taskset`
 * exists, with the open-file limit raised and `--expose-gc`. The parent talks
 * to them over the IPC channel with request/response messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { benchFile, IS_COMPILED, REPO_ROOT } from './paths.js';

const CHILD = benchFile('child.ts');
export const HAS_TASKSET = existsSync('/usr/bin/taskset');
export const CORES = availableParallelism();

export interface ChildSpec {
  /** Scenario module under bench/scenarios/, e.g. 'echo'. */
  readonly scenario: string;
  /** Exported function of that module to run, e.g. 'server' or 'load'. */
  readonly role: string;
  /** JSON-serialisable configuration for that function. */
  readonly config: unknown;
  /** CPU to pin to (taskset -c), if the machine has it. */
  readonly cpu?: number;
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  /** V8 old-space limit in MB for big connection counts. */
  readonly maxOldSpaceMb?: number;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

/** A running child with request/response over IPC. */
export class Child {
  private nextId = 1;
  private readonly waits = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: ((ev: unknown) => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess, readonly label: string) {
    proc.on('message', (m: unknown) => {
      const r = m as Partial<Reply> & { event?: unknown };
      if (r.event !== undefined) {
        for (const fn of this.events) fn(r.event);
        return;
      }
      const w = r.id === undefined ? undefined : this.waits.get(r.id);
      if (!w || r.id === undefined) return;
      this.waits.delete(r.id);
      if (r.ok) w.resolve(r.result);
      else w.reject(new Error(`${label}: ${r.error ?? 'failed'}`));
    });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code) => {
        for (const w of this.waits.values()) w.reject(new Error(`${label} exited (${code}) before answering`));
        this.waits.clear();
        resolve(code);
      });
    });
  }

  /** Ask the child to run `cmd`; rejects after `timeoutMs`. */
  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waits.delete(id);
        reject(new Error(`${this.label}: '${cmd}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waits.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Listen to the child's events; returns the unsubscribe function. */
  onEvent(fn: (ev: unknown) => void): () => void {
    this.events.push(fn);
    return () => {
      const i = this.events.indexOf(fn);
      if (i >= 0) this.events.splice(i, 1);
    };
  }

  /** Ask politely, then kill this child (by its own pid) if it lingers. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      this.proc.send({ id: 0, cmd: 'exit', args: {} });
    } catch {
      // channel already closed
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Start a child. It runs under `bash -c 'ulimit -n …; exec node …'` so the
 * open-file limit is as high as the hard limit allows (10,000 connections need
 * more than the usual 1,024), and under taskset when a CPU is given.
 */
export function startChild(spec: ChildSpec, nofile = 65_536): Child {
  const node = process.execPath;
  // Compiled: plain node, as in production. Under tsx (tests, `tsx bench/run.ts`): the loader.
  const flags = [...(IS_COMPILED ? [] : ['--import', 'tsx']), '--expose-gc', ...(spec.nodeFlags ?? [])];
  if (spec.maxOldSpaceMb) flags.push(`--max-old-space-size=${spec.maxOldSpaceMb}`);
  const argv = [node, ...flags, CHILD, spec.scenario, spec.role, JSON.stringify(spec.config ?? {})];
  const pin = HAS_TASKSET && spec.cpu !== undefined && spec.cpu < CORES ? ['taskset', '-c', String(spec.cpu)] : [];
  const cmd = [...pin, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `ulimit -n ${nofile} 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec ${cmd}`;
  const proc = spawn('bash', ['-c', script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return new Child(proc, `${spec.scenario}/${spec.role}`);
}
