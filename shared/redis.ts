import Redis from 'ioredis';

/**
 * Short timeouts and no offline queue: when Redis is down, cache calls fail fast and the caller
 * falls back to PostgreSQL instead of hanging (SPEC §3: the API keeps serving, slower).
 */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    connectTimeout: 2000,
    commandTimeout: 500,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
}

export type { Redis };
