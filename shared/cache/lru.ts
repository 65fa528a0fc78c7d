/**
 * The in-process (L1) store: LRU bounded in entries and in total weight (the caller's size
 * estimate, e.g. JSON length: a month of 5-minute slots is far bigger than a day view), with a
 * per-entry deadline and a tag index, so one invalidation message can drop every entry derived
 * from, say, one practitioner's calendar. Pure data structure (the clock is injected); the cache
 * around it decides when to trust it.
 */
export interface LruOptions {
  maxEntries: number;
  ttlMs: number;
  /** Bound on the sum of entry weights; unbounded when absent. */
  maxWeight?: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  tags: readonly string[];
  weight: number;
}

export class TaggedLru<V> {
  // A Map iterates in insertion order: re-inserting on read keeps the least recently used first.
  private readonly entries = new Map<string, Entry<V>>();
  private readonly byTag = new Map<string, Set<string>>();
  private readonly now: () => number;
  private weight = 0;

  constructor(private readonly opts: LruOptions) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!(opts.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    if (opts.maxWeight !== undefined && !(opts.maxWeight > 0)) throw new RangeError('maxWeight must be positive');
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get totalWeight(): number {
    return this.weight;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`; one heavier than the whole budget is not stored at all. */
  set(key: string, value: V, tags: readonly string[], weight = 1): void {
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    const maxWeight = this.opts.maxWeight ?? Infinity;
    if (weight > maxWeight) return;
    this.entries.set(key, { value, expiresAt: this.now() + this.opts.ttlMs, tags, weight });
    this.weight += weight;
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
    while (this.entries.size > this.opts.maxEntries || this.weight > maxWeight) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry<V>];
      this.remove(oldestKey, oldest);
    }
  }

  /** Drops every entry carrying any of `tags`; returns how many went. */
  dropTags(tags: readonly string[]): number {
    let dropped = 0;
    for (const tag of tags) {
      for (const key of this.byTag.get(tag) ?? []) {
        const entry = this.entries.get(key);
        if (entry) {
          this.remove(key, entry);
          dropped++;
        }
      }
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
    this.byTag.clear();
    this.weight = 0;
  }

  private remove(key: string, entry: Entry<V>): void {
    this.entries.delete(key);
    this.weight -= entry.weight;
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.byTag.delete(tag);
    }
  }
}
