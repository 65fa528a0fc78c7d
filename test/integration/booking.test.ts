import { DateTime } from 'luxon';
import { BookingStatus, bookingWorkflowId, statusQuery } from '../../workflows/booking-api';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

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

const book = (startsAt: string, headers: Record<string, string> = {}, token = c.tokens.RECEPTIONIST) =>
  api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt }, token, { ...c.h, ...headers });

const countRows = async (startsAt: string) => {
  const [{ n }] = await stack.deps.dataSource.query(
    `SELECT count(*)::int AS n FROM appointments WHERE clinic_id = $1 AND practitioner_id = $2 AND starts_at = $3 AND status <> 'CANCELLED'`,
    [c.clinicId, c.practitionerId, startsAt]);
  return n as number;
};

describe('booking through the booking workflow', () => {
  it('books a free slot: 201 with the appointment and its workflow id, row written', async () => {
    const startsAt = nextSlot();
    const res = await book(startsAt);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'CONFIRMED', patientId: c.patientId, practitionerId: c.practitionerId, workflowId: bookingWorkflowId(res.body.id) });
    expect(new Date(res.body.endsAt).getTime() - new Date(res.body.startsAt).getTime()).toBe(30 * 60_000);
    expect(await countRows(startsAt)).toBe(1);

    const status = await stack.deps.temporal.workflow.getHandle(res.body.workflowId).query<BookingStatus>(statusQuery);
    expect(status).toMatchObject({ phase: 'BOOKED', appointmentStatus: 'CONFIRMED' });

    const got = await api.get(`/api/v1/appointments/${res.body.id}`, c.tokens.RECEPTIONIST, c.h);
    expect(got.status).toBe(200);
    expect(got.body.workflow).toMatchObject({ id: res.body.workflowId, phase: 'BOOKED' });
  });

  it('answers 409 slot-taken for the same slot, and for an overlapping one', async () => {
    const startsAt = nextSlot();
    expect((await book(startsAt)).status).toBe(201);
    const again = await book(startsAt);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(again.body.type).toMatch(/\/slot-taken$/);
    const overlapping = await book(DateTime.fromISO(startsAt).plus({ minutes: 15 }).toUTC().toISO()!);
    expect(overlapping.status).toBe(409);
    expect(await countRows(startsAt)).toBe(1);
  });

  it('gives exactly one 201 and nineteen 409s for 20 concurrent requests for one slot', async () => {
    const startsAt = nextSlot();
    const results = await Promise.all(Array.from({ length: 20 }, () => book(startsAt)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    expect(await countRows(startsAt)).toBe(1);
  });

  it('cancel frees the slot for a new booking and ends the journey', async () => {
    const startsAt = nextSlot();
    const first = await book(startsAt);
    expect(first.status).toBe(201);
    const cancelled = await api.post(`/api/v1/appointments/${first.body.id}/cancel`, { reason: 'patient asked' }, c.tokens.RECEPTIONIST, c.h);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('CANCELLED');
    const [{ status }] = await stack.deps.dataSource.query('SELECT status FROM appointments WHERE id = $1', [first.body.id]);
    expect(status).toBe('CANCELLED');
    const result = await stack.deps.temporal.workflow.getHandle(first.body.workflowId).result();
    expect(result).toMatchObject({ phase: 'ENDED', appointmentStatus: 'CANCELLED' });

    const second = await book(startsAt);
    expect(second.status).toBe(201);
    const again = await api.post(`/api/v1/appointments/${first.body.id}/cancel`, { reason: 'twice' }, c.tokens.RECEPTIONIST, c.h);
    expect(again.status).toBe(409);
  });

  it('replays the first response for the same Idempotency-Key; 422 for another body with that key', async () => {
    const startsAt = nextSlot();
    const key = `key-${Date.now()}`;
    const first = await book(startsAt, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const replay = await book(startsAt, { 'idempotency-key': key });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await countRows(startsAt)).toBe(1);
    const other = await book(nextSlot(), { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.type).toMatch(/idempotency-key-reused$/);
  });

  it('refuses a time outside the schedule with 422 naming startsAt, and a past time', async () => {
    await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, {
      rules: [{ weekday: 1, start: '09:00', end: '17:00', locationId: c.locationId }], exceptions: [],
    }, su, c.h);
    try {
      const nextMonday8pm = DateTime.now().setZone('Asia/Kolkata').plus({ weeks: 1 }).set({ weekday: 1, hour: 20, minute: 0, second: 0, millisecond: 0 });
      const res = await book(nextMonday8pm.toUTC().toISO()!);
      expect(res.status).toBe(422);
      expect(res.body.type).toMatch(/outside-schedule$/);
      expect(res.body.errors).toEqual([{ field: 'body.startsAt', message: expect.any(String) }]);
      const inHours = await book(nextMonday8pm.set({ hour: 10 }).toUTC().toISO()!);
      expect(inHours.status).toBe(201);
    } finally {
      const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: c.locationId }));
      await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, { rules, exceptions: [] }, su, c.h);
    }
    const past = await book(DateTime.utc().minus({ hours: 1 }).toISO()!);
    expect(past.status).toBe(422);
  });

  it('rejects bad bodies with 400 field errors and writes nothing', async () => {
    const before = await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM appointments');
    const res = await api.post('/api/v1/appointments', { patientId: 'nope', practitionerId: c.practitionerId, serviceId: c.serviceId, startsAt: 'tomorrow', extra: 1 }, c.tokens.RECEPTIONIST, c.h);
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.patientId', 'body.locationId', 'body.startsAt']));
    const notJson = await api.call('POST', '/api/v1/appointments', { token: c.tokens.RECEPTIONIST, headers: c.h, raw: '{"patientId":' });
    expect(notJson.status).toBe(400);
    const after = await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM appointments');
    expect(after[0].n).toBe(before[0].n);
  });

  it('finds the journey by ClinicId and PatientId search attributes', async () => {
    const res = await book(nextSlot());
    expect(res.status).toBe(201);
    const query = `ClinicId = '${c.clinicId}' AND PatientId = '${c.patientId}' AND AppointmentId = '${res.body.id}'`;
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of stack.deps.temporal.workflow.list({ query })) found.push(wf.workflowId);
      if (!found.length) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([res.body.workflowId]);
  });
});
