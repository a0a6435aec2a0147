/**
 * This node's channel → local sessions index (CH-1, CH-2, CC-6), the membership publications are
 * delivered through. Node-local by nature: another node's sessions are its own index's business;
 * the broker only learns when this node's first subscriber joins a channel and its last one leaves.
 */
export class LocalChannels<M> {
  private readonly byChannel = new Map<string, Set<M>>();

  constructor(
    /** First local member of a channel (broker join), last one gone (broker leave). */
    private readonly onFirst: (channel: string) => void = () => {},
    private readonly onLast: (channel: string) => void = () => {},
  ) {}

  join(channel: string, member: M): void {
    let set = this.byChannel.get(channel);
    if (!set) {
      this.byChannel.set(channel, (set = new Set()));
      this.onFirst(channel);
    }
    set.add(member);
  }

  leave(channel: string, member: M): void {
    const set = this.byChannel.get(channel);
    if (!set?.delete(member) || set.size > 0) return;
    this.byChannel.delete(channel);
    this.onLast(channel);
  }

  /** CC-6: the first step of a teardown; `channels` are the member's own subscriptions. */
  leaveAll(channels: Iterable<string>, member: M): void {
    for (const ch of channels) this.leave(ch, member);
  }

  members(channel: string): Iterable<M> {
    return this.byChannel.get(channel) ?? [];
  }

  /** Channels with at least one local member. */
  get size(): number {
    return this.byChannel.size;
  }
}
