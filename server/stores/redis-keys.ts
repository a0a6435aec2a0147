/**
 * The Redis key layout of RedisSessionStore (issue 14, DESIGN-14 "Keys"), in one place so the
 * scripts, the store and any operator reading Redis agree. Every name starts with the prefix
 * (default `lifeline:`); ids, principals and node ids are appended verbatim (Redis keys are
 * binary-safe), and each kind has its own fixed stem, so no two kinds can spell the same key.
 *
 *   {p}s:{id}          hash: fence, node, exp, next, acked, lp, la, body, subs, c:{channel}, p:{channel},
 *                      and the replay's bytes, length, last seq and first:last seq (rb, rl, tail, hd)
 *   {p}r:{id}          list: the replay, one element per frame, `<seq>:<frame bytes>`
 *   {p}ended:{id}      string `<reason>|<at ms>|<serial>`, PX endedTtlMs
 *   {p}ended-order     list `<serial>|<at ms>|<id>`: oldest first, bounds the ended ids
 *   {p}ended-serial    counter for the above
 *   {p}mid:{principal} sorted set: message id → when processed (ms)
 *   {p}claims:{node}   pub/sub channel: claim notices for the node that lost a session
 *   {p}release:{node}  pub/sub channel: release requests for the node holding a session attached (MN-17)
 *   {p}lease:{node}    string, PX its TTL: the node's liveness lease (MN-18)
 *   {p}leased:{node}   string, EX 24 h from its last renewal: the node keeps leases (MN-18: expired, not never)
 *
 * Not for Redis Cluster: the scripts touch one session's keys and the global ended list together.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The session hash: the claim, the cursors, the record's body (encodeRecord) and channel positions. */
  session(id: string): string {
    return `${this.prefix}s:${id}`;
  }
  /** What session(id) appends the id to (COMMIT_MANY builds the keys of its sessions). */
  sessionStem(): string {
    return `${this.prefix}s:`;
  }
  /** The replay frames, oldest first (SEQ-7). */
  replay(id: string): string {
    return `${this.prefix}r:${id}`;
  }
  replayStem(): string {
    return `${this.prefix}r:`;
  }
  /** Why the id ended (RS-6, RS-11); the stem the scripts append ids to. */
  endedStem(): string {
    return `${this.prefix}ended:`;
  }
  ended(id: string): string {
    return `${this.prefix}ended:${id}`;
  }
  endedOrder(): string {
    return `${this.prefix}ended-order`;
  }
  endedSerial(): string {
    return `${this.prefix}ended-serial`;
  }
  /**
   * SEQ-8: one principal's processed message ids. The principal is the whole rest of the key and
   * the id a member of it, so ("ab", "c") and ("a", "bc") are different keys.
   */
  messageIds(principal: string): string {
    return `${this.prefix}mid:${principal}`;
  }
  /** RS-7 across nodes: where the node `nodeId` hears that another node claimed its session. */
  claimsStem(): string {
    return `${this.prefix}claims:`;
  }
  claims(nodeId: string): string {
    return `${this.prefix}claims:${nodeId}`;
  }
  /** MN-17: where the node `nodeId` hears that another node asks it to release a session. */
  releases(nodeId: string): string {
    return `${this.prefix}release:${nodeId}`;
  }
  /** MN-18: the node's liveness lease. */
  lease(nodeId: string): string {
    return `${this.prefix}lease:${nodeId}`;
  }
  /** MN-18: the node kept a lease (set with each renewal, outliving the lease): tells an expired lease from none ever. */
  leaseMark(nodeId: string): string {
    return `${this.prefix}leased:${nodeId}`;
  }
}
