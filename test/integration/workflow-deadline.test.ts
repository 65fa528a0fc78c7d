import { randomUUID } from 'node:crypto';
import type { QueryRunner } from 'typeorm';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Every HTTP request that waits on a workflow has a deadline (WORKFLOW_CALL_TIMEOUT_MS), answered
 * with a 504 problem (issue 9). The journey is kept from answering by a lock the test holds on the
 * row its activity must write: the activity waits and retries, the caller does not. Once the lock
 * goes, the journey finishes the work the caller was told may still finish.
 */
const DEADLINE_MS = 1500;

let stack: Stack;
let api: Api;
let c: ClinicFixture;

beforeAll(async () => {
  stack = await startStack({ env: { WORKFLOW_CALL_TIMEOUT_MS: String(DEADLINE_MS) } });
  api = client(stack.baseUrl);
  c = await createClinic(api, await adminToken(api), ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
});

afterAll(() => stack?.stop());

async function holding<T>(lock: (tx: QueryRunner) => Promise<unknown>, fn: () => Promise<T>): Promise<T> {
  const tx = stack.deps.dataSource.createQueryRunner();
  await tx.connect();
  await tx.startTransaction();
  try {
    await lock(tx);
    return await fn();
  } finally {
    await tx.rollbackTransaction();
    await tx.release();
  }
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const timed = async <T>(fn: () => Promise<T>) => {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
};

describe('a request waiting on a journey that does not answer', () => {
  it('books: 504 problem at the deadline while the slot is held elsewhere, booked once it is free', async () => {
    const startsAt = nextSlot(5);
    const book = { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt };
    const key = randomUUID();
    const { value: res, ms } = await holding(
      // An uncommitted booking of the same slot: the journey's insert waits on its exclusion check.
      (tx) => tx.query(
        `INSERT INTO appointments (id, clinic_id, location_id, patient_id, practitioner_id, service_id, starts_at, ends_at, status, workflow_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7::timestamptz + interval '30 minutes', 'CONFIRMED', $8)`,
        [randomUUID(), c.clinicId, c.locationId, c.patientId, c.practitionerId, c.serviceId, startsAt, `test-${randomUUID()}`]),
      () => timed(() => api.post('/api/v1/appointments', book, c.tokens.RECEPTIONIST, { ...c.h, 'idempotency-key': key })),
    );
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.type).toBe('https://clinic-backend.dev/problems/workflow-timeout');
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(ms).toBeLessThan(DEADLINE_MS + 3000);
    await eventually(async () => (await stack.deps.dataSource.query(`SELECT 1 FROM appointments WHERE clinic_id = $1 AND starts_at = $2`, [c.clinicId, startsAt])).length === 1, 'the booking');
  });

  it('cancels: 504 problem at the deadline while the row is locked, cancelled once it is free', async () => {
    const booked = await api.post('/api/v1/appointments', {
      patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: nextSlot(5),
    }, c.tokens.RECEPTIONIST, c.h);
    expect(booked.status).toBe(201);
    const id = booked.body.id;
    const { value: res, ms } = await holding(
      (tx) => tx.query(`SELECT 1 FROM appointments WHERE id = $1 FOR UPDATE`, [id]),
      () => timed(() => api.post(`/api/v1/appointments/${id}/cancel`, { reason: 'patient called' }, c.tokens.RECEPTIONIST, c.h)),
    );
    expect(res.status).toBe(504);
    expect(res.body.type).toBe('https://clinic-backend.dev/problems/workflow-timeout');
    expect(ms).toBeLessThan(DEADLINE_MS + 3000);
    await eventually(async () => (await api.get(`/api/v1/appointments/${id}`, c.tokens.RECEPTIONIST, c.h)).body.status === 'CANCELLED', 'the cancel');
  });
});
