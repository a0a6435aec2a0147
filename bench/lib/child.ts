/**
 * Entry point of a bench child process: `child.ts <scenario> <role> <json>`.
 * Imports bench/scenarios/<scenario>.ts and runs its exported `<role>` function,
 * which registers command handlers; the parent calls them over IPC.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Rpc {
  /** Answer the parent's `cmd` with the handler's (awaited) result. */
  on(cmd: string, handler: Handler): void;
  /** Push an unsolicited event to the parent. */
  emit(event: unknown): void;
}

export type Role = (config: Record<string, unknown>, rpc: Rpc) => void | Promise<void>;

export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Memory after forced full GCs (needs --expose-gc, which startChild passes). */
export async function memoryAfterGc(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * This process's read and write system calls so far (Linux /proc/self/io; NaN elsewhere). Counts, not
 * time: a busy machine does not change them, so they show what a change saves where CPU µs are noise
 * (a subscriber's Ack is one write on its side and one read on the server's).
 */
export function syscalls(): { reads: number; writes: number } {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: Number.NaN, writes: Number.NaN };
  }
}

/** CPU time of this process in µs (user + system). */
export function cpuMicros(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

async function main(): Promise<void> {
  const [scenario, role, json] = process.argv.slice(2);
  if (!scenario || !role) throw new Error('usage: child.ts <scenario> <role> <json>');
  const handlers = new Map<string, Handler>();
  const rpc: Rpc = {
    on: (cmd, h) => void handlers.set(cmd, h),
    emit: (event) => process.send?.({ event }),
  };
  rpc.on('mem', () => memoryAfterGc());
  rpc.on('cpu', () => ({ cpuUs: cpuMicros(), wallMs: performance.now(), ...syscalls() }));
  process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    if (m.cmd === 'exit') {
      // Let the IPC channel flush, then go: sockets and timers may still be open.
      setTimeout(() => process.exit(0), 10);
      return;
    }
    const h = handlers.get(m.cmd);
    if (!h) {
      process.send?.({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(m.args ?? {}))
      .then(
        (result) => process.send?.({ id: m.id, ok: true, result }),
        (err: unknown) => process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  });
  process.on('disconnect', () => process.exit(0)); // parent gone: never linger
  const mod = (await import(`../scenarios/${scenario}.js`)) as Record<string, unknown>;
  const fn = mod[role];
  if (typeof fn !== 'function') throw new Error(`bench/scenarios/${scenario}.ts has no export ${role}`);
  await (fn as Role)(JSON.parse(json ?? '{}') as Record<string, unknown>, rpc);
  process.send?.({ event: { ready: true } });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
