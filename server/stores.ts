/**
 * Where sessions live and how channels reach them. Small interfaces with in-memory
 * defaults; a Redis-backed store and broker can replace them later (scale-out).
 */

/** Sessions by id, attached or detached, until they end or expire (RS-1). */
export interface SessionStore<S> {
  get(id: string): S | undefined;
  set(id: string, session: S): void;
  delete(id: string): void;
  values(): Iterable<S>;
  readonly size: number;
}

export class MemorySessionStore<S> implements SessionStore<S> {
  private readonly map = new Map<string, S>();
  get(id: string): S | undefined {
    return this.map.get(id);
  }
  set(id: string, session: S): void {
    this.map.set(id, session);
  }
  delete(id: string): void {
    this.map.delete(id);
  }
  values(): Iterable<S> {
    return this.map.values();
  }
  get size(): number {
    return this.map.size;
  }
}

/** Channel membership for fan-out (CH-1, CH-2, CC-6). */
export interface FanOut<M> {
  join(channel: string, member: M): void;
  leave(channel: string, member: M): void;
  /** Remove a member from every channel (CC-6: first step of a teardown). */
  leaveAll(member: M): void;
  members(channel: string): Iterable<M>;
}

export class MemoryFanOut<M> implements FanOut<M> {
  private readonly byChannel = new Map<string, Set<M>>();
  private readonly byMember = new Map<M, Set<string>>();

  join(channel: string, member: M): void {
    let set = this.byChannel.get(channel);
    if (!set) this.byChannel.set(channel, (set = new Set()));
    set.add(member);
    let chans = this.byMember.get(member);
    if (!chans) this.byMember.set(member, (chans = new Set()));
    chans.add(channel);
  }

  leave(channel: string, member: M): void {
    const set = this.byChannel.get(channel);
    set?.delete(member);
    if (set && set.size === 0) this.byChannel.delete(channel);
    this.byMember.get(member)?.delete(channel);
  }

  leaveAll(member: M): void {
    for (const ch of this.byMember.get(member) ?? []) {
      const set = this.byChannel.get(ch);
      set?.delete(member);
      if (set && set.size === 0) this.byChannel.delete(ch);
    }
    this.byMember.delete(member);
  }

  members(channel: string): Iterable<M> {
    return this.byChannel.get(channel) ?? [];
  }
}
