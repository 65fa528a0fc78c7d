import { loadConfig } from '../../shared/config';

const base = { JWT_SECRET: 'x'.repeat(32), PHI_ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString('base64')}`, BLIND_INDEX_KEY: Buffer.alloc(32, 8).toString('base64') };

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ PORT: 8088, TEMPORAL_NAMESPACE: 'default', JWT_ACCESS_TTL_SECONDS: 900, WORKER_TASK_QUEUES: ['booking', 'therapy', 'payments', 'notifications', 'maintenance'] });
    expect(c.queueConcurrency.booking.maxConcurrentActivityTaskExecutions).toBe(100);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ PHI_ENCRYPTION_KEYS: 'v1:short' }, 'PHI_ENCRYPTION_KEYS'],
    [{ BLIND_INDEX_KEY: Buffer.alloc(16).toString('base64') }, 'BLIND_INDEX_KEY'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ WORKER_TASK_QUEUES: 'booking,laundry' }, 'WORKER_TASK_QUEUES'],
    [{ BOOTSTRAP_ADMIN_EMAIL: 'admin' }, 'BOOTSTRAP_ADMIN_EMAIL'],
    [{ WORKER_BOOKING_MAX_CONCURRENT_ACTIVITIES: '0' }, 'WORKER_BOOKING_MAX_CONCURRENT_ACTIVITIES'],
  ])('names the bad variable: %j', (env, name) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });

  it('requires JWT_SECRET', () => {
    expect(() => loadConfig({})).toThrow(/JWT_SECRET/);
  });

  it('reads the queues a worker serves and per-queue concurrency', () => {
    const c = loadConfig({ ...base, WORKER_TASK_QUEUES: ' booking , notifications', WORKER_NOTIFICATIONS_MAX_CONCURRENT_ACTIVITIES: '7' });
    expect(c.WORKER_TASK_QUEUES).toEqual(['booking', 'notifications']);
    expect(c.queueConcurrency.notifications.maxConcurrentActivityTaskExecutions).toBe(7);
    expect(c.queueConcurrency.booking.maxConcurrentActivityTaskExecutions).toBe(100);
  });
});
