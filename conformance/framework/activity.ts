/**
 * What each running case is waiting for, so a case that hits its deadline is reported as
 * "timed out while waiting for <what>" (issue 17 point 5). The runner runs each case inside an
 * AsyncLocalStorage scope; the waits (fake server, client process, raw peers, sleeps) register
 * themselves there without any plumbing, and cases running at the same time never mix.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class CaseActivity {
  private readonly waits = new Map<number, { what: string; since: number }>();
  private counter = 0;
  /** What the case is waiting for right now (the latest first), with how long it has waited. */
  describe(now = performance.now()): string {
    const ws = [...this.waits.values()].reverse();
    if (ws.length === 0) return 'nothing the runner knows of (the case was computing or awaiting the target outside a declared wait)';
    return ws.map((w) => `${w.what} (for ${Math.round(now - w.since)} ms)`).join('; ');
  }
  begin(what: string): () => void {
    const id = ++this.counter;
    this.waits.set(id, { what, since: performance.now() });
    return () => this.waits.delete(id);
  }
}

const store = new AsyncLocalStorage<CaseActivity>();

/** Run `fn` as the body of one case: waits started inside it are recorded on `activity`. */
export function withActivity<T>(activity: CaseActivity, fn: () => T): T {
  return store.run(activity, fn);
}

/** Mark a wait of the current case (if any) until the promise settles. */
export async function waitingFor<T>(what: string, p: Promise<T>): Promise<T> {
  const end = store.getStore()?.begin(what);
  try {
    return await p;
  } finally {
    end?.();
  }
}
