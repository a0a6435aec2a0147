/**
 * The message ids a client saw last (SEQ-8): a set bounded to `window` ids, the oldest evicted first.
 * A Set alone evicted through `values().next()`, which walks the holes deleted entries leave at the
 * table's front until V8 rebuilds it: hundreds of steps per message at the bound, two thirds of the
 * client's CPU per message with ids (issue 16, bench/probes/client-inbound.md; the server's own
 * dedupe had the same fault, bench/probes/echo-cpu.md). Here the insertion order is a ring of its own
 * and the Set only answers membership. Browser-safe.
 */
export class RecentIds {
  private readonly set = new Set<string>();
  /** Insertion order, oldest at `head` once full; grows to `window` as ids come. */
  private readonly ring: string[] = [];
  private head = 0;

  constructor(private readonly window: number) {}

  has(id: string): boolean {
    return this.set.has(id);
  }

  /** Remember `id` (not already held: call has() first), forgetting the oldest beyond the window. */
  add(id: string): void {
    this.set.add(id);
    if (this.ring.length < this.window) {
      this.ring.push(id);
      return;
    }
    this.set.delete(this.ring[this.head] as string);
    this.ring[this.head] = id;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
  }

  get size(): number {
    return this.set.size;
  }
}
