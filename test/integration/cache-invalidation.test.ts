import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DateTime } from 'luxon';
import { createMetrics } from '../../api/http/metrics';
import { Cache, cacheTags } from '../../shared/cache';
import { createRedis } from '../../shared/redis';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';

/**
 * Cached reads (availability, day view, dashboard): evidence that they are cached, that
 * appointment changes made through the API retire them before the HTTP answer returns, in this
 * process and in other API processes (real dist/api/main.js processes, built by `npm test`),
 * and that they are still served when Redis is down.
 */
const ENTRY = path.resolve(__dirname, '../../dist/api/main.js');

let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;

const ok = <T extends Res>(res: T, status: number, what: string): T => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'PATIENT']);
});
afterAll(() => stack?.stop());

/** The value of one counter series in Prometheus text, 0 when absent. */
function counter(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const have = inner.split(',');
    if (have.length === wanted.length && wanted.every((w) => have.includes(w))) return Number(line.slice(line.indexOf('}') + 1));
  }
  return 0;
}
const cacheEvents = (text: string, cache: string, level: string, outcome: string) => counter(text, 'cache_events_total', { cache, level, outcome });
const localMetrics = () => stack.deps.metrics.registry.metrics();

const availabilityPath = (from: string, to: string, practitionerId = c.practitionerId) =>
  `/api/v1/availability?${new URLSearchParams({ practitionerId, serviceId: c.serviceId, locationId: c.locationId, from, to })}`;
const dayViewPath = (from: string, to: string) => `/api/v1/appointments?${new URLSearchParams({ from, to, practitionerId: c.practitionerId })}`;
const starts = (res: Res) => (res.body.items as { startsAt: string }[]).map((s) => s.startsAt);
const book = (startsAt: string, via = api) => via.post('/api/v1/appointments', {
  patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt,
}, c.tokens.RECEPTIONIST, c.h);
const cancel = (id: string) => api.post(`/api/v1/appointments/${id}/cancel`, { reason: 'test' }, c.tokens.RECEPTIONIST, c.h);

/** A row written behind the cache's back (no invalidation), to tell a cached answer from a fresh one. */
async function insertQuietly(startsAt: string, status = 'CONFIRMED', minutes = 30): Promise<string> {
  const id = randomUUID();
  await stack.deps.dataSource.query(
    `INSERT INTO appointments (id, clinic_id, location_id, patient_id, practitioner_id, service_id, starts_at, ends_at, status, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7::timestamptz + make_interval(mins => $9), $8, $10)`,
    [id, c.clinicId, c.locationId, c.patientId, c.practitionerId, c.serviceId, startsAt, status, minutes, `test-${id}`]);
  return id;
}

describe('cached reads in one process', () => {
  it('availability: the second read is an L1 hit, stored in Redis under the practitioner generation, which a booking bumps', async () => {
    const [from, to] = ['2027-03-01T10:00:00+05:30', '2027-03-01T12:00:00+05:30'];
    const before = await localMetrics();
    const first = ok(await api.get(availabilityPath(from, to), c.tokens.RECEPTIONIST, c.h), 200, 'first');
    const second = ok(await api.get(availabilityPath(from, to), c.tokens.RECEPTIONIST, c.h), 200, 'second');
    expect(second.body).toEqual(first.body);
    const after = await localMetrics();
    expect(cacheEvents(after, 'availability', 'l2', 'miss') - cacheEvents(before, 'availability', 'l2', 'miss')).toBe(1);
    expect(cacheEvents(after, 'availability', 'l1', 'hit') - cacheEvents(before, 'availability', 'l1', 'hit')).toBe(1);

    const genKey = `cache:gen:${cacheTags.practitioner(c.clinicId, c.practitionerId)}`;
    const gen = Number((await stack.deps.redis.get(genKey)) ?? 0);
    const stored = await stack.deps.redis.keys(`{${c.clinicId}}:availability:v2:${c.practitionerId}:*`);
    expect(stored.some((k) => k.endsWith(`|g${gen}.0`))).toBe(true);

    const booked = ok(await book(first.body.items[0].startsAt), 201, 'book');
    expect(Number(await stack.deps.redis.get(genKey))).toBe(gen + 1);
    const fresh = ok(await api.get(availabilityPath(from, to), c.tokens.RECEPTIONIST, c.h), 200, 'after booking');
    expect(starts(fresh)).toEqual(starts(first).slice(1));
    ok(await cancel(booked.body.id), 200, 'cancel');
  });

  it('day view: cached for staff, fresh right after a booking and a cancel, never shared with a patient', async () => {
    const [from, to] = ['2027-03-02T00:00:00+05:30', '2027-03-03T00:00:00+05:30'];
    const view = () => api.get(dayViewPath(from, to), c.tokens.RECEPTIONIST, c.h);
    expect(ok(await view(), 200, 'empty day').body.items).toEqual([]);
    const hitsBefore = cacheEvents(await localMetrics(), 'day-view', 'l1', 'hit');
    expect((await view()).body.items).toEqual([]);
    expect(cacheEvents(await localMetrics(), 'day-view', 'l1', 'hit')).toBe(hitsBefore + 1);

    // Behind the cache's back: still the cached (empty) page. Through the API: fresh at once.
    await insertQuietly('2027-03-02T09:00:00+05:30');
    expect((await view()).body.items).toEqual([]);
    const booked = ok(await book('2027-03-02T10:00:00+05:30'), 201, 'book');
    const afterBooking = (await view()).body.items as { id: string; status: string }[];
    expect(afterBooking.map((a) => a.status)).toEqual(['CONFIRMED', 'CONFIRMED']);
    expect(afterBooking[1].id).toBe(booked.body.id);

    ok(await cancel(booked.body.id), 200, 'cancel');
    expect(((await view()).body.items as { status: string }[]).map((a) => a.status)).toEqual(['CONFIRMED', 'CANCELLED']);

    // A patient asking the same question sees only their own appointments (none), not the staff page.
    const mine = ok(await api.get(dayViewPath(from, to), c.tokens.PATIENT, c.h), 200, 'patient');
    expect(mine.body.items).toEqual([]);
  });

  it('dashboard: today by status in the clinic zone, queue length, no-show rate; fresh after booking and cancelling', async () => {
    // A zone where "now + 90 min" is still today, so a bookable slot lands in today's figures.
    const zone = ['Asia/Kolkata', 'Europe/London', 'America/New_York', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']
      .find((z) => { const h = DateTime.now().setZone(z).hour; return h >= 1 && h < 20; })!;
    ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { timezone: zone }, su), 200, 'clinic zone');
    const today = DateTime.now().setZone(zone).startOf('day');
    const at = (d: DateTime) => d.toUTC().toISO()!;
    await insertQuietly(at(today.plus({ minutes: 10 })), 'CHECKED_IN', 10);
    await insertQuietly(at(today.plus({ minutes: 20 })), 'CANCELLED', 10);
    for (const days of [1, 2, 3]) await insertQuietly(at(today.minus({ days }).plus({ hours: 1 })), 'COMPLETED');
    await insertQuietly(at(today.minus({ days: 5 }).plus({ hours: 1 })), 'NO_SHOW');
    await insertQuietly(at(today.minus({ days: 40 }).plus({ hours: 1 })), 'NO_SHOW'); // outside the 30-day window

    const dashboard = () => api.get(`/api/v1/clinics/${c.clinicId}/dashboard`, c.tokens.RECEPTIONIST);
    const first = ok(await dashboard(), 200, 'dashboard');
    expect(first.body).toMatchObject({
      clinicId: c.clinicId, timezone: zone, date: today.toISODate(),
      appointments: { total: 2, byStatus: { PENDING_PAYMENT: 0, CONFIRMED: 0, CHECKED_IN: 1, COMPLETED: 0, CANCELLED: 1, NO_SHOW: 0 } },
      queueLength: 1,
      noShowRate: { windowDays: 30, noShows: 1, completed: 3, rate: 0.25 },
    });
    const hitsBefore = cacheEvents(await localMetrics(), 'dashboard', 'l1', 'hit');
    expect((await dashboard()).body).toEqual(first.body);
    expect(cacheEvents(await localMetrics(), 'dashboard', 'l1', 'hit')).toBe(hitsBefore + 1);

    const soon = DateTime.now().plus({ minutes: 90 }).startOf('hour');
    const booked = ok(await book(at(soon)), 201, 'book today');
    expect((await dashboard()).body.appointments).toMatchObject({ total: 3, byStatus: { CONFIRMED: 1, CHECKED_IN: 1, CANCELLED: 1 } });
    ok(await cancel(booked.body.id), 200, 'cancel');
    expect((await dashboard()).body.appointments).toMatchObject({ total: 3, byStatus: { CONFIRMED: 0, CANCELLED: 2 } });
  });

  it('dashboard is for staff of that clinic: a patient and another clinic\'s staff get 403', async () => {
    expect((await api.get(`/api/v1/clinics/${c.clinicId}/dashboard`, c.tokens.PATIENT)).status).toBe(403);
    const other = await createClinic(api, su, ['RECEPTIONIST']);
    expect((await api.get(`/api/v1/clinics/${c.clinicId}/dashboard`, other.tokens.RECEPTIONIST)).status).toBe(403);
    ok(await api.get(`/api/v1/clinics/${c.clinicId}/dashboard`, c.tokens.DOCTOR), 200, 'doctor');
  });
});

describe('Cache against real Redis', () => {
  const log = () => stack.deps.log;
  const tag = () => cacheTags.practitioner(randomUUID(), randomUUID());
  const waitFor = async (check: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    if (!check()) throw new Error(`timed out waiting for ${what}`);
  };

  it('shares one load between concurrent misses, and does not keep a load that an invalidation overtook', async () => {
    const metrics = createMetrics();
    const reader = new Cache(stack.deps.redis, log(), metrics, { local: { ttlMs: 60_000, maxEntries: 100 } });
    const writer = new Cache(stack.deps.redis, log());
    try {
      const t = tag();
      const entry = { key: `test:${randomUUID()}`, tags: [t], ttlSeconds: 60 };
      // Wait until the reader's subscriber is up, so its L1 is in use.
      await waitFor(() => reader.localActive, 'subscription');

      let loads = 0;
      let release!: (v: string) => void;
      const slow = () => { loads++; return new Promise<string>((r) => { release = r; }); };
      const a = reader.getOrLoadTagged('test', entry, slow);
      const b = reader.getOrLoadTagged('test', entry, slow);
      await waitFor(() => loads === 1, 'first load');
      const remoteBefore = counter(await metrics.registry.metrics(), 'cache_invalidations_total', { source: 'remote' });
      await writer.invalidateTags([t]);
      // The message reaches the reader's subscriber while its load is still running.
      let remote = remoteBefore;
      for (let i = 0; i < 100 && remote === remoteBefore; i++) {
        await new Promise((r) => setTimeout(r, 20));
        remote = counter(await metrics.registry.metrics(), 'cache_invalidations_total', { source: 'remote' });
      }
      expect(remote).toBe(remoteBefore + 1);
      release('before the change');
      expect(await Promise.all([a, b])).toEqual(['before the change', 'before the change']);
      expect(loads).toBe(1);
      // The overtaken value went neither to L1 nor to the generation readers now use.
      expect(await reader.getOrLoadTagged('test', entry, async () => { loads++; return 'after the change'; })).toBe('after the change');
      expect(loads).toBe(2);
      expect(await reader.getOrLoadTagged('test', entry, async () => { loads++; return 'unexpected'; })).toBe('after the change');
      expect(loads).toBe(2);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

describe('two API processes (dist/api/main.js)', () => {
  const children: ChildProcess[] = [];
  let A: Api;
  let B: Api;
  let baseB: string;

  async function freePort(): Promise<number> {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function startApi(): Promise<string> {
    const port = await freePort();
    // A long L1 lifetime: only an invalidation message can explain a fresh answer within the test.
    const child = spawn(process.execPath, [ENTRY], {
      env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', CACHE_L1_TTL_MS: '60000' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      if (child.exitCode !== null) throw new Error(`API process exited ${child.exitCode}: ${stderr}`);
      const up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (up) return base;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`API process did not answer: ${stderr}`);
  }

  beforeAll(async () => {
    const [a, b] = await Promise.all([startApi(), startApi()]);
    A = client(a);
    B = client(b);
    baseB = b;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    })));
  });

  const metricsOfB = async () => ok(await client(baseB).get('/metrics', su), 200, 'metrics of B').body as string;

  it('a booking through A retires what B holds in its L1 (read through B, book through A, read through B)', async () => {
    const [from, to] = ['2027-04-05T10:00:00+05:30', '2027-04-05T12:00:00+05:30'];
    const slots = ['04:30', '05:00', '05:30', '06:00'].map((t) => `2027-04-05T${t}:00.000Z`);
    const readB = () => B.get(availabilityPath(from, to), c.tokens.RECEPTIONIST, c.h);

    expect(starts(ok(await readB(), 200, 'B first read'))).toEqual(slots);
    const m0 = await metricsOfB();
    expect(starts(await readB())).toEqual(slots);
    const m1 = await metricsOfB();
    expect(cacheEvents(m1, 'availability', 'l1', 'hit')).toBe(cacheEvents(m0, 'availability', 'l1', 'hit') + 1);

    // B answers from its L1: a row written behind the cache's back does not show...
    await insertQuietly(slots[0]);
    expect(starts(await readB())).toEqual(slots);
    // ...until a booking through A, whose activity publishes the invalidation B listens to.
    ok(await book(slots[2], A), 201, 'book through A');
    expect(starts(await readB())).toEqual([slots[1], slots[3]]);
    const m2 = await metricsOfB();
    expect(counter(m2, 'cache_invalidations_total', { source: 'remote' })).toBeGreaterThan(counter(m1, 'cache_invalidations_total', { source: 'remote' }));
  });

  it('the day view and dashboard held by B are fresh right after a booking and a cancel through A', async () => {
    const [from, to] = ['2027-04-06T00:00:00+05:30', '2027-04-07T00:00:00+05:30'];
    const viewB = () => B.get(dayViewPath(from, to), c.tokens.RECEPTIONIST, c.h);
    const dashB = () => B.get(`/api/v1/clinics/${c.clinicId}/dashboard`, c.tokens.RECEPTIONIST);
    expect(ok(await viewB(), 200, 'B day view').body.items).toEqual([]);
    expect((await viewB()).body.items).toEqual([]);
    const dashboard = ok(await dashB(), 200, 'B dashboard').body;

    const booked = ok(await book('2027-04-06T11:00:00+05:30', A), 201, 'book through A');
    expect(((await viewB()).body.items as { id: string }[]).map((a) => a.id)).toEqual([booked.body.id]);
    // Not today's appointment, but the dashboard was recomputed (the clinic tag was bumped).
    expect((await dashB()).body.generatedAt).not.toBe(dashboard.generatedAt);

    ok(await A.post(`/api/v1/appointments/${booked.body.id}/cancel`, { reason: 'test' }, c.tokens.RECEPTIONIST, c.h), 200, 'cancel through A');
    expect(((await viewB()).body.items as { status: string }[]).map((a) => a.status)).toEqual(['CANCELLED']);
  });
});

describe('Redis down', () => {
  it('availability, day view and dashboard are still served, from PostgreSQL, without L1', async () => {
    const deadRedis = createRedis('redis://127.0.0.1:1/0');
    deadRedis.on('error', () => undefined);
    const metrics = createMetrics();
    const cache = new Cache(deadRedis, stack.deps.log, metrics, { local: { ttlMs: 60_000, maxEntries: 100 } });
    const server = createServer(testApp(stack, { redis: deadRedis, cache, metrics }).callback()).listen(0);
    const down = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const [from, to] = ['2027-05-03T10:00:00+05:30', '2027-05-03T11:00:00+05:30'];
      const read = () => down.get(availabilityPath(from, to), c.tokens.RECEPTIONIST, c.h);
      expect(starts(ok(await read(), 200, 'availability without Redis'))).toEqual(['2027-05-03T04:30:00.000Z', '2027-05-03T05:00:00.000Z']);
      expect(starts(await read())).toHaveLength(2);
      const text = await metrics.registry.metrics();
      expect(cacheEvents(text, 'availability', 'l2', 'error')).toBe(2);
      expect(cacheEvents(text, 'availability', 'l1', 'hit')).toBe(0);

      // The write goes through the healthy stack; the Redis-less API reads PostgreSQL and agrees at once.
      const booked = ok(await book('2027-05-03T10:30:00+05:30'), 201, 'book');
      expect(starts(await read())).toEqual(['2027-05-03T04:30:00.000Z']);
      ok(await down.get(dayViewPath('2027-05-03T00:00:00+05:30', '2027-05-04T00:00:00+05:30'), c.tokens.RECEPTIONIST, c.h), 200, 'day view without Redis');
      ok(await down.get(`/api/v1/clinics/${c.clinicId}/dashboard`, c.tokens.RECEPTIONIST), 200, 'dashboard without Redis');
      ok(await cancel(booked.body.id), 200, 'cancel');
    } finally {
      server.close();
      await cache.close();
      deadRedis.disconnect();
    }
  });
});
