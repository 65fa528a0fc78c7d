import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * SPEC §8: every read and write of patient data appends an audit row. Appointments are patient
 * data (who sees whom, when): reads, lists and every write of the journey are audited in the
 * clinic's chain, with the actor and request; a refused write leaves no success row.
 */
let stack: Stack;
let api: Api;
let c: ClinicFixture;
let other: ClinicFixture;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  const su = await adminToken(api);
  c = await createClinic(api, su, ['RECEPTIONIST', 'DOCTOR', 'AUDITOR']);
  other = await createClinic(api, su, ['DOCTOR']);
});
afterAll(() => stack?.stop());

const book = async (startsAt: string) => {
  const res = await api.post('/api/v1/appointments', {
    patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt,
  }, c.tokens.RECEPTIONIST, c.h);
  expect(res.status).toBe(201);
  return res.body as { id: string; startsAt: string };
};

interface Row { action: string; actor_user_id: string; resource_id: string | null; request_id: string | null }
const rows = async (where: string, args: unknown[]): Promise<Row[]> => stack.deps.dataSource.query(
  `SELECT action, actor_user_id, resource_id, request_id FROM audit_logs WHERE clinic_id = $1 AND resource_type = 'Appointment' AND ${where} ORDER BY id`,
  [c.clinicId, ...args]);
const actions = async (appointmentId: string) => (await rows('resource_id = $2', [appointmentId])).map((r) => [r.action, r.actor_user_id]);

describe('appointment audit trail', () => {
  it('audits the booking, reads, a reschedule, check-in and completion of one appointment', async () => {
    const a = await book(nextSlot());
    expect((await api.get(`/api/v1/appointments/${a.id}`, c.tokens.DOCTOR, c.h)).status).toBe(200);
    const moved = await api.post(`/api/v1/appointments/${a.id}/reschedule`, { startsAt: nextSlot() }, c.tokens.RECEPTIONIST, c.h);
    expect(moved.status).toBe(200);
    expect((await api.post(`/api/v1/appointments/${a.id}/check-in`, {}, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);
    expect((await api.post(`/api/v1/appointments/${a.id}/complete`, {}, c.tokens.DOCTOR, c.h)).status).toBe(200);
    expect(await actions(a.id)).toEqual([
      ['appointment.create', c.userIds.RECEPTIONIST],
      ['appointment.read', c.userIds.DOCTOR],
      ['appointment.reschedule', c.userIds.RECEPTIONIST],
      ['appointment.check_in', c.userIds.RECEPTIONIST],
      ['appointment.complete', c.userIds.DOCTOR],
    ]);
    for (const r of await rows('resource_id = $2', [a.id])) expect(r.request_id).toEqual(expect.any(String));
  });

  it('audits a cancellation once, not the refused second one', async () => {
    const a = await book(nextSlot());
    expect((await api.post(`/api/v1/appointments/${a.id}/cancel`, { reason: 'patient called' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);
    expect((await api.post(`/api/v1/appointments/${a.id}/cancel`, { reason: 'again' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(409);
    expect(await actions(a.id)).toEqual([['appointment.create', c.userIds.RECEPTIONIST], ['appointment.cancel', c.userIds.RECEPTIONIST]]);
  });

  it('audits a no-show', async () => {
    const a = await book(new Date(Date.now() + 2000).toISOString());
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(a.startsAt) - Date.now() + 500)));
    expect((await api.post(`/api/v1/appointments/${a.id}/no-show`, {}, c.tokens.DOCTOR, c.h)).status).toBe(200);
    expect(await actions(a.id)).toEqual([['appointment.create', c.userIds.RECEPTIONIST], ['appointment.no_show', c.userIds.DOCTOR]]);
  });

  it('audits list reads, and nothing for another clinic\'s staff who get 404', async () => {
    const before = (await rows(`action = 'appointment.list'`, [])).length;
    expect((await api.get(`/api/v1/appointments?patientId=${c.patientId}`, c.tokens.DOCTOR, c.h)).status).toBe(200);
    const lists = await rows(`action = 'appointment.list'`, []);
    expect(lists).toHaveLength(before + 1);
    expect(lists[lists.length - 1]).toMatchObject({ actor_user_id: c.userIds.DOCTOR, resource_id: null });

    const a = await book(nextSlot());
    expect((await api.get(`/api/v1/appointments/${a.id}`, other.tokens.DOCTOR, other.h)).status).toBe(404);
    expect(await actions(a.id)).toEqual([['appointment.create', c.userIds.RECEPTIONIST]]);
  });

  it('keeps the clinic chain valid with these rows in it', async () => {
    const res = await api.get('/api/v1/audit-logs/verify', c.tokens.AUDITOR, c.h);
    expect(res.body).toMatchObject({ valid: true });
    expect(res.body.checked).toBeGreaterThanOrEqual(12);
  });
});
