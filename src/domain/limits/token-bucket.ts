/**
 * A token bucket: `burst` tokens at most, refilled at `ratePerSecond`. Each message or mutation
 * takes one; an empty bucket means RATE_LIMITED for that one, not for the connection.
 */
export interface TokenBucket {
  /** Takes a token; false when none is left. */
  take(): boolean;
  /** Tokens left now (fractional). */
  readonly available: number;
}

export function createTokenBucket(options: {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly now?: () => number;
}): TokenBucket {
  const now = options.now ?? Date.now;
  let tokens = options.burst;
  let refilledAt = now();
  const refill = () => {
    const at = now();
    tokens = Math.min(options.burst, tokens + ((at - refilledAt) / 1000) * options.ratePerSecond);
    refilledAt = at;
  };
  return {
    take() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    get available() {
      refill();
      return tokens;
    },
  };
}

/**
 * One bucket per key (a user id), created on first use. Buckets that have refilled completely
 * are forgotten once there are many, so an idle key costs nothing.
 */
export interface KeyedTokenBuckets {
  take(key: string): boolean;
  readonly size: number;
}

const PRUNE_ABOVE = 10_000;

export function createKeyedTokenBuckets(options: {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly now?: () => number;
}): KeyedTokenBuckets {
  const buckets = new Map<string, TokenBucket>();
  return {
    take(key) {
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= PRUNE_ABOVE) {
          for (const [other, candidate] of buckets)
            if (candidate.available >= options.burst) buckets.delete(other);
        }
        bucket = createTokenBucket(options);
        buckets.set(key, bucket);
      }
      return bucket.take();
    },
    get size() {
      return buckets.size;
    },
  };
}
