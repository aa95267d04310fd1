/**
 * Small per-instance helpers that keep the warm path off the database: a TTL cache of promises
 * (concurrent callers share one load; a failed load is evicted) and a fixed-window rate limiter.
 */

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expiresAtMs: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const nowMs = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAtMs > nowMs) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const value = load();
    this.entries.set(key, { value, expiresAtMs: nowMs + this.ttlMs });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * Counts calls per key in fixed windows, in this instance's memory. Per instance on purpose: it
 * costs no database request, and N instances allow at most N times the limit, still bounded.
 */
export class WindowRateLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one call; answers how long to wait when over the limit, else 0. */
  take(key: string): number {
    const nowMs = this.now();
    const window = this.windows.get(key);
    if (!window || nowMs - window.startMs >= this.windowMs) {
      if (this.windows.size > 50_000) this.windows.clear();
      this.windows.set(key, { startMs: nowMs, count: 1 });
      return 0;
    }
    window.count += 1;
    return window.count > this.limit ? window.startMs + this.windowMs - nowMs : 0;
  }
}

/**
 * A value built on first use and kept for the life of the instance. A failed build is not kept,
 * so the next call builds again (a broken certificate or missing key fixed in the database takes
 * effect without a redeploy); concurrent first callers share one build.
 */
export function onceSucceeded<T>(build: () => Promise<T>): { get: () => Promise<T>; peek: () => Promise<T> | null } {
  let pending: Promise<T> | null = null;
  return {
    get() {
      pending ??= build().catch((error: unknown) => {
        pending = null;
        throw error;
      });
      return pending;
    },
    peek: () => pending,
  };
}
