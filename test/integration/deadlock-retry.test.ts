import { randomUUID } from 'node:crypto';
import { createBookingActivities } from '../../activities/booking';
import { runInClinic } from '../../shared/db/tenant-context';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * The booking activity retries a transaction PostgreSQL aborted as a deadlock victim (40P01)
 * itself, instead of failing the attempt (issue 9). The deadlock is real: a test transaction holds
 * a booking of the room and, while the activity's insert waits on it, books the practitioner the
 * activity's row already holds. The activity detects the cycle first (the test transaction's own
 * deadlock_timeout is long), is aborted, retries, and books once the test transaction is gone.
 */
let stack: Stack;
let c: ClinicFixture;
let otherPractitionerId: string;

beforeAll(async () => {
  stack = await startStack({ queues: [] });
  const api = client(stack.baseUrl);
  const su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
  const user = await api.post('/api/v1/users', { email: `doc2-${c.slug}@test.local`, name: 'Second doctor', role: 'DOCTOR', password: `pw-${c.slug}-doc2-long` }, su, c.h);
  const practitioner = await api.post('/api/v1/practitioners', { userId: user.body.id, locationIds: [c.locationId] }, su, c.h);
  expect(practitioner.status).toBe(201);
  otherPractitionerId = practitioner.body.id;
});

afterAll(() => stack?.stop());

async function deadlocks(): Promise<number> {
  const [{ n }] = await stack.deps.dataSource.query(`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`);
  return n;
}

it('books after being chosen as a deadlock victim (40P01), retrying its own transaction', async () => {
  const startsAt = new Date(nextSlot(6));
  const endsAt = new Date(startsAt.getTime() + 30 * 60_000);
  const insert = (practitionerId: string, roomId: string | null): [string, unknown[]] => [
    `INSERT INTO appointments (id, clinic_id, location_id, patient_id, practitioner_id, room_id, service_id, starts_at, ends_at, status, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'CONFIRMED', $10)`,
    [randomUUID(), c.clinicId, c.locationId, c.patientId, practitionerId, roomId, c.serviceId, startsAt, endsAt, `test-${randomUUID()}`],
  ];
  const before = await deadlocks();
  const transactions = jest.spyOn(stack.appDataSource, 'transaction');
  const activities = createBookingActivities({ dataSource: stack.appDataSource });

  const tx = stack.deps.dataSource.createQueryRunner();
  await tx.connect();
  await tx.startTransaction();
  let booking: Promise<unknown> | undefined;
  try {
    await tx.query(`SET LOCAL deadlock_timeout = '30s'`);
    await tx.query(...insert(otherPractitionerId, c.roomId)); // holds the room
    const appointmentId = randomUUID();
    booking = runInClinic(c.clinicId, () => activities.bookAppointment({
      appointmentId, clinicId: c.clinicId, actorUserId: c.userIds.RECEPTIONIST, patientId: c.patientId, practitionerId: c.practitionerId,
      serviceId: c.serviceId, locationId: c.locationId, roomId: c.roomId, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(),
      mode: 'IN_PERSON', requiresPayment: false,
    }));
    booking.catch(() => undefined);
    // The activity's row is in (its practitioner is taken) and it waits on the room this transaction holds.
    const waiting = Date.now() + 10_000;
    while (!(await stack.deps.dataSource.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO%appointments%' AND pid <> pg_backend_pid()`)).length) {
      if (Date.now() > waiting) throw new Error('the activity never waited on the held room');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Now this transaction wants the practitioner's time the activity holds: a cycle, broken by aborting the activity's attempt.
    await tx.query(...insert(c.practitionerId, null));
  } finally {
    await tx.rollbackTransaction();
    await tx.release();
  }

  await expect(booking).resolves.toMatchObject({ status: 'CONFIRMED', practitionerId: c.practitionerId, roomId: c.roomId });
  expect(transactions).toHaveBeenCalledTimes(2);
  transactions.mockRestore();
  const deadline = Date.now() + 5000;
  while ((await deadlocks()) <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(await deadlocks()).toBeGreaterThan(before);
});
