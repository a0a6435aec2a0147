/**
 * Every process the multi-node e2e test spawns (redis-server, the nodes, HAProxy), so afterAll can
 * kill what is left even when a test failed halfway: one list, SIGKILL by pid, never by name.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Map<ChildProcess, string>();

/** Remember a spawned process until it exits. */
export function track(proc: ChildProcess, name: string): ChildProcess {
  live.set(proc, name);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

/** SIGKILL every tracked process still running and wait for their exits; returns their names. */
export async function killAll(): Promise<string[]> {
  const left = [...live.entries()];
  await Promise.all(
    left.map(([p]) => {
      if (p.exitCode !== null || p.signalCode !== null) return undefined;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      return exited;
    }),
  );
  return left.map(([, name]) => name);
}
