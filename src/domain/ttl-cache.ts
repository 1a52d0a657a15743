/**
 * A read cache with time-based expiry, for values read from the database. Writes on this
 * instance call `delete`; other instances' writes show up when the entry expires.
 */
export class TtlCache<Key, Value> {
  private readonly entries = new Map<Key, { readonly value: Value; readonly expiresAt: number }>();
  // Bumped by every invalidation, so a load that raced with a write is not cached.
  private generation = 0;

  /** @param ttlMs 0 turns caching off. @param maxEntries oldest entries are dropped past this. */
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached value, or what `load` returns (then cached). */
  async get(key: Key, load: () => Promise<Value>): Promise<Value> {
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    if (cached) this.entries.delete(key);
    const generation = this.generation;
    const value = await load();
    if (this.ttlMs > 0 && generation === this.generation) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    }
    return value;
  }

  delete(key: Key): void {
    this.generation += 1;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
