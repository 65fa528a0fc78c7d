import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { occurrencesBetween } from '../../shared/series/expand';
import { HISTORY_LIMIT } from '../../workflows/series';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * The long journeys on the real stack (SPEC §6 therapySeries, recurringSeries): real Temporal dev
 * server, PostgreSQL, Redis. Course days are compressed by the clinic setting courseDayMinutes
 * (120: a "day" is two hours, a session one), never by changing code.
 */
let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
let doctor2: string;
let therapists: string[];
let services: Record<string, string>;
const DAY = 120 * 60_000;

const db = () => stack.deps.dataSource;
function ok(res: Res, status: number, what: string): Res {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}
const rules = (locationId: string) => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId }));

/** A staff member who practises (or assists as a therapist) at the fixture's location, all day, every day. */
async function practitioner(f: ClinicFixture, role: string, therapist: boolean, locationId = f.locationId): Promise<string> {
  const user = ok(await api.post('/api/v1/users', { email: `${role.toLowerCase()}-${randomUUID().slice(0, 8)}@test.local`, name: role, role, password: `pw-${randomUUID()}` }, su, f.h), 201, 'user');
  const p = ok(await api.post('/api/v1/practitioners', { userId: user.body.id, locationIds: [locationId], therapist }, su, f.h), 201, 'practitioner');
  ok(await api.put(`/api/v1/practitioners/${p.body.id}/schedule`, { rules: rules(locationId), exceptions: [] }, su, f.h), 200, 'schedule');
  return p.body.id;
}
/** A future local date in the fixture's zone (Asia/Kolkata), `days` ahead. */
const dateIn = (days: number, zone = 'Asia/Kolkata') => DateTime.now().setZone(zone).plus({ days }).toISODate()!;
const at = (date: string, time: string, zone = 'Asia/Kolkata') => DateTime.fromISO(`${date}T${time}`, { zone }).toMillis();

async function activeAppointments(seriesId: string): Promise<{ id: string; starts_at: Date; ends_at: Date; therapist_ids: string[]; room_id: string }[]> {
  return db().query(`SELECT id, starts_at, ends_at, therapist_ids, room_id FROM appointments WHERE series_id = $1 AND status IN ('CONFIRMED', 'PENDING_PAYMENT') ORDER BY starts_at`, [seriesId]);
}
const overlaps = (xs: { starts_at: Date; ends_at: Date }[]) =>
  xs.some((a, i) => xs.some((b, j) => i !== j && a.starts_at < b.ends_at && b.starts_at < a.ends_at));

function startCourse(body: Record<string, unknown>, token = c.tokens.RECEPTIONIST, headers: Record<string, string> = {}) {
  return api.post('/api/v1/therapy-series', { patientId: c.patientId, templateCode: 'test-7', locationId: c.locationId, practitionerId: c.practitionerId, ...body }, token, { ...c.h, ...headers });
}

beforeAll(async () => {
  stack = await startStack({ queues: ['booking', 'therapy', 'notifications'] });
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'PATIENT']);
  await db().query('UPDATE patients SET user_id = $1 WHERE id = $2', [c.userIds.PATIENT, c.patientId]);
  ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { courseDayMinutes: 120 } }, su, c.h), 200, 'settings');
  ok(await api.post('/api/v1/rooms', { locationId: c.locationId, name: 'Room 2', kind: 'THERAPY' }, su, c.h), 201, 'room 2');
  services = {};
  for (const code of ['PK-SNEHANA-SWEDANA', 'PK-VIRECHANA', 'PK-REVIEW']) {
    services[code] = ok(await api.post('/api/v1/services', { code, name: code, kind: 'PANCHAKARMA_SESSION', durationMinutes: 60 }, su, c.h), 201, code).body.id;
  }
  // Exactly two therapists: every session needs both.
  therapists = [await practitioner(c, 'NURSE', true), await practitioner(c, 'NURSE', true)];
  doctor2 = await practitioner(c, 'DOCTOR', false);
  ok(await api.post('/api/v1/therapy-templates', {
    code: 'test-7', name: 'Seven-day test course',
    phases: [
      { phase: 'PURVAKARMA', days: 3, serviceCode: 'PK-SNEHANA-SWEDANA', regimen: ['Warm water only.'] },
      { phase: 'PRADHANAKARMA', days: 1, serviceCode: 'PK-VIRECHANA' },
      { phase: 'PASCHATKARMA', days: 3, serviceCode: 'PK-REVIEW', regimen: ['Peya.', 'Vilepi.', 'Yusha.'] },
    ],
  }, c.tokens.CLINIC_ADMIN, c.h), 201, 'template');
}, 180_000);
afterAll(() => stack?.stop());

describe('course templates', () => {
  it('lists the shipped templates (virechana-14 among them) beside the clinic\'s own', async () => {
    const res = ok(await api.get('/api/v1/therapy-templates', c.tokens.RECEPTIONIST, c.h), 200, 'list');
    const codes = res.body.items.map((t: any) => t.code);
    expect(codes).toEqual(expect.arrayContaining(['virechana-14', 'yoga-basti-8', 'rasayana-21', 'test-7']));
    const v = res.body.items.find((t: any) => t.code === 'virechana-14');
    expect(v.phases.reduce((n: number, p: any) => n + p.days, 0)).toBe(14);
  });

  it('refuses a bad template with 400 naming the fields, a taken code with 409', async () => {
    const bad = await api.post('/api/v1/therapy-templates', { code: 'Bad Code', name: 'x', phases: [{ phase: 'PASCHATKARMA', days: 0, serviceCode: 'X' }] }, c.tokens.CLINIC_ADMIN, c.h);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field)).toEqual(expect.arrayContaining(['body.code', 'body.phases.0.days']));
    const taken = await api.post('/api/v1/therapy-templates', { code: 'virechana-14', name: 'x', phases: [{ phase: 'PRADHANAKARMA', days: 1, serviceCode: 'X' }] }, c.tokens.CLINIC_ADMIN, c.h);
    expect(taken.status).toBe(409);
  });

  it('a course whose template needs a service the clinic lacks is 422 naming the code', async () => {
    const res = await startCourse({ templateCode: 'yoga-basti-8', startDate: dateIn(40), time: '10:00' });
    expect(res.status).toBe(422);
    expect(res.body.detail).toContain('PK-BASTI');
    expect(res.body.errors).toEqual([{ field: 'body.templateCode', message: 'needs a service with code PK-BASTI' }]);
  });
});

describe('a Panchakarma course', () => {
  const date = dateIn(3);
  let course: any;
  let second: any;

  it('books all 7 sessions up front at the same time each day, none clashing, each with its own booking journey as a child', async () => {
    const res = ok(await startCourse({ startDate: date, time: '10:00' }, c.tokens.RECEPTIONIST, { 'idempotency-key': `course-${date}` }), 201, 'course');
    course = res.body;
    expect(course.workflowId).toBe(`therapy-${course.id}`);
    expect(course.status).toBe('ACTIVE');
    expect(course.sessions.map((s: any) => s.status)).toEqual(Array(7).fill('BOOKED'));
    expect(course.sessions.map((s: any) => s.phase)).toEqual(['PURVAKARMA', 'PURVAKARMA', 'PURVAKARMA', 'PRADHANAKARMA', 'PASCHATKARMA', 'PASCHATKARMA', 'PASCHATKARMA']);
    const t0 = at(date, '10:00');
    expect(course.sessions.map((s: any) => Date.parse(s.startsAt) - t0)).toEqual([0, 1, 2, 3, 4, 5, 6].map((k) => k * DAY));
    for (const s of course.sessions) expect(s.therapistIds.sort()).toEqual([...therapists].sort());

    const rows = await activeAppointments(course.id);
    expect(rows).toHaveLength(7);
    expect(overlaps(rows)).toBe(false);
    const child = await stack.deps.temporal.workflow.getHandle(`appointment-${course.sessions[0].appointmentId}`).describe();
    expect(child.parentExecution?.workflowId).toBe(course.workflowId);
    const desc = await stack.deps.temporal.workflow.getHandle(course.workflowId).describe();
    expect(desc.taskQueue).toBe('therapy');
    expect(desc.searchAttributes).toMatchObject({ ClinicId: [c.clinicId], PatientId: [c.patientId], JourneyKind: ['therapySeries'] });

    // The same Idempotency-Key replays the course, never a second one.
    const again = ok(await startCourse({ startDate: date, time: '10:00' }, c.tokens.RECEPTIONIST, { 'idempotency-key': `course-${date}` }), 201, 'replay');
    expect(again.body.id).toBe(course.id);
    expect(await db().query(`SELECT count(*)::int AS n FROM therapy_series WHERE clinic_id = $1 AND start_date = $2`, [c.clinicId, date])).toEqual([{ n: 1 }]);
  });

  it('a second course at the same hour, with only two therapists, shifts to the nearest free time each day without clashing', async () => {
    const res = ok(await startCourse({ startDate: date, time: '10:00', practitionerId: doctor2 }, c.tokens.DOCTOR), 201, 'second course');
    second = res.body;
    expect(second.sessions.map((s: any) => s.status)).toEqual(Array(7).fill('BOOKED'));
    const t0 = at(date, '10:00');
    // The therapists are busy at 10:00 of each compressed day: the next free hour of that day.
    expect(second.sessions.map((s: any) => Date.parse(s.startsAt) - t0)).toEqual([0, 1, 2, 3, 4, 5, 6].map((k) => k * DAY + 60 * 60_000));
    const all = [...await activeAppointments(course.id), ...await activeAppointments(second.id)];
    expect(all).toHaveLength(14);
    expect(overlaps(all)).toBe(false); // both courses need the same two therapists
  });

  it('a patient reads their own course; a doctor may create but not pause one', async () => {
    ok(await api.get(`/api/v1/therapy-series/${course.id}`, c.tokens.PATIENT, c.h), 200, 'patient reads own');
    const list = ok(await api.get('/api/v1/therapy-series', c.tokens.PATIENT, c.h), 200, 'patient list');
    expect(list.body.items.every((x: any) => x.patientId === c.patientId)).toBe(true);
    expect((await api.post(`/api/v1/therapy-series/${course.id}/pause`, { reason: 'x' }, c.tokens.DOCTOR, c.h)).status).toBe(403);
    expect((await api.post(`/api/v1/therapy-series/${course.id}/pause`, { reason: 'x' }, c.tokens.PATIENT, c.h)).status).toBe(403);
  });

  it('pause releases the future sessions at once: their slots are free to book', async () => {
    const res = ok(await api.post(`/api/v1/therapy-series/${course.id}/pause`, { reason: 'fever' }, c.tokens.RECEPTIONIST, c.h), 200, 'pause');
    expect(res.body.status).toBe('PAUSED');
    expect(res.body.sessions.map((s: any) => s.status)).toEqual(Array(7).fill('RELEASED'));
    expect(await activeAppointments(course.id)).toEqual([]);
    const released = course.sessions.map((s: any) => s.appointmentId);
    const statuses = await db().query(`SELECT DISTINCT status FROM appointments WHERE id = ANY ($1)`, [released]);
    expect(statuses).toEqual([{ status: 'CANCELLED' }]);
    // The first session's hour is free again for the practitioner and the therapists.
    const journey = await stack.deps.temporal.workflow.getHandle(`appointment-${released[0]}`).result();
    expect(journey.appointmentStatus).toBe('CANCELLED');
    const held = await db().query(`SELECT count(*)::int AS n FROM appointment_resources WHERE resource_id = ANY ($1) AND during && tstzrange($2, $3)`,
      [[c.practitionerId, ...therapists], new Date(at(date, '10:00')), new Date(at(date, '10:00') + 7 * DAY)]);
    // Only the second course's sessions (the other practitioner, the same therapists, an hour later each day) remain.
    expect(held[0].n).toBe(7 * 2);
    ok(await api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: course.sessions[0].startsAt }, c.tokens.RECEPTIONIST, c.h), 201, 'book the freed hour');
  });

  it('resume rebooks the remaining sessions from the date, in order', async () => {
    const resumeDate = dateIn(5);
    const res = ok(await api.post(`/api/v1/therapy-series/${course.id}/resume`, { date: resumeDate, time: '14:00' }, c.tokens.RECEPTIONIST, c.h), 200, 'resume');
    expect(res.body.status).toBe('ACTIVE');
    expect(res.body.sessions.map((s: any) => s.status)).toEqual(Array(7).fill('BOOKED'));
    const t0 = at(resumeDate, '14:00');
    expect(res.body.sessions.map((s: any) => Date.parse(s.startsAt) - t0)).toEqual([0, 1, 2, 3, 4, 5, 6].map((k) => k * DAY));
    const old = new Set(course.sessions.map((s: any) => s.appointmentId));
    expect(res.body.sessions.some((s: any) => old.has(s.appointmentId))).toBe(false);
    const rows = await activeAppointments(course.id);
    expect(rows.map((r) => r.id)).toEqual(res.body.sessions.map((s: any) => s.appointmentId));
    course = res.body;
  });

  it('moves and skips one session through its appointment\'s journey', async () => {
    const s2 = course.sessions[1];
    const clash = await api.post(`/api/v1/therapy-series/${course.id}/sessions/2/reschedule`, { startsAt: course.sessions[2].startsAt }, c.tokens.RECEPTIONIST, c.h);
    expect(clash.status).toBe(409);
    const moved = ok(await api.post(`/api/v1/therapy-series/${course.id}/sessions/2/reschedule`, { startsAt: new Date(Date.parse(s2.startsAt) + 60 * 60_000).toISOString() }, c.tokens.RECEPTIONIST, c.h), 200, 'move');
    expect(Date.parse(moved.body.sessions[1].startsAt)).toBe(Date.parse(s2.startsAt) + 60 * 60_000);
    const [row] = await db().query(`SELECT starts_at FROM appointments WHERE id = $1`, [s2.appointmentId]);
    expect(row.starts_at.getTime()).toBe(Date.parse(s2.startsAt) + 60 * 60_000);
    const skipped = ok(await api.post(`/api/v1/therapy-series/${course.id}/sessions/3/skip`, { reason: 'travel' }, c.tokens.RECEPTIONIST, c.h), 200, 'skip');
    expect(skipped.body.sessions[2]).toMatchObject({ status: 'SKIPPED', reason: 'travel' });
    expect((await db().query(`SELECT status FROM appointments WHERE id = $1`, [course.sessions[2].appointmentId]))[0].status).toBe('CANCELLED');
    expect((await api.post(`/api/v1/therapy-series/${course.id}/sessions/99/skip`, { reason: 'x' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(400);
  });

  it('cancel releases every future session', async () => {
    for (const id of [course.id, second.id]) {
      const res = ok(await api.post(`/api/v1/therapy-series/${id}/cancel`, { reason: 'patient left' }, c.tokens.RECEPTIONIST, c.h), 200, 'cancel');
      expect(res.body.status).toBe('CANCELLED');
      expect(await activeAppointments(id)).toEqual([]);
    }
    const wf = await stack.deps.temporal.workflow.getHandle(course.workflowId).result();
    expect(wf.status).toBe('CANCELLED');
    expect((await api.post(`/api/v1/therapy-series/${course.id}/pause`, { reason: 'x' }, c.tokens.RECEPTIONIST, c.h)).status).toBe(409);
  });

  it('another clinic\'s staff cannot see or change the course', async () => {
    const b = await createClinic(api, su, ['RECEPTIONIST']);
    expect((await api.get(`/api/v1/therapy-series/${second.id}`, b.tokens.RECEPTIONIST, b.h)).status).toBe(404);
    expect((await api.post(`/api/v1/therapy-series/${second.id}/pause`, { reason: 'x' }, b.tokens.RECEPTIONIST, b.h)).status).toBe(404);
    expect((await api.get(`/api/v1/therapy-series/${second.id}`, b.tokens.RECEPTIONIST, c.h)).status).toBe(403);
  });
});

describe('a recurring series', () => {
  const series = (body: Record<string, unknown>, f: ClinicFixture = c, extra: Record<string, unknown> = {}) =>
    api.post('/api/v1/appointment-series', { patientId: f.patientId, practitionerId: f.practitionerId, serviceId: f.serviceId, locationId: f.locationId, ...body, ...extra }, f.tokens.RECEPTIONIST, f.h);

  it('books the occurrences inside the horizon, skips a taken slot (SLOT_TAKEN) and goes on; later ones are PLANNED', async () => {
    const first = DateTime.fromMillis(at(dateIn(20), '09:00'));
    // Someone else holds the second occurrence's time with the same practitioner.
    ok(await api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: first.plus({ days: 1 }).toUTC().toISO() }, c.tokens.RECEPTIONIST, c.h), 201, 'blocker');
    ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { seriesHorizonDays: 22 } }, su, c.h), 200, 'horizon');
    const res = ok(await series({ startsAt: first.toUTC().toISO(), rrule: 'FREQ=DAILY;COUNT=5' }), 201, 'series');
    expect(res.body.workflowId).toBe(`series-${res.body.id}`);
    // 20–22 days ahead: the first occurrences are inside the 22-day horizon, the last ones not yet.
    const statuses = res.body.occurrences.map((o: any) => [o.status, o.reason ?? null]);
    expect(statuses[0]).toEqual(['BOOKED', null]);
    expect(statuses[1]).toEqual(['SKIPPED', 'SLOT_TAKEN']);
    expect(statuses.slice(2).map((s: any) => s[0])).toEqual(expect.arrayContaining(['PLANNED']));
    expect(res.body.occurrences).toHaveLength(5);
    const rows = await activeAppointments(res.body.id);
    expect(rows.map((r) => r.starts_at.getTime())).toEqual(res.body.occurrences.filter((o: any) => o.status === 'BOOKED').map((o: any) => Date.parse(o.startsAt)));
    const desc = await stack.deps.temporal.workflow.getHandle(res.body.workflowId).describe();
    expect(desc.searchAttributes).toMatchObject({ ClinicId: [c.clinicId], PatientId: [c.patientId], JourneyKind: ['recurringSeries'] });
    // Staff heard of the skipped one (a message journey to the series' creator).
    const notice = await stack.deps.temporal.workflow.getHandle(`notify-series-${res.body.id}-skipped-${first.plus({ days: 1 }).toMillis()}`).describe();
    expect(notice.type).toBe('deliverMessage');
    ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { seriesHorizonDays: 14 } }, su, c.h), 200, 'horizon back');
  });

  it('rejects a bad rule with 400 naming body.rrule', async () => {
    const res = await series({ startsAt: new Date(Date.now() + 86_400_000).toISOString(), rrule: 'FREQ=HOURLY' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('body.rrule');
  });

  it('cancel-from frees the slots of the cancelled occurrences; skip cancels one', async () => {
    const first = DateTime.fromMillis(at(dateIn(4), '15:00'));
    const res = ok(await series({ startsAt: first.toUTC().toISO(), rrule: 'FREQ=DAILY;COUNT=5' }), 201, 'series');
    expect(res.body.occurrences.map((o: any) => o.status)).toEqual(Array(5).fill('BOOKED'));
    const skipped = ok(await api.post(`/api/v1/appointment-series/${res.body.id}/skip`, { startsAt: res.body.occurrences[1].startsAt }, c.tokens.RECEPTIONIST, c.h), 200, 'skip');
    expect(skipped.body.occurrences[1]).toMatchObject({ status: 'SKIPPED' });
    const from = res.body.occurrences[2].startsAt;
    const cancelled = ok(await api.post(`/api/v1/appointment-series/${res.body.id}/cancel`, { from }, c.tokens.RECEPTIONIST, c.h), 200, 'cancel');
    expect(cancelled.body.occurrences.map((o: any) => o.status)).toEqual(['BOOKED', 'SKIPPED', 'CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(cancelled.body.status).toBe('CANCELLED');
    expect((await activeAppointments(res.body.id)).map((r) => r.starts_at.toISOString())).toEqual([res.body.occurrences[0].startsAt]);
    // The freed time is bookable again.
    ok(await api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: from }, c.tokens.RECEPTIONIST, c.h), 201, 'rebook freed');
  });

  it('keeps the local time across DST: weekly 09:00 Europe/London is 09:00Z before the March change, 08:00Z after', async () => {
    const london = ok(await api.post('/api/v1/locations', { name: 'London', timezone: 'Europe/London' }, su, c.h), 201, 'london').body.id;
    const doc = await practitioner(c, 'DOCTOR', false, london);
    ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { seriesHorizonDays: 800 } }, su, c.h), 200, 'horizon');
    // The Monday two weeks before the next last-Sunday-of-March.
    let change = DateTime.fromObject({ year: DateTime.now().year + (DateTime.now().month > 3 ? 1 : 0), month: 3, day: 31 }, { zone: 'Europe/London' });
    while (change.weekday !== 7) change = change.minus({ days: 1 });
    const monday = change.minus({ days: 13 }).set({ hour: 9 });
    const res = ok(await series({ startsAt: monday.toUTC().toISO(), rrule: 'FREQ=WEEKLY;COUNT=4', practitionerId: doc, locationId: london }), 201, 'series');
    ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { seriesHorizonDays: 14 } }, su, c.h), 200, 'horizon back');
    expect(res.body.occurrences.map((o: any) => [o.status, o.startsAt.slice(11, 16)])).toEqual([['BOOKED', '09:00'], ['BOOKED', '09:00'], ['BOOKED', '08:00'], ['BOOKED', '08:00']]);
    expect((await activeAppointments(res.body.id)).map((r) => r.starts_at.toISOString().slice(11, 16))).toEqual(['09:00', '09:00', '08:00', '08:00']);
  });

  it('a 2-year weekly series books every occurrence, each run\'s history staying under a fixed size (continue-as-new)', async () => {
    const f = await createClinic(api, su, ['RECEPTIONIST']);
    ok(await api.patch(`/api/v1/clinics/${f.clinicId}`, { settings: { seriesHorizonDays: 800 } }, su, f.h), 200, 'horizon');
    const first = DateTime.fromMillis(at(dateIn(2), '08:00'));
    const until = first.plus({ years: 2 }).toUTC().toFormat("yyyyMMdd'T'HHmmss'Z'");
    const res = ok(await series({ startsAt: first.toUTC().toISO(), rrule: `FREQ=WEEKLY;UNTIL=${until}` }, f), 201, 'series');
    const handle = stack.deps.temporal.workflow.getHandle(res.body.workflowId);
    const booked = async () => (await db().query(`SELECT count(*)::int AS n FROM appointments WHERE series_id = $1 AND status = 'CONFIRMED'`, [res.body.id]))[0].n;
    const expected = occurrencesBetween({ rrule: `FREQ=WEEKLY;UNTIL=${until}`, startsAt: first.toUTC().toISO()!, timezone: 'Asia/Kolkata' }, 0, first.plus({ years: 3 }).toMillis()).length;
    expect(expected).toBeGreaterThanOrEqual(104);
    for (const deadline = Date.now() + 300_000; (await booked()) < expected && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 500));
    expect(await booked()).toBe(expected);
    const occurrences = await db().query(`SELECT status, count(*)::int AS n FROM appointment_series_occurrences WHERE series_id = $1 GROUP BY status`, [res.body.id]);
    expect(occurrences).toEqual([{ status: 'BOOKED', n: expected }]);
    // Walk the chain of runs back from the last one.
    const sizes: number[] = [];
    let runId: string | undefined = (await handle.describe()).runId;
    while (runId) {
      const history = await stack.deps.temporal.workflow.getHandle(res.body.workflowId, runId).fetchHistory();
      sizes.push(history.events!.length);
      runId = history.events![0].workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    }
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    // HISTORY_LIMIT plus one occurrence's events and the run's closing ones.
    for (const size of sizes) expect(size).toBeLessThan(HISTORY_LIMIT + 40);
  }, 400_000);
});
