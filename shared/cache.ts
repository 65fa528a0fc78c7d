import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config';
import { MAX_VALUE_TTL_SECONDS, publishInvalidation } from './cache/invalidation';
import { TaggedLru } from './cache/lru';
import { decodeInvalidation, generationKey, INVALIDATION_CHANNEL } from './cache/tags';

export { cacheTags, appointmentTags } from './cache/tags';
export { createAppointmentInvalidator } from './cache/invalidation';

/** l1: this process's memory; l2: Redis. Redis-only caches (getOrLoad) report no level. */
export type CacheLevel = 'l1' | 'l2';

export interface CacheStats {
  hit(name: string, level?: CacheLevel): void;
  miss(name: string, level?: CacheLevel): void;
  error(name: string, level?: CacheLevel): void;
  /** An invalidation applied to this process's L1: from its own write, or from another process. */
  invalidated?(source: 'local' | 'remote'): void;
}

export interface LocalCacheOptions {
  /** Short: the L1 TTL bounds staleness if an invalidation message is ever lost. */
  ttlMs: number;
  maxEntries: number;
  /** Budget for the entries' serialised (JSON) size; the heap holds a small multiple of it. */
  maxBytes?: number;
}

/** The L1 settings from configuration (CACHE_L1_*). */
export const localCacheOptions = (c: Pick<Config, 'CACHE_L1_TTL_MS' | 'CACHE_L1_MAX_ENTRIES' | 'CACHE_L1_MAX_MB'>): LocalCacheOptions => ({
  ttlMs: c.CACHE_L1_TTL_MS, maxEntries: c.CACHE_L1_MAX_ENTRIES, maxBytes: c.CACHE_L1_MAX_MB * 1024 * 1024,
});

export interface TaggedEntry {
  /** Identifies the value; must include the clinic and every parameter the value depends on. */
  key: string;
  /** What the value is derived from (cacheTags.*); invalidating any of them retires it. */
  tags: string[];
  ttlSeconds: number;
}

/** Reads the tags' generations and the value stored under them, in one round trip. */
const READ_VERSIONED = `
local gens = {}
for i, key in ipairs(KEYS) do gens[i] = redis.call('GET', key) or '0' end
local full = ARGV[1] .. '|g' .. table.concat(gens, '.')
return {full, redis.call('GET', full)}`;

interface Flight {
  promise: Promise<unknown>;
  tags: readonly string[];
  /** An invalidation arrived while loading: the result must not be kept, nor shared with later callers. */
  stale: boolean;
}

/**
 * Cache-aside on Redis, with an optional in-process L1 for tagged entries. Any Redis failure
 * degrades to a direct load: the cache is an optimisation, never a dependency of correctness.
 *
 * Tagged entries (getOrLoadTagged) are stored in Redis under the current generations of their
 * tags, so invalidateTags() retires them by bumping counters, and a load racing an invalidation
 * writes under the old generation where no reader looks. The L1 is trusted only while this
 * process is subscribed to the invalidation channel; it is emptied whenever the subscription
 * (re)starts, since messages may have been missed in between.
 */
export class Cache {
  private readonly local: TaggedLru<unknown> | null = null;
  private readonly subscriber: Redis | null = null;
  private localTrusted = false;
  private readonly inflight = new Map<string, Flight>();

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly stats?: CacheStats,
    opts: { local?: LocalCacheOptions } = {},
  ) {
    if (opts.local && opts.local.ttlMs > 0) {
      this.local = new TaggedLru({ ttlMs: opts.local.ttlMs, maxEntries: opts.local.maxEntries, maxWeight: opts.local.maxBytes });
      // A connection in subscriber mode can send nothing else, hence its own.
      this.subscriber = redis.duplicate({ autoResubscribe: false });
      this.watchSubscriber(this.subscriber);
    }
  }

  async getOrLoad<T>(name: string, key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
    try {
      const cached = await this.redis.get(key);
      if (cached !== null) {
        this.stats?.hit(name);
        return JSON.parse(cached) as T;
      }
    } catch (err) {
      this.stats?.error(name);
      this.log.warn({ err: (err as Error).message, cache: name }, 'cache read failed; loading from database');
      return load();
    }
    this.stats?.miss(name);
    const value = await load();
    this.redis.set(key, JSON.stringify(value), 'EX', ttlSeconds).catch((err: Error) => {
      this.log.warn({ err: err.message, cache: name }, 'cache write failed');
    });
    return value;
  }

  async invalidate(...keys: string[]): Promise<void> {
    try {
      await this.redis.del(...keys);
    } catch (err) {
      // A missed invalidation is bounded by the TTL.
      this.log.warn({ err: (err as Error).message }, 'cache invalidation failed');
    }
  }

  /**
   * L1 → Redis → load. Values are shared between callers (L1, coalesced loads): treat them as
   * read-only. Concurrent misses of one key in this process share one load.
   */
  async getOrLoadTagged<T>(name: string, entry: TaggedEntry, load: () => Promise<T>): Promise<T> {
    if (entry.ttlSeconds > MAX_VALUE_TTL_SECONDS || entry.ttlSeconds < 1) throw new RangeError(`ttlSeconds must be 1–${MAX_VALUE_TTL_SECONDS}`);
    const local = this.localTrusted ? this.local : null;
    if (local) {
      const value = local.get(entry.key);
      if (value !== undefined) {
        this.stats?.hit(name, 'l1');
        return value as T;
      }
      this.stats?.miss(name, 'l1');
    }
    const joined = this.inflight.get(entry.key);
    if (joined && !joined.stale) return joined.promise as Promise<T>;

    const flight: Flight = { promise: Promise.resolve(), tags: entry.tags, stale: false };
    flight.promise = this.readThroughRedis(name, entry, load)
      .then(({ value, bytes }) => {
        if (local && bytes !== null && this.localTrusted && !flight.stale) local.set(entry.key, value, entry.tags, bytes);
        return value;
      })
      .finally(() => {
        if (this.inflight.get(entry.key) === flight) this.inflight.delete(entry.key);
      });
    this.inflight.set(entry.key, flight);
    return flight.promise as Promise<T>;
  }

  /**
   * Retires every tagged value derived from `tags`, here and in every process subscribed to the
   * channel. Never throws (see publishInvalidation).
   */
  async invalidateTags(tags: string[]): Promise<void> {
    this.dropLocal(tags, 'local');
    await publishInvalidation(this.redis, tags, this.log);
  }

  /** The L1 is in use: configured, and subscribed to invalidations right now. */
  get localActive(): boolean {
    return this.localTrusted;
  }

  /** Stops listening for invalidations; the L1 is no longer used. */
  async close(): Promise<void> {
    this.distrustLocal();
    this.subscriber?.disconnect();
  }

  /** The value, and its serialised size when known (it weighs the L1 entry). */
  private async readThroughRedis<T>(name: string, entry: TaggedEntry, load: () => Promise<T>): Promise<{ value: T; bytes: number | null }> {
    let fullKey: string;
    try {
      const [key, cached] = (await this.redis.eval(READ_VERSIONED, entry.tags.length, ...entry.tags.map(generationKey), entry.key)) as [string, string | null];
      if (cached !== null) {
        this.stats?.hit(name, 'l2');
        return { value: JSON.parse(cached) as T, bytes: cached.length };
      }
      fullKey = key;
    } catch (err) {
      this.stats?.error(name, 'l2');
      this.log.warn({ err: (err as Error).message, cache: name }, 'cache read failed; loading from database');
      return { value: await load(), bytes: null };
    }
    this.stats?.miss(name, 'l2');
    const value = await load();
    const json = JSON.stringify(value);
    this.redis.set(fullKey, json, 'EX', entry.ttlSeconds).catch((err: Error) => {
      this.log.warn({ err: err.message, cache: name }, 'cache write failed');
    });
    return { value, bytes: json.length };
  }

  private dropLocal(tags: readonly string[], source: 'local' | 'remote'): void {
    if (!this.local) return;
    this.local.dropTags(tags);
    const dropped = new Set(tags);
    for (const [key, flight] of this.inflight) {
      if (flight.tags.some((t) => dropped.has(t))) {
        flight.stale = true;
        this.inflight.delete(key);
      }
    }
    this.stats?.invalidated?.(source);
  }

  private distrustLocal(): void {
    this.localTrusted = false;
    this.local?.clear();
    for (const flight of this.inflight.values()) flight.stale = true;
    this.inflight.clear();
  }

  private watchSubscriber(sub: Redis): void {
    const subscribe = () => {
      sub.subscribe(INVALIDATION_CHANNEL).then(
        () => {
          // Whatever was cached before this point may have missed an invalidation.
          this.local?.clear();
          this.localTrusted = true;
        },
        (err: Error) => this.log.warn({ err: err.message }, 'cache invalidation channel not subscribed; L1 off until Redis reconnects'),
      );
    };
    sub.on('error', (err: Error) => this.log.debug({ err: err.message }, 'cache subscriber connection error'));
    sub.on('close', () => this.distrustLocal());
    sub.on('ready', subscribe);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== INVALIDATION_CHANNEL) return;
      const tags = decodeInvalidation(message);
      if (tags) this.dropLocal(tags, 'remote');
    });
    if (sub.status === 'ready') subscribe();
  }
}

export const cacheKeys = {
  services: (clinicId: string) => `clinic:${clinicId}:services:v1`,
};
