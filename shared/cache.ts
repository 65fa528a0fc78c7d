import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface CacheStats { hit(name: string): void; miss(name: string): void; error(name: string): void }

/**
 * Cache-aside on Redis. Any Redis failure degrades to a direct load: the cache is an
 * optimisation, never a dependency of correctness.
 */
export class Cache {
  constructor(private readonly redis: Redis, private readonly log: Logger, private readonly stats?: CacheStats) {}

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
}

export const cacheKeys = {
  services: (clinicId: string) => `clinic:${clinicId}:services:v1`,
};
