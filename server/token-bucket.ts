/**
 * Token buckets for the per-IP upgrade limit (HS-5) and the per-session message
 * limit (BP-14). Time comes from the caller's clock, so tests need no sleeps.
 */
export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  readonly ratePerSecond: number;
  /** Bucket size: how many may come at once. */
  readonly burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly opts: TokenBucketOptions, nowMs: number) {
    this.tokens = opts.burst;
    this.at = nowMs;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.at);
    this.tokens = Math.min(this.opts.burst, this.tokens + (elapsed * this.opts.ratePerSecond) / 1000);
    this.at = nowMs;
  }

  /** Take one token if there is one. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Ms until the next token (0 if one is there), for Retry-After (HS-5). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    if (this.tokens >= 1) return 0;
    return this.opts.ratePerSecond > 0 ? Math.ceil(((1 - this.tokens) * 1000) / this.opts.ratePerSecond) : Infinity;
  }

  /** Full again: the bucket can be forgotten without changing any answer. */
  isIdle(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.opts.burst;
  }
}

/** Buckets keyed by client address (HS-5), forgotten once full so memory follows active clients. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly opts: TokenBucketOptions) {}

  /** Take a token for `key`; on refusal, the ms until one is free. */
  take(key: string, nowMs: number): { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number } {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.opts, nowMs);
      this.buckets.set(key, b);
    }
    if (b.take(nowMs)) return { ok: true };
    return { ok: false, retryAfterMs: b.waitMs(nowMs) };
  }

  prune(nowMs: number): void {
    for (const [k, b] of this.buckets) if (b.isIdle(nowMs)) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
