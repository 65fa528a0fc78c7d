import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { registerServiceKind } from '../../shared/service-kinds';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Multi-resource bookings (SPEC §5, §7): a therapy takes the practitioner, a free room of the
 * service's kind and its therapists, all in one transaction or none, decided by PostgreSQL's
 * exclusion constraint on appointment_resources.
 */
let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
let therapyRoom: string;
let abhyanga: string;
let doctors: string[];
let therapists: string[];

const all = (path: string, body: unknown) => api.post(path, body, su, c.h);
const ok = <T extends { status: number; body: any }>(res: T, status: number, what: string): T => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

/** A staff member at the clinic's location, working every day, optionally a therapist. */
async function staff(role: string, therapist: boolean): Promise<string> {
  const email = `${role.toLowerCase()}-${randomUUID().slice(0, 8)}@test.local`;
  const user = ok(await all('/api/v1/users', { email, name: `${role} ${email}`, role, password: `pw-${email}-long` }), 201, 'user');
  const practitioner = ok(await all('/api/v1/practitioners', { userId: user.body.id, locationIds: [c.locationId], therapist }), 201, 'practitioner');
  expect(practitioner.body.therapist).toBe(therapist);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: c.locationId }));
  ok(await api.put(`/api/v1/practitioners/${practitioner.body.id}/schedule`, { rules, exceptions: [] }, su, c.h), 200, 'schedule');
  return practitioner.body.id;
}

let hour = 0;
/** A distinct future hour, local to the clinic. */
const nextHour = () => DateTime.utc().startOf('day').plus({ days: 20, hours: ++hour }).toISO()!;

const book = (practitionerId: string, startsAt: string, extra: Record<string, unknown> = {}, serviceId = abhyanga) =>
  api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId, serviceId, locationId: c.locationId, startsAt, ...extra }, c.tokens.RECEPTIONIST, c.h);

const resourcesOf = async (appointmentId: string) => {
  const rows: { resource_id: string; role: string; lower: Date; upper: Date }[] = await stack.deps.dataSource.query(
    `SELECT resource_id, role, lower(during), upper(during) FROM appointment_resources WHERE appointment_id = $1 ORDER BY role, resource_id`, [appointmentId]);
  return rows;
};

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su);
  // The fixture's room is of kind 'therapy': the only therapy room. Service kinds give the defaults: THERAPY room, two therapists.
  therapyRoom = c.roomId;
  const service = ok(await all('/api/v1/services', { code: 'ABHY', name: 'Abhyanga', kind: 'AYURVEDA_THERAPY', durationMinutes: 60 }), 201, 'service');
  expect(service.body).toMatchObject({ roomKind: 'THERAPY', therapistsRequired: 2, needsRoom: true });
  abhyanga = service.body.id;
  ok(await all('/api/v1/rooms', { locationId: c.locationId, name: 'Consulting 2', kind: 'consulting' }), 201, 'other room');
  doctors = [c.practitionerId, await staff('DOCTOR', false)];
  therapists = [await staff('NURSE', true), await staff('MEDICAL_ASSISTANT', true)];
});
afterAll(() => stack?.stop());

describe('a therapy takes a room of its kind and its therapists', () => {
  it('books with the room and both therapists named in the answer, one resource row each', async () => {
    const res = ok(await book(doctors[0], nextHour()), 201, 'therapy');
    expect(res.body.roomId).toBe(therapyRoom);
    expect([...res.body.therapistIds].sort()).toEqual([...therapists].sort());
    const rows = await resourcesOf(res.body.id);
    expect(rows.map((r) => r.role).sort()).toEqual(['PRACTITIONER', 'ROOM', 'THERAPIST', 'THERAPIST']);
    expect((await api.get(`/api/v1/appointments/${res.body.id}`, c.tokens.RECEPTIONIST, c.h)).body).toMatchObject({ roomId: therapyRoom, therapistIds: res.body.therapistIds });
  });

  it('the same hour with another practitioner gets 409 slot-taken: the room and the only two therapists are busy; cancelling frees them all', async () => {
    const at = nextHour();
    const first = ok(await book(doctors[0], at), 201, 'first');
    const second = await book(doctors[1], at);
    expect(second.status).toBe(409);
    expect(second.body.type).toMatch(/\/slot-taken$/);
    // A second therapy room does not help while the therapists are taken.
    ok(await all('/api/v1/rooms', { locationId: c.locationId, name: `Therapy ${at}`, kind: 'THERAPY' }), 201, 'second therapy room');
    expect((await book(doctors[1], at)).status).toBe(409);

    ok(await api.post(`/api/v1/appointments/${first.body.id}/cancel`, { reason: 'patient unwell' }, c.tokens.RECEPTIONIST, c.h), 200, 'cancel');
    expect(await resourcesOf(first.body.id)).toEqual([]);
    const again = ok(await book(doctors[1], at), 201, 'after cancel');
    expect(again.body.therapistIds.sort()).toEqual([...therapists].sort());
  });

  it('named resources are kept or refused: a busy named therapist is a conflict, a room of another kind is 422', async () => {
    const at = nextHour();
    const consult = ok(await all('/api/v1/services', { code: `SOLO${hour}`, name: 'Solo consult', kind: 'CONSULTATION', durationMinutes: 60 }), 201, 'consultation');
    // The therapist is busy as the practitioner of a consultation: one person, one exclusion constraint.
    ok(await book(therapists[0], at, {}, consult.body.id), 201, 'therapist as practitioner');
    const busy = await book(doctors[0], at, { therapistIds: [therapists[0], therapists[1]] });
    expect(busy.status).toBe(409);
    const rooms = (await api.get(`/api/v1/rooms?locationId=${c.locationId}`, su, c.h)).body.items as { id: string; kind: string }[];
    const consulting = rooms.find((r) => r.kind === 'consulting')!;
    const wrongKind = await book(doctors[0], nextHour(), { roomId: consulting.id });
    expect(wrongKind.status).toBe(422);
    expect(wrongKind.body.errors).toEqual([expect.objectContaining({ field: 'body.roomId' })]);
  });

  it('availability hides the hours when no therapy room is free, and shows them again after a cancel', async () => {
    // Slots sit on the hourly grid of the working day, which starts at local midnight.
    const day = DateTime.now().setZone('Asia/Kolkata').startOf('day').plus({ days: 60 });
    const query = () => api.get(`/api/v1/availability?practitionerId=${doctors[1]}&serviceId=${abhyanga}&locationId=${c.locationId}&from=${encodeURIComponent(day.toISO()!)}&to=${encodeURIComponent(day.plus({ hours: 4 }).toISO()!)}`, c.tokens.RECEPTIONIST, c.h);
    const before = ok(await query(), 200, 'availability').body.items.map((s: { startsAt: string }) => s.startsAt);
    const taken = day.plus({ hours: 1 }).toISO()!;
    expect(before).toContain(new Date(taken).toISOString());
    const held = await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM rooms WHERE clinic_id = $1 AND lower(kind) = 'therapy'`, [c.clinicId]);
    // Take every therapy room at that hour (with the therapists of each booking), from the other doctor.
    const booked: string[] = [];
    for (let i = 0; i < held[0].n; i++) {
      const res = await book(doctors[0], taken, {});
      if (res.status === 201) booked.push(res.body.id);
    }
    expect(booked.length).toBeGreaterThan(0);
    const after = ok(await query(), 200, 'availability').body.items.map((s: { startsAt: string }) => s.startsAt);
    expect(after).not.toContain(new Date(taken).toISOString());
    for (const id of booked) ok(await api.post(`/api/v1/appointments/${id}/cancel`, { reason: 'x' }, c.tokens.RECEPTIONIST, c.h), 200, 'cancel');
    const again = ok(await query(), 200, 'availability').body.items.map((s: { startsAt: string }) => s.startsAt);
    expect(again).toContain(new Date(taken).toISOString());
  });

  it('a reschedule moves the practitioner, room and therapists in one statement, or none of them', async () => {
    const from = nextHour();
    const moved = ok(await book(doctors[0], from), 201, 'to move');
    const to = nextHour();
    const res = ok(await api.post(`/api/v1/appointments/${moved.body.id}/reschedule`, { startsAt: to }, c.tokens.RECEPTIONIST, c.h), 200, 'reschedule');
    expect(res.body).toMatchObject({ roomId: moved.body.roomId, therapistIds: moved.body.therapistIds, version: moved.body.version + 1 });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(moved.body.updatedAt));
    const rows = await resourcesOf(moved.body.id);
    expect(rows).toHaveLength(4);
    for (const r of rows) expect(new Date(r.lower).toISOString()).toBe(new Date(to).toISOString());

    // The old hour is free for all of them again.
    ok(await book(doctors[1], from), 201, 'old hour free');
    // A move onto an hour whose therapists are busy is refused, and every resource stays where it was.
    const blocked = nextHour();
    const consult = ok(await all('/api/v1/services', { code: `BLK${hour}`, name: 'Blocker', kind: 'CONSULTATION', durationMinutes: 60 }), 201, 'consultation');
    ok(await book(therapists[1], blocked, {}, consult.body.id), 201, 'therapist busy');
    const refused = await api.post(`/api/v1/appointments/${moved.body.id}/reschedule`, { startsAt: blocked }, c.tokens.RECEPTIONIST, c.h);
    expect(refused.status).toBe(409);
    for (const r of await resourcesOf(moved.body.id)) expect(new Date(r.lower).toISOString()).toBe(new Date(to).toISOString());
  });
});

describe('the last free room under contention', () => {
  it('20 concurrent requests from 20 practitioners for the last free room give exactly one 201', async () => {
    const solo = ok(await all('/api/v1/services', { code: 'SHIRO', name: 'Shirodhara (one room, no therapists)', kind: 'AYURVEDA_THERAPY', durationMinutes: 60, therapistsRequired: 0, roomKind: 'steam' }), 201, 'service');
    ok(await all('/api/v1/rooms', { locationId: c.locationId, name: 'Steam room', kind: 'steam' }), 201, 'the only steam room');
    const many = await Promise.all(Array.from({ length: 20 }, () => staff('DOCTOR', false)));
    const at = nextHour();
    const answers = await Promise.all(many.map((p) => book(p, at, {}, solo.body.id)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(19).fill(409)]);
    const [{ n }] = await stack.deps.dataSource.query(
      `SELECT count(*)::int AS n FROM appointment_resources ar JOIN rooms r ON r.id = ar.resource_id WHERE r.clinic_id = $1 AND r.kind = 'steam'`, [c.clinicId]);
    expect(n).toBe(1);
  });
});

describe('service kinds are plugins', () => {
  it('a kind added in one file (here, in the test) books without touching the booking core', async () => {
    registerServiceKind({
      kind: 'NASYA_TEST', label: 'Nasya (test kind)', resources: { roomKind: 'NASYA', therapists: 1 },
      preparation: [{ key: 'no-food', offsetMinutes: 120, subject: { en: 'Before nasya' }, text: { en: 'Come on an empty stomach and avoid cold water for the day of the treatment.' } }],
      afterCare: [], defaultFollowUpInDays: null,
    });
    const room = ok(await all('/api/v1/rooms', { locationId: c.locationId, name: 'Nasya room', kind: 'NASYA' }), 201, 'nasya room');
    const service = ok(await all('/api/v1/services', { code: 'NASYA', name: 'Nasya', kind: 'NASYA_TEST', durationMinutes: 30 }), 201, 'nasya service');
    expect(service.body).toMatchObject({ kind: 'NASYA_TEST', roomKind: 'NASYA', therapistsRequired: 1 });
    const res = ok(await book(doctors[1], nextHour(), {}, service.body.id), 201, 'nasya booking');
    expect(res.body.roomId).toBe(room.body.id);
    expect(res.body.therapistIds).toHaveLength(1);
    const unknown = await all('/api/v1/services', { code: 'NOPE', name: 'Nope', kind: 'NOT_A_KIND', durationMinutes: 30 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ field: 'body.kind' })]);
  });
});
