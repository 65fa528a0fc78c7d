import { TaggedLru } from './lru';

function lru(maxEntries = 3, ttlMs = 1000) {
  let now = 0;
  const cache = new TaggedLru<string>({ maxEntries, ttlMs, now: () => now });
  return { cache, advance: (ms: number) => { now += ms; } };
}

describe('TaggedLru', () => {
  it('serves an entry until its deadline, then forgets it', () => {
    const { cache, advance } = lru();
    cache.set('a', 'A', []);
    advance(999);
    expect(cache.get('a')).toBe('A');
    advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry beyond maxEntries; a read counts as use', () => {
    const { cache } = lru(3);
    cache.set('a', 'A', []);
    cache.set('b', 'B', []);
    cache.set('c', 'C', []);
    expect(cache.get('a')).toBe('A'); // b is now the oldest
    cache.set('d', 'D', []);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual(['A', 'C', 'D']);
    expect(cache.size).toBe(3);
  });

  it('drops exactly the entries carrying a dropped tag', () => {
    const { cache } = lru(10);
    cache.set('p1-monday', '1', ['p1', 'clinic']);
    cache.set('p1-tuesday', '2', ['p1']);
    cache.set('p2-monday', '3', ['p2']);
    cache.set('dashboard', '4', ['clinic']);
    expect(cache.dropTags(['p1'])).toBe(2);
    expect([cache.get('p1-monday'), cache.get('p1-tuesday'), cache.get('p2-monday'), cache.get('dashboard')]).toEqual([undefined, undefined, '3', '4']);
    expect(cache.dropTags(['clinic', 'unknown'])).toBe(1);
    expect(cache.get('dashboard')).toBeUndefined();
  });

  it('re-setting a key replaces its tags and restarts its lifetime', () => {
    const { cache, advance } = lru(10);
    cache.set('k', 'old', ['t1']);
    advance(900);
    cache.set('k', 'new', ['t2']);
    expect(cache.dropTags(['t1'])).toBe(0);
    advance(900);
    expect(cache.get('k')).toBe('new');
    expect(cache.dropTags(['t2'])).toBe(1);
  });

  it('keeps the tag index consistent through eviction and clear', () => {
    const { cache } = lru(1);
    cache.set('a', 'A', ['t']);
    cache.set('b', 'B', ['t']); // evicts a
    expect(cache.dropTags(['t'])).toBe(1);
    cache.set('c', 'C', ['t']);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.dropTags(['t'])).toBe(0);
  });

  it('stays within its weight budget, evicting the least recently used, and refuses an entry heavier than the budget', () => {
    const cache = new TaggedLru<string>({ maxEntries: 100, ttlMs: 1000, maxWeight: 10 });
    cache.set('a', 'A', [], 4);
    cache.set('b', 'B', [], 4);
    cache.get('a');
    cache.set('c', 'C', [], 4); // 12 > 10: b goes
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual(['A', undefined, 'C']);
    expect(cache.totalWeight).toBe(8);
    cache.set('huge', 'H', [], 11);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.totalWeight).toBe(8);
    cache.dropTags([]);
    cache.clear();
    expect(cache.totalWeight).toBe(0);
  });

  it('rejects a bound that would make it unbounded or useless', () => {
    expect(() => new TaggedLru({ maxEntries: 0, ttlMs: 1000 })).toThrow(RangeError);
    expect(() => new TaggedLru({ maxEntries: 10, ttlMs: 0 })).toThrow(RangeError);
    expect(() => new TaggedLru({ maxEntries: 10, ttlMs: 1000, maxWeight: 0 })).toThrow(RangeError);
  });
});
