import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheStats } from '../../shared/cache';

export interface Metrics extends CacheStats {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  workflowStarts: Counter<'workflow'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // level: l1 (in-process) or l2 (Redis) for two-level caches; absent for Redis-only caches.
  const cacheEvents = new Counter({
    name: 'cache_events_total', help: 'Cache lookups by cache, level and outcome', labelNames: ['cache', 'level', 'outcome'] as const, registers: [registry],
  });
  const cacheInvalidations = new Counter({
    name: 'cache_invalidations_total', help: 'Invalidations applied to this process\'s L1 cache, from its own writes (local) or other processes (remote)',
    labelNames: ['source'] as const, registers: [registry],
  });
  const workflowStarts = new Counter({ name: 'workflow_starts_total', help: 'Workflows started by the API', labelNames: ['workflow'] as const, registers: [registry] });
  return {
    registry,
    httpDuration,
    workflowStarts,
    hit: (cache, level) => cacheEvents.inc(level ? { cache, level, outcome: 'hit' } : { cache, outcome: 'hit' }),
    miss: (cache, level) => cacheEvents.inc(level ? { cache, level, outcome: 'miss' } : { cache, outcome: 'miss' }),
    error: (cache, level) => cacheEvents.inc(level ? { cache, level, outcome: 'error' } : { cache, outcome: 'error' }),
    invalidated: (source) => cacheInvalidations.inc({ source }),
  };
}
