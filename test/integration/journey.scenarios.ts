import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { BookingStatus } from '../../workflows/booking-api';
import { rescheduleSignal, statusQuery } from '../../workflows/booking-api';
import { ClinicFixture, createClinic, login } from '../support/fixtures';
import type { Api } from '../support/http';
import { ProviderStub, startTwilioStub } from '../support/provider-stubs';
import { SmtpStandIn, startSmtpServer } from '../support/smtp-server';
import { useStack } from '../support/stack';

/**
 * The appointment journey on the real stack (SPEC §6): booking workflows on the dev server,
 * messages through the notifications worker to a local SMTP server and SMS stand-in. Clinic
 * offsets are fractions of a minute, so the durable timers fire within seconds.
 */
const TWILIO = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-test-token' };
const SECOND = 1000;
/** Timers fire on the dev server within milliseconds; the slack covers a busy 2-core machine. */
const LATE = 4 * SECOND;

export function journeyScenarios(maxCachedWorkflows: number): void {
let smtp: SmtpStandIn;
let sms: ProviderStub;
let api: Api;
let su: string;
let c: ClinicFixture;
/** When each message was first seen, by message id: arrival times are what the timers decide. */
const arrivals = new Map<string, number>();
let watcher: NodeJS.Timeout;
const noteArrivals = () => {
  for (const id of [...smtp.messages.map((m) => m.messageId), ...sms.messages.map((m) => m.id)]) if (!arrivals.has(id)) arrivals.set(id, Date.now());
};

beforeAll(async () => {
  [smtp, sms] = await Promise.all([startSmtpServer(), startTwilioStub(TWILIO)]);
  watcher = setInterval(noteArrivals, 20);
});
const fixture = useStack(() => ({
  queues: ['booking', 'notifications'],
  maxCachedWorkflows,
  env: {
    SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>',
    SMS_API_BASE_URL: sms.url, SMS_ACCOUNT_SID: TWILIO.accountSid, SMS_AUTH_TOKEN: TWILIO.authToken, SMS_FROM: '+15005550006',
  },
}));
const stack = { get deps() { return fixture.stack.deps; } };
beforeAll(async () => {
  ({ api, su } = fixture);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'NURSE']);
});
afterAll(async () => {
  clearInterval(watcher);
  await Promise.all([smtp?.stop(), sms?.stop()]);
});

// ───────────── helpers ─────────────

/** The list once it has at least `n` items, else null (for waitUntil). */
const atLeast = <T>(n: number, xs: T[]) => (xs.length >= n ? xs : null);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inSeconds = (s: number) => new Date(Date.now() + s * SECOND).toISOString();

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20 * SECOND): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    noteArrivals();
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function setSettings(clinic: ClinicFixture, settings: Record<string, unknown>) {
  const res = await api.patch(`/api/v1/clinics/${clinic.clinicId}`, { settings }, clinic.tokens.CLINIC_ADMIN, clinic.h);
  expect(res.status).toBe(200);
}

/** A patient reachable by email only (or by SMS with `phone`), so their messages are theirs alone. */
async function newPatient(clinic: ClinicFixture, contact: { email?: string; phone?: string } = {}): Promise<{ id: string; email: string }> {
  const email = contact.email ?? `p-${randomUUID().slice(0, 8)}@mail.test`;
  const res = await api.post('/api/v1/patients', { firstName: 'Kavya', lastName: 'Nair', dateOfBirth: '1990-05-06', sex: 'female', email, ...(contact.phone ? { phone: contact.phone } : {}) }, clinic.tokens.RECEPTIONIST, clinic.h);
  expect(res.status).toBe(201);
  return { id: res.body.id, email };
}

async function book(clinic: ClinicFixture, patientId: string, startsAt: string, token = clinic.tokens.RECEPTIONIST) {
  const res = await api.post('/api/v1/appointments', { patientId, practitionerId: clinic.practitionerId, serviceId: clinic.serviceId, locationId: clinic.locationId, startsAt }, token, clinic.h);
  if (res.status !== 201) throw new Error(`book: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; workflowId: string; startsAt: string; endsAt: string; practitionerId: string };
}

const mails = (email: string, subject?: RegExp) => smtp.messages.filter((m) => m.to.includes(email) && (!subject || subject.test(m.subject)));
const reminders = (email: string) => mails(email, /^Reminder:/);
const arrivedAt = (messageId: string) => {
  noteArrivals();
  return arrivals.get(messageId) ?? Infinity;
};
const journeyStatus = (workflowId: string) => stack.deps.temporal.workflow.getHandle(workflowId).query<BookingStatus>(statusQuery);
const row = async (id: string) => (await stack.deps.dataSource.query('SELECT * FROM appointments WHERE id = $1', [id]))[0];

// ───────────── reminders and timers ─────────────

describe('durable reminders', () => {
  /**
   * A clinic of its own per test (visits last 30 minutes, so visits seconds apart would collide):
   * reminders 15 s and 6 s before the visit, no-show 3 s after its start.
   */
  const timedClinic = async () => {
    const clinic = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'NURSE']);
    await setSettings(clinic, { reminderOffsetsMinutes: [0.25, 0.1], noShowGraceMinutes: 0.05 });
    return clinic;
  };

  it('sends a confirmation at once and each reminder at its offset before the visit', async () => {
    const t = await timedClinic();
    const patient = await newPatient(t);
    const appointment = await book(t, patient.id, inSeconds(18));
    const due = [Date.parse(appointment.startsAt) - 15 * SECOND, Date.parse(appointment.startsAt) - 6 * SECOND];

    const [confirmation] = await waitUntil('confirmation', () => atLeast(1, mails(patient.email, /^Appointment confirmed/)), 5 * SECOND);
    expect(confirmation.text).toContain(`Clinic ${t.slug}`);

    const sent = await waitUntil('two reminders', () => atLeast(2, reminders(patient.email)), 25 * SECOND);
    const times = sent.map((m) => arrivedAt(m.messageId));
    for (const [i, at] of times.entries()) {
      expect(at).toBeGreaterThanOrEqual(due[i] - 100);
      expect(at).toBeLessThan(due[i] + LATE);
    }
    const status = await journeyStatus(appointment.workflowId);
    expect(status.reminders).toEqual([
      { key: 'reminder-15s', at: new Date(due[0]).toISOString(), sent: true },
      { key: 'reminder-6s', at: new Date(due[1]).toISOString(), sent: true },
    ]);
    expect((await api.post(`/api/v1/appointments/${appointment.id}/check-in`, {}, t.tokens.NURSE, t.h)).status).toBe(200);
  });

  it('marks NO_SHOW itself once the grace period has passed without a check-in', async () => {
    const t = await timedClinic();
    const patient = await newPatient(t);
    const appointment = await book(t, patient.id, inSeconds(3));
    const noShowAt = Date.parse(appointment.startsAt) + 3 * SECOND;
    // The plan is made just after the booking's reply (the fast path): wait for it.
    expect(await waitUntil('the plan', async () => (await journeyStatus(appointment.workflowId)).noShowAt)).toBe(new Date(noShowAt).toISOString());

    await sleep(Math.max(0, noShowAt - Date.now() - 1500));
    expect((await row(appointment.id)).status).toBe('CONFIRMED');
    const result = await stack.deps.temporal.workflow.getHandle(appointment.workflowId).result();
    expect(Date.now()).toBeGreaterThanOrEqual(noShowAt);
    expect(result).toMatchObject({ phase: 'ENDED', appointmentStatus: 'NO_SHOW' });
    expect((await row(appointment.id)).status).toBe('NO_SHOW');
    // Booked after both reminder times had passed: none was sent.
    expect(reminders(patient.email)).toHaveLength(0);
  });

  it('re-arms the reminders on a reschedule signal sent with the Temporal client, as staff would', async () => {
    const t = await timedClinic();
    const patient = await newPatient(t);
    const appointment = await book(t, patient.id, inSeconds(20));
    const moveTo = new Date(Date.parse(appointment.startsAt) + 6 * SECOND).toISOString();
    const oldFirst = Date.parse(appointment.startsAt) - 15 * SECOND;

    // Exactly what `temporal workflow signal --name reschedule` or the Web UI sends.
    await stack.deps.temporal.workflow.getHandle(appointment.workflowId).signal(rescheduleSignal, { actorUserId: t.userIds.RECEPTIONIST, startsAt: moveTo });

    const moved = await waitUntil('the move', async () => (await journeyStatus(appointment.workflowId)).reschedules === 1 && row(appointment.id));
    expect(new Date(moved.starts_at).toISOString()).toBe(moveTo);
    expect(new Date(moved.ends_at).getTime() - new Date(moved.starts_at).getTime()).toBe(30 * 60_000);
    await waitUntil('the rescheduled notice', () => mails(patient.email, /^Appointment moved/).length);

    // The old time's first reminder would have gone out by now.
    await sleep(Math.max(0, oldFirst + LATE - Date.now()));
    expect(reminders(patient.email)).toHaveLength(0);

    const sent = await waitUntil('reminders for the new time', () => atLeast(2, reminders(patient.email)), 25 * SECOND);
    const newDue = [Date.parse(moveTo) - 15 * SECOND, Date.parse(moveTo) - 6 * SECOND];
    sent.forEach((m, i) => {
      expect(arrivedAt(m.messageId)).toBeGreaterThanOrEqual(newDue[i] - 100);
      expect(arrivedAt(m.messageId)).toBeLessThan(newDue[i] + LATE);
    });
    expect(reminders(patient.email)).toHaveLength(2);
    const status = await journeyStatus(appointment.workflowId);
    expect(status).toMatchObject({ startsAt: moveTo, reschedules: 1, lastRescheduleError: null });
  });

  it('never sends a reminder after a cancel, and tells the patient of the cancellation', async () => {
    const t = await timedClinic();
    const patient = await newPatient(t);
    const appointment = await book(t, patient.id, inSeconds(10));
    const reminderAt = Date.parse(appointment.startsAt) - 6 * SECOND;
    const cancelled = await api.post(`/api/v1/appointments/${appointment.id}/cancel`, { reason: 'patient asked' }, t.tokens.RECEPTIONIST, t.h);
    expect(cancelled.status).toBe(200);
    await stack.deps.temporal.workflow.getHandle(appointment.workflowId).result();
    await waitUntil('the cancellation notice', () => mails(patient.email, /^Appointment cancelled/).length);
    await sleep(Math.max(0, reminderAt + LATE - Date.now()));
    expect(reminders(patient.email)).toHaveLength(0);
  });

  it("defers a reminder out of the patient's quiet hours (in the clinic's zone) and sends it by SMS as preferred", async () => {
    const q = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
    const phone = `+9199${String(Date.now() % 100_000_000).padStart(8, '0')}`;
    const patient = await newPatient(q, { phone });
    // Quiet for the wall-clock minute (Asia/Kolkata, whole minutes like UTC) that holds the reminder's time.
    const quietEnd = DateTime.utc().plus({ seconds: 8 }).startOf('minute').plus({ minutes: 1 });
    const nominal = Math.max(Date.now() + 3 * SECOND, quietEnd.toMillis() - 60 * SECOND);
    const startsAt = quietEnd.plus({ seconds: 12 });
    const local = (t: DateTime) => t.setZone('Asia/Kolkata').toFormat('HH:mm');
    const prefs = await api.put(`/api/v1/patients/${patient.id}/preferences`, { channels: ['sms', 'email'], quietHours: { start: local(quietEnd.minus({ minutes: 1 })), end: local(quietEnd) } }, q.tokens.RECEPTIONIST, q.h);
    expect(prefs.status).toBe(200);
    await setSettings(q, { reminderOffsetsMinutes: [(startsAt.toMillis() - nominal) / 60_000] });

    const appointment = await book(q, patient.id, startsAt.toISO()!);
    const status = await waitUntil('the plan', async () => {
      const s = await journeyStatus(appointment.workflowId);
      return s.noShowAt ? s : null;
    });
    expect(status.reminders).toEqual([{ key: expect.stringMatching(/^reminder-\d+s$/), at: quietEnd.toJSDate().toISOString(), sent: false }]);

    const toPatient = () => sms.messages.filter((m) => m.to === phone && /reminder/i.test(m.body));
    const [reminder] = await waitUntil('the deferred reminder', () => atLeast(1, toPatient()), 75 * SECOND);
    expect(arrivedAt(reminder.id)).toBeGreaterThanOrEqual(quietEnd.toMillis());
    expect(arrivedAt(reminder.id)).toBeLessThan(quietEnd.toMillis() + LATE);
    expect(mails(patient.email, /^Reminder:/)).toHaveLength(0);
  }, 100_000);
});

// ───────────── reschedule: update, signal, self-service ─────────────

describe('reschedule', () => {
  let r: ClinicFixture;
  let patientToken: string;
  let patientId: string;
  const day = (n: number, hour: number, minute = 0) =>
    DateTime.now().setZone('Asia/Kolkata').plus({ days: n }).set({ hour, minute, second: 0, millisecond: 0 }).toUTC().toISO()!;

  beforeAll(async () => {
    r = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'NURSE']);
    await setSettings(r, { minNoticeMinutes: 60 });
    patientId = (await newPatient(r)).id;
    const email = `portal-${r.slug}@test.local`;
    const user = await api.post('/api/v1/users', { email, name: 'Portal Patient', role: 'PATIENT', password: 'patient-password-1' }, r.tokens.CLINIC_ADMIN, r.h);
    await stack.deps.dataSource.query('UPDATE patients SET user_id = $1 WHERE id = $2', [user.body.id, patientId]);
    patientToken = await login(api, email, 'patient-password-1');
  });

  const reschedule = (id: string, body: Record<string, unknown>, token = r.tokens.RECEPTIONIST) => api.post(`/api/v1/appointments/${id}/reschedule`, body, token, r.h);

  it('moves the row in place: 200 with the new times, the old slot free at once', async () => {
    const a = await book(r, patientId, day(3, 10));
    const res = await reschedule(a.id, { startsAt: day(3, 12) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: a.id, startsAt: day(3, 12), endsAt: day(3, 12, 30), status: 'CONFIRMED', version: 2 });
    expect(await book(r, patientId, day(3, 10))).toMatchObject({ startsAt: day(3, 10) });
    // Overlapping its own old time is fine: the row moves, it does not collide with itself.
    expect((await reschedule(a.id, { startsAt: day(3, 12, 15) })).status).toBe(200);
    expect((await journeyStatus(a.workflowId)).reschedules).toBe(2);
  });

  it('answers 409 slot-taken for a taken slot and 422 outside the schedule, changing nothing', async () => {
    const a = await book(r, patientId, day(4, 10));
    await book(r, patientId, day(4, 11));
    const taken = await reschedule(a.id, { startsAt: day(4, 11, 15) });
    expect(taken.status).toBe(409);
    expect(taken.body.type).toMatch(/\/slot-taken$/);

    const other = await api.post('/api/v1/users', { email: `doc2-${r.slug}@test.local`, name: 'Second Doctor', role: 'DOCTOR', password: 'doctor-two-password' }, r.tokens.CLINIC_ADMIN, r.h);
    const second = await api.post('/api/v1/practitioners', { userId: other.body.id, locationIds: [r.locationId] }, r.tokens.CLINIC_ADMIN, r.h);
    await api.put(`/api/v1/practitioners/${second.body.id}/schedule`, { rules: [{ weekday: 1, start: '09:00', end: '10:00', locationId: r.locationId }], exceptions: [] }, r.tokens.CLINIC_ADMIN, r.h);
    const outside = await reschedule(a.id, { startsAt: day(4, 20), practitionerId: second.body.id });
    expect(outside.status).toBe(422);
    expect(outside.body.type).toMatch(/\/outside-schedule$/);
    expect(outside.body.errors).toEqual([{ field: 'body.startsAt', message: expect.any(String) }]);
    const past = await reschedule(a.id, { startsAt: DateTime.utc().minus({ hours: 1 }).toISO() });
    expect(past.status).toBe(422);
    const bad = await reschedule(a.id, { startsAt: 'tomorrow at ten' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.startsAt');

    expect(new Date((await row(a.id)).starts_at).toISOString()).toBe(day(4, 10));
    expect((await journeyStatus(a.workflowId)).lastRescheduleError).toMatchObject({ type: 'OUTSIDE_SCHEDULE', requestedStartsAt: day(4, 20) });

    // A doctor moves only their own appointments.
    const secondDoctor = await login(api, `doc2-${r.slug}@test.local`, 'doctor-two-password');
    expect((await reschedule(a.id, { startsAt: day(4, 14) }, secondDoctor)).status).toBe(403);
    expect((await reschedule(a.id, { startsAt: day(4, 14) }, r.tokens.DOCTOR)).status).toBe(200);
    expect((await reschedule(a.id, { startsAt: day(4, 15) }, r.tokens.NURSE)).status).toBe(403);
  });

  it('gives one 200 and the rest 409 for concurrent reschedules of different visits to one slot', async () => {
    const visits = await Promise.all([8, 9, 10, 11, 12].map((h) => book(r, patientId, day(5, h))));
    const target = day(5, 15);
    const results = await Promise.all(visits.map((v) => reschedule(v.id, { startsAt: target })));
    expect(results.map((x) => x.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const rows = await stack.deps.dataSource.query(
      `SELECT id, starts_at FROM appointments WHERE id = ANY ($1) AND status = 'CONFIRMED' ORDER BY starts_at`, [visits.map((v) => v.id)]);
    // Nobody lost their slot: four still hold their old time, one holds the target, none overlap.
    expect(rows).toHaveLength(5);
    expect(rows.filter((x: { starts_at: Date }) => x.starts_at.toISOString() === target)).toHaveLength(1);
    const winner = results.findIndex((x) => x.status === 200);
    visits.forEach((v, i) => {
      if (i !== winner) expect(rows.find((x: { id: string }) => x.id === v.id).starts_at.toISOString()).toBe(v.startsAt);
    });
  });

  it("refuses a patient's self-service reschedule inside the minimum notice with 422, allows it outside", async () => {
    const soon = await book(r, patientId, inSeconds(30 * 60));
    const tooLate = await reschedule(soon.id, { startsAt: day(6, 10) }, patientToken);
    expect(tooLate.status).toBe(422);
    expect(tooLate.body.type).toMatch(/\/inside-minimum-notice$/);
    // Staff are not bound by it.
    expect((await reschedule(soon.id, { startsAt: inSeconds(40 * 60) })).status).toBe(200);

    const later = await book(r, patientId, day(6, 10));
    const intoNotice = await reschedule(later.id, { startsAt: inSeconds(45 * 60) }, patientToken);
    expect(intoNotice.status).toBe(422);
    const ok = await reschedule(later.id, { startsAt: day(6, 11) }, patientToken);
    expect(ok.status).toBe(200);
    const cancelInside = await api.post(`/api/v1/appointments/${soon.id}/cancel`, { reason: 'cannot come' }, patientToken, r.h);
    expect(cancelInside.status).toBe(422);
  });

  it('records a refused or malformed staff signal in the status query; the row stays', async () => {
    const a = await book(r, patientId, day(7, 10));
    await book(r, patientId, day(7, 11));
    const handle = stack.deps.temporal.workflow.getHandle(a.workflowId);
    await handle.signal(rescheduleSignal, { actorUserId: r.userIds.RECEPTIONIST, startsAt: day(7, 11) });
    const refused = await waitUntil('the refusal', async () => (await journeyStatus(a.workflowId)).lastRescheduleError);
    expect(refused).toMatchObject({ type: 'SLOT_TAKEN', requestedStartsAt: day(7, 11) });

    await handle.signal('reschedule', { startsAt: 'next tuesday' });
    await waitUntil('the malformed signal', async () => (await journeyStatus(a.workflowId)).lastRescheduleError?.type === 'INVALID_REQUEST');
    // A nurse may not reschedule: the journey's activity checks the signal's actor like any other.
    await handle.signal(rescheduleSignal, { actorUserId: r.userIds.NURSE, startsAt: day(7, 14) });
    await waitUntil('the forbidden signal', async () => (await journeyStatus(a.workflowId)).lastRescheduleError?.type === 'FORBIDDEN');
    expect(new Date((await row(a.id)).starts_at).toISOString()).toBe(day(7, 10));
  });
});

// ───────────── check-in, complete, no-show ─────────────

describe('check-in, complete and no-show drive the journey', () => {
  it('checks in (NURSE), completes (DOCTOR) and ends the journey; refuses what the status no longer allows', async () => {
    const patient = await newPatient(c);
    const a = await book(c, patient.id, DateTime.utc().plus({ days: 2 }).startOf('hour').toISO()!);
    expect((await api.post(`/api/v1/appointments/${a.id}/complete`, {}, c.tokens.NURSE, c.h)).status).toBe(403);
    const early = await api.post(`/api/v1/appointments/${a.id}/no-show`, {}, c.tokens.DOCTOR, c.h);
    expect(early.status).toBe(422);
    expect(early.body.type).toMatch(/\/not-started$/);

    const checkedIn = await api.post(`/api/v1/appointments/${a.id}/check-in`, {}, c.tokens.NURSE, c.h);
    expect(checkedIn.status).toBe(200);
    expect(checkedIn.body.status).toBe('CHECKED_IN');
    expect((await journeyStatus(a.workflowId)).appointmentStatus).toBe('CHECKED_IN');
    const move = await api.post(`/api/v1/appointments/${a.id}/reschedule`, { startsAt: DateTime.utc().plus({ days: 3 }).toISO() }, c.tokens.RECEPTIONIST, c.h);
    expect(move.status).toBe(409);

    const done = await api.post(`/api/v1/appointments/${a.id}/complete`, {}, c.tokens.DOCTOR, c.h);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'COMPLETED', followUpWorkflowId: null });
    expect(await stack.deps.temporal.workflow.getHandle(a.workflowId).result()).toMatchObject({ phase: 'ENDED', appointmentStatus: 'COMPLETED' });
    expect((await api.post(`/api/v1/appointments/${a.id}/check-in`, {}, c.tokens.NURSE, c.h)).status).toBe(409);
  });

  it('staff mark a no-show once the visit has started, which ends the journey', async () => {
    const patient = await newPatient(c);
    const a = await book(c, patient.id, inSeconds(2));
    await sleep(2500);
    const res = await api.post(`/api/v1/appointments/${a.id}/no-show`, {}, c.tokens.DOCTOR, c.h);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('NO_SHOW');
    expect(await stack.deps.temporal.workflow.getHandle(a.workflowId).result()).toMatchObject({ appointmentStatus: 'NO_SHOW' });
  });
});

// ───────────── practitioner leave ─────────────

describe('practitioner leave', () => {
  let l: ClinicFixture;
  const rules = () => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: l.locationId }));
  const local = (days: number, hour: number, minute = 0) =>
    DateTime.now().setZone('Asia/Kolkata').plus({ days }).set({ hour, minute, second: 0, millisecond: 0 });
  const leaves: { from: string; to: string; kind: 'LEAVE' }[] = [];
  const addLeave = async (from: DateTime, to: DateTime) => {
    leaves.push({ from: from.toUTC().toISO()!, to: to.toUTC().toISO()!, kind: 'LEAVE' });
    const res = await api.put(`/api/v1/practitioners/${l.practitionerId}/schedule`, { rules: rules(), exceptions: leaves }, l.tokens.DOCTOR, l.h);
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    l = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
  });

  it('tells the patient and offers the nearest free slot; the visit stays until someone moves it', async () => {
    const patient = await newPatient(l);
    const a = await book(l, patient.id, local(2, 10).toUTC().toISO()!);
    await book(l, (await newPatient(l)).id, local(2, 9, 30).toUTC().toISO()!);
    await addLeave(local(2, 10), local(2, 11));

    const offered = await waitUntil('the offer', async () => (await journeyStatus(a.workflowId)).offeredSlot);
    // 09:30 is booked and 10:00–11:00 is leave: 09:00 and 11:00 are both an hour away, and the earlier wins.
    expect(offered).toEqual({ startsAt: local(2, 9).toUTC().toJSDate().toISOString(), endsAt: local(2, 9, 30).toUTC().toJSDate().toISOString() });
    const [notice] = await waitUntil('the notice', () => atLeast(1, mails(patient.email, /needs a new time/)));
    expect(notice.text).toContain('nearest free time');
    expect(new Date((await row(a.id)).starts_at).toISOString()).toBe(local(2, 10).toUTC().toJSDate().toISOString());

    // Saving the schedule again re-sends the leave; the journey does not offer twice.
    await api.put(`/api/v1/practitioners/${l.practitionerId}/schedule`, { rules: rules(), exceptions: leaves }, l.tokens.DOCTOR, l.h);
    await sleep(1500);
    expect(mails(patient.email, /needs a new time/)).toHaveLength(1);
  });

  it('moves the visit to the nearest free slot itself when the clinic says so', async () => {
    await setSettings(l, { autoRescheduleOnLeave: true });
    const patient = await newPatient(l);
    const a = await book(l, patient.id, local(3, 14).toUTC().toISO()!);
    await addLeave(local(3, 14), local(3, 15));

    const moved = await waitUntil('the move', async () => {
      const status = await journeyStatus(a.workflowId);
      return status.reschedules === 1 && status;
    });
    expect(moved.startsAt).toBe(local(3, 13, 30).toUTC().toJSDate().toISOString());
    expect(new Date((await row(a.id)).starts_at).toISOString()).toBe(moved.startsAt);
    await waitUntil('the rescheduled notice', () => mails(patient.email, /^Appointment moved/).length);
  });
});

// ───────────── preferences ─────────────

describe('PUT /patients/:id/preferences', () => {
  it('stores channels, language and quiet hours for staff; a patient sets only their own', async () => {
    const patient = await newPatient(c);
    const body = { channels: ['email', 'sms'], language: 'hi-IN', quietHours: { start: '21:30', end: '07:00' } };
    const res = await api.put(`/api/v1/patients/${patient.id}/preferences`, body, c.tokens.RECEPTIONIST, c.h);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(body);
    const [{ preferences }] = await stack.deps.dataSource.query('SELECT preferences FROM patients WHERE id = $1', [patient.id]);
    expect(preferences).toEqual(body);
    // PUT replaces: what is not sent is gone.
    expect((await api.put(`/api/v1/patients/${patient.id}/preferences`, { language: 'en' }, c.tokens.RECEPTIONIST, c.h)).body).toEqual({ language: 'en' });

    const email = `self-${c.slug}-${randomUUID().slice(0, 6)}@test.local`;
    const user = await api.post('/api/v1/users', { email, name: 'Portal', role: 'PATIENT', password: 'patient-password-2' }, c.tokens.CLINIC_ADMIN, c.h);
    await stack.deps.dataSource.query('UPDATE patients SET user_id = $1 WHERE id = $2', [user.body.id, patient.id]);
    const own = await login(api, email, 'patient-password-2');
    expect((await api.put(`/api/v1/patients/${patient.id}/preferences`, { channels: ['sms'] }, own, c.h)).status).toBe(200);
    const someoneElse = await newPatient(c);
    expect((await api.put(`/api/v1/patients/${someoneElse.id}/preferences`, { channels: ['sms'] }, own, c.h)).status).toBe(404);
    expect((await api.patch(`/api/v1/patients/${patient.id}`, { address: 'elsewhere' }, own, c.h)).status).toBe(403);
  });

  it('rejects bad preferences with 400 naming the field', async () => {
    const patient = await newPatient(c);
    const put = (body: unknown) => api.put(`/api/v1/patients/${patient.id}/preferences`, body, c.tokens.RECEPTIONIST, c.h);
    const fields = async (body: unknown) => {
      const res = await put(body);
      expect(res.status).toBe(400);
      return res.body.errors.map((e: { field: string }) => e.field);
    };
    expect(await fields({ channels: ['pigeon'] })).toEqual(['body.channels.0']);
    expect(await fields({ channels: ['sms', 'sms'] })).toEqual(['body.channels']);
    expect(await fields({ quietHours: { start: '22:00', end: '22:00' } })).toEqual(['body.quietHours.end']);
    expect(await fields({ quietHours: { start: '25:00', end: '07:00' } })).toEqual(['body.quietHours.start']);
    expect(await fields({ language: 'klingon!' })).toEqual(['body.language']);
    expect(await fields({ colour: 'blue' })).toEqual(['body']);
  });
});
}
