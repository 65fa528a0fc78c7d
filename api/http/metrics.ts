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
  const cacheEvents = new Counter({ name: 'cache_events_total', help: 'Cache lookups by outcome', labelNames: ['cache', 'outcome'] as const, registers: [registry] });
  const workflowStarts = new Counter({ name: 'workflow_starts_total', help: 'Workflows started by the API', labelNames: ['workflow'] as const, registers: [registry] });
  return {
    registry,
    httpDuration,
    workflowStarts,
    hit: (cache) => cacheEvents.inc({ cache, outcome: 'hit' }),
    miss: (cache) => cacheEvents.inc({ cache, outcome: 'miss' }),
    error: (cache) => cacheEvents.inc({ cache, outcome: 'error' }),
  };
}
