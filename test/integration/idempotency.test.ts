import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource, QueryRunner } from 'typeorm';
import { idFromKey } from '../../api/commands/idempotency';
import { holdLease } from '../../api/commands/idempotency-liveness';
import type { ApiDeps } from '../../api/http/state';
import { Cache } from '../../shared/cache';
import { createAppDataSource } from '../../shared/db/data-source';
import { createRedis } from '../../shared/redis';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';
import { tcpProxy } from '../support/tcp-proxy';

/**
 * Idempotency-Key on journey-creating POSTs (SPEC §7), issue 15 and issue 9 item 6: a retry
 * while the first request runs is 409 with Retry-After; a retry of a request that can no longer
 * finish learns its outcome at once, or takes its claim over.
 */

let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su);
});
afterAll(() => stack?.stop());

const bodyFor = (startsAt: string) => ({ patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt });
const bookVia = (http: Api, startsAt: string, key?: string) =>
  http.post('/api/v1/appointments', bodyFor(startsAt), c.tokens.RECEPTIONIST, { ...c.h, ...(key ? { 'idempotency-key': key } : {}) });
const book = (startsAt: string, key?: string) => bookVia(api, startsAt, key);
const receptionist = () => c.userIds.RECEPTIONIST;

const activeRows = async (startsAt: string): Promise<{ id: string }[]> => stack.deps.dataSource.query(
  `SELECT id FROM appointments WHERE clinic_id = $1 AND practitioner_id = $2 AND starts_at = $3 AND status <> 'CANCELLED'`,
  [c.clinicId, c.practitionerId, startsAt]);

const claimOf = async (key: string) => {
  const [row] = await stack.deps.dataSource.query(`SELECT * FROM idempotency_keys WHERE user_id = $1 AND key = $2`, [receptionist(), key]);
  return row as { response_status: number | null; holder: string | null; claim_token: string | null } | undefined;
};

/** Rewrites the key's claim as open and held by another API process (which may or may not still run). */
const openAsHeldElsewhere = async (key: string, token: string, heartbeatAgeSeconds = 0) => {
  await stack.deps.dataSource.query(
    `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, holder = 'api-elsewhere:4242', claim_token = $3,
       heartbeat_at = now() - make_interval(secs => $4) WHERE user_id = $1 AND key = $2`, [receptionist(), key, token, heartbeatAgeSeconds]);
};

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Holds the practitioner's row FOR UPDATE: the booking activity's INSERT (its foreign-key check
 * takes FOR KEY SHARE on that row) waits, so a booking stays in flight while the test acts.
 */
async function lockPractitioner(): Promise<{ runner: QueryRunner; pid: number }> {
  const runner = stack.deps.dataSource.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  const [{ pid }] = await runner.query(`SELECT pg_backend_pid() AS pid`);
  await runner.query(`SELECT 1 FROM practitioners WHERE clinic_id = $1 AND id = $2 FOR UPDATE`, [c.clinicId, c.practitionerId]);
  return { runner, pid };
}
const bookingBlockedBy = (pid: number) => until('the booking INSERT to wait on the lock', 20_000, async () => {
  const [{ n }] = await stack.deps.dataSource.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) AND query ILIKE '%INSERT INTO%appointments%'`, [pid]);
  return n > 0 ? true : undefined;
});

/** An API process of its own on the stack's Temporal, workers and Redis, with other dependencies. */
async function apiWith(deps: Partial<ApiDeps>): Promise<{ http: Api; close(): Promise<void> }> {
  const { dataSource, ...rest } = deps;
  const server: Server = createServer(testApp(stack, rest, dataSource).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    http: client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('Idempotency-Key while the first request runs', () => {
  it('answers 409 idempotency-key-in-progress with Retry-After, then replays the first answer', async () => {
    const startsAt = nextSlot();
    const key = `inflight-${randomUUID()}`;
    const lock = await lockPractitioner();
    let first: Promise<Awaited<ReturnType<typeof book>>> | undefined;
    try {
      first = book(startsAt, key);
      await bookingBlockedBy(lock.pid);
      const second = await book(startsAt, key);
      expect(second.status).toBe(409);
      expect(second.headers.get('content-type')).toContain('application/problem+json');
      expect(second.body.type).toMatch(/\/idempotency-key-in-progress$/);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await lock.runner.commitTransaction();
      await lock.runner.release();
    }
    const done = await first!;
    expect(done.status).toBe(201);
    const replay = await book(startsAt, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(done.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await activeRows(startsAt)).toHaveLength(1);
  });

  it('answers 409 with Retry-After while another API process holding the key is alive, and takes the claim over once it is gone', async () => {
    const startsAt = nextSlot();
    const key = `elsewhere-${randomUUID()}`;
    // A first answer under the key (the slot is taken), then the claim made open again and held elsewhere.
    const blocker = await book(startsAt);
    expect(blocker.status).toBe(201);
    expect((await book(startsAt, key)).status).toBe(409);
    const token = randomUUID();
    await openAsHeldElsewhere(key, token);
    const elsewhere = await holdLease(stack.deps.redis, token, async () => undefined);
    try {
      const busy = await book(startsAt, key);
      expect(busy.status).toBe(409);
      expect(busy.body.type).toMatch(/\/idempotency-key-in-progress$/);
      expect(busy.headers.get('retry-after')).toBe('1');
    } finally {
      elsewhere.release();
    }
    // Its process died before booking anything; the slot is free now.
    expect((await api.post(`/api/v1/appointments/${blocker.body.id}/cancel`, { reason: 'freed for the retry' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);
    const retry = await book(startsAt, key);
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(idFromKey(receptionist(), key));
    expect(await activeRows(startsAt)).toEqual([{ id: retry.body.id }]);
    expect(await claimOf(key)).toMatchObject({ response_status: 201 });
  });
});

describe('Idempotency-Key after the request holding it can no longer finish', () => {
  it('answers 201 with the booking its journey made, at once, and records it', async () => {
    const startsAt = nextSlot();
    const key = `crashed-${randomUUID()}`;
    const first = await book(startsAt, key);
    expect(first.status).toBe(201);
    // As if the API process had died after the booking, before recording the answer (its heartbeat still fresh).
    await openAsHeldElsewhere(key, randomUUID());
    const started = Date.now();
    const retry = await book(startsAt, key);
    expect(retry.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(retry.body).toEqual(first.body);
    expect(await claimOf(key)).toMatchObject({ response_status: 201 });
    expect((await book(startsAt, key)).headers.get('idempotent-replayed')).toBe('true');
    expect(await activeRows(startsAt)).toHaveLength(1);
  });

  it('without Redis, reads the claim heartbeat: a fresh one is a running request (409), a stale one is taken over', async () => {
    const startsAt = nextSlot();
    const key = `no-redis-${randomUUID()}`;
    const blocker = await book(startsAt);
    expect((await book(startsAt, key)).status).toBe(409);
    expect((await api.post(`/api/v1/appointments/${blocker.body.id}/cancel`, { reason: 'freed' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);

    const deadRedis = createRedis('redis://127.0.0.1:1/0');
    deadRedis.on('error', () => undefined);
    const noRedis = await apiWith({ redis: deadRedis, cache: new Cache(deadRedis, stack.deps.log, stack.deps.metrics) });
    try {
      await openAsHeldElsewhere(key, randomUUID(), 1);
      const busy = await bookVia(noRedis.http, startsAt, key);
      expect(busy.status).toBe(409);
      expect(busy.headers.get('retry-after')).toBe('1');
      await openAsHeldElsewhere(key, randomUUID(), 60);
      const retry = await bookVia(noRedis.http, startsAt, key);
      expect(retry.status).toBe(201);
      expect(await activeRows(startsAt)).toEqual([{ id: idFromKey(receptionist(), key) }]);
    } finally {
      await noRedis.close();
      deadRedis.disconnect();
    }
  });

  it('takes over a claim written before holders were recorded, once its heartbeat (its creation) is old', async () => {
    const startsAt = nextSlot();
    const key = `legacy-${randomUUID()}`;
    const blocker = await book(startsAt);
    expect((await book(startsAt, key)).status).toBe(409);
    expect((await api.post(`/api/v1/appointments/${blocker.body.id}/cancel`, { reason: 'freed' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);
    await stack.deps.dataSource.query(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, holder = NULL, claim_token = NULL, heartbeat_at = now() - interval '1 minute'
       WHERE user_id = $1 AND key = $2`, [receptionist(), key]);
    const retry = await book(startsAt, key);
    expect(retry.status).toBe(201);
    expect(await activeRows(startsAt)).toEqual([{ id: idFromKey(receptionist(), key) }]);
  });

  it('PostgreSQL cut mid-booking: the retry with the same key gets 201 with the same appointment within seconds of recovery, one row', async () => {
    const proxy = await tcpProxy(5432);
    const url = new URL(stack.deps.config.DATABASE_URL);
    url.port = String(proxy.port);
    const db: DataSource = await createAppDataSource({ url: url.toString(), poolSize: 4, appRole: stack.deps.config.DATABASE_APP_ROLE }).initialize();
    const cutApi = await apiWith({ dataSource: db });
    const startsAt = nextSlot();
    const key = `pg-cut-${randomUUID()}`;
    try {
      const lock = await lockPractitioner();
      let first;
      try {
        const pending = bookVia(cutApi.http, startsAt, key);
        // The claim is written and the journey is booking (its activity has its own connection, not through the proxy).
        await bookingBlockedBy(lock.pid);
        await proxy.cut();
        await lock.runner.commitTransaction();
        first = await pending;
      } finally {
        if (lock.runner.isTransactionActive) await lock.runner.rollbackTransaction();
        await lock.runner.release();
      }
      // The booking was made; its answer (or its audit row, written after it) could not be recorded: 201, or 503.
      expect([201, 503]).toContain(first.status);
      expect((await claimOf(key))?.response_status).toBeNull();
      const duringOutage = await bookVia(cutApi.http, startsAt, key);
      expect(duringOutage.status).toBe(503);

      await proxy.restore();
      const recovered = Date.now();
      const retry = await until('201 for the retry', 5000, async () => {
        const res = await bookVia(cutApi.http, startsAt, key);
        return res.status === 201 ? res : undefined;
      });
      expect(Date.now() - recovered).toBeLessThan(5000);
      if (first.status === 201) expect(retry.body.id).toBe(first.body.id);
      expect(retry.body.id).toBe(idFromKey(receptionist(), key));
      expect(await activeRows(startsAt)).toEqual([{ id: idFromKey(receptionist(), key) }]);
      expect(await claimOf(key)).toMatchObject({ response_status: 201 });
    } finally {
      await cutApi.close();
      await proxy.cut();
      await db.destroy();
    }
  });
});

describe('Idempotency-Key claim races', () => {
  it('claims the key again when it is freed between the claim attempt and the read (never 500)', async () => {
    const startsAt = nextSlot();
    const key = `race-${randomUUID()}`;
    // An open claim, freed by its holder right after this request's INSERT found it.
    await stack.deps.dataSource.query(`INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, 'another request')`, [receptionist(), key]);
    let freed = false;
    const app = stack.appDataSource;
    const racing = new Proxy(app, {
      get(target, prop) {
        if (prop === 'query') {
          return async (sql: string, params?: unknown[]) => {
            const rows = await target.query(sql, params);
            if (!freed && /^\s*INSERT INTO idempotency_keys/.test(sql) && rows.length === 0) {
              freed = true;
              await stack.deps.dataSource.query(`DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2`, [receptionist(), key]);
            }
            return rows;
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const raced = await apiWith({ dataSource: racing });
    try {
      const res = await bookVia(raced.http, startsAt, key);
      expect(freed).toBe(true);
      expect(res.status).toBe(201);
      expect(await activeRows(startsAt)).toEqual([{ id: res.body.id }]);
    } finally {
      await raced.close();
    }
  });
});
