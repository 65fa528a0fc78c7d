import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { BookingStatus } from '../../workflows/booking-api';
import { statusQuery } from '../../workflows/booking-api';
import { cancelFollowUpSignal, cancelFollowUpUpdate, FollowUpStatus, followUpStatusQuery, followUpWorkflowId } from '../../workflows/follow-up-api';
import { SA } from '../../workflows/search-attributes';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { SmtpStandIn, startSmtpServer } from '../support/smtp-server';
import { Stack, startStack } from '../support/stack';

/**
 * The follow-up journey (SPEC §6 followUp) on the real stack: completing a visit with
 * followUpInDays starts `followup-<appointmentId>` as a child that outlives the booking journey;
 * it sleeps until due, sends the follow-up message (to a local SMTP server) and, when the clinic
 * asks for it, books the nearest free slot as a booking journey of its own.
 */
const SECOND = 1000;
const DAY = 86_400;

let smtp: SmtpStandIn;
let stack: Stack;
let api: Api;
let su: string;

beforeAll(async () => {
  smtp = await startSmtpServer();
  stack = await startStack({ queues: ['booking', 'notifications'], env: { SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>' } });
  api = client(stack.baseUrl);
  su = await adminToken(api);
});
afterAll(async () => {
  await stack?.stop();
  await smtp?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20 * SECOND): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Setup { clinic: ClinicFixture; followUpServiceId: string }

async function clinicWith(settings: Record<string, unknown>): Promise<Setup> {
  const clinic = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'NURSE']);
  expect((await api.patch(`/api/v1/clinics/${clinic.clinicId}`, { settings }, clinic.tokens.CLINIC_ADMIN, clinic.h)).status).toBe(200);
  const service = await api.post('/api/v1/services', { code: 'FU', name: 'Follow-up visit', kind: 'FOLLOW_UP', durationMinutes: 20 }, clinic.tokens.CLINIC_ADMIN, clinic.h);
  expect(service.status).toBe(201);
  return { clinic, followUpServiceId: service.body.id };
}

/** A patient with an email address only, and a visit tomorrow, checked in. */
async function visit({ clinic }: Setup, hour = 10) {
  const email = `fu-${randomUUID().slice(0, 8)}@mail.test`;
  const patient = await api.post('/api/v1/patients', { firstName: 'Ravi', lastName: 'Menon', dateOfBirth: '1970-01-02', sex: 'male', email }, clinic.tokens.RECEPTIONIST, clinic.h);
  const startsAt = DateTime.now().setZone('Asia/Kolkata').plus({ days: 1 }).set({ hour, minute: 0, second: 0, millisecond: 0 }).toUTC().toISO()!;
  const booked = await api.post('/api/v1/appointments', { patientId: patient.body.id, practitionerId: clinic.practitionerId, serviceId: clinic.serviceId, locationId: clinic.locationId, startsAt }, clinic.tokens.RECEPTIONIST, clinic.h);
  expect(booked.status).toBe(201);
  expect((await api.post(`/api/v1/appointments/${booked.body.id}/check-in`, {}, clinic.tokens.NURSE, clinic.h)).status).toBe(200);
  return { email, patientId: patient.body.id as string, appointment: booked.body as { id: string; workflowId: string } };
}

const complete = (s: Setup, appointmentId: string, body: Record<string, unknown>, token = s.clinic.tokens.DOCTOR) =>
  api.post(`/api/v1/appointments/${appointmentId}/complete`, body, token, s.clinic.h);
const followUpRow = async (appointmentId: string) => (await stack.deps.dataSource.query('SELECT * FROM follow_ups WHERE appointment_id = $1', [appointmentId]))[0];
const followUpMails = (email: string) => smtp.messages.filter((m) => m.to.includes(email) && /^Time for your follow-up/.test(m.subject));
const followUp = (appointmentId: string) => stack.deps.temporal.workflow.getHandle(followUpWorkflowId(appointmentId));

describe('follow-up journey', () => {
  it('starts on completion, sends the message when due and books the nearest free slot with the same practitioner', async () => {
    const s = await clinicWith({ autoBookFollowUp: true });
    const v = await visit(s);
    const completedAt = Date.now();
    const res = await complete(s, v.appointment.id, { followUpInDays: 6 / DAY });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'COMPLETED', followUpWorkflowId: `followup-${v.appointment.id}` });

    // A child of the booking journey that survives it (parent-close policy ABANDON).
    const booking = await stack.deps.temporal.workflow.getHandle(v.appointment.workflowId).result();
    expect(booking).toMatchObject({ appointmentStatus: 'COMPLETED', followUpWorkflowId: `followup-${v.appointment.id}` });
    const described = await followUp(v.appointment.id).describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.parentExecution?.workflowId).toBe(v.appointment.workflowId);
    expect(described.typedSearchAttributes.get(SA.JourneyKind)).toBe('followUp');
    const scheduled = await waitUntil('the follow_ups row', () => followUpRow(v.appointment.id));
    expect(scheduled).toMatchObject({ status: 'SCHEDULED', patient_id: v.patientId, practitioner_id: s.clinic.practitionerId, workflow_id: `followup-${v.appointment.id}` });
    const dueAt = scheduled.due_at.getTime();
    expect(dueAt).toBeGreaterThanOrEqual(completedAt + 6 * SECOND - 50);
    expect(dueAt).toBeLessThan(completedAt + 8 * SECOND);
    expect(followUpMails(v.email)).toHaveLength(0);

    const result: FollowUpStatus = await followUp(v.appointment.id).result();
    expect(Date.now()).toBeGreaterThanOrEqual(dueAt);
    expect(result).toMatchObject({ phase: 'BOOKED', bookedAppointmentId: expect.any(String) });
    const [message] = await waitUntil('the follow-up message', () => (followUpMails(v.email).length ? followUpMails(v.email) : null));
    expect(message.text).toContain(`Clinic ${s.clinic.slug}`);

    const [booked] = await stack.deps.dataSource.query('SELECT * FROM appointments WHERE id = $1', [result.bookedAppointmentId]);
    expect(booked).toMatchObject({ patient_id: v.patientId, practitioner_id: s.clinic.practitionerId, service_id: s.followUpServiceId, status: 'CONFIRMED', location_id: s.clinic.locationId });
    // The 20-minute grid from midnight, first free slot after the due time (a minute's lead).
    expect(booked.starts_at.getTime()).toBeGreaterThan(dueAt);
    expect(booked.starts_at.getTime()).toBeLessThanOrEqual(dueAt + 21 * 60_000 + 60_000);
    expect(booked.starts_at.getUTCMinutes() % 10).toBe(0);
    expect(booked.ends_at.getTime() - booked.starts_at.getTime()).toBe(20 * 60_000);
    expect(await followUpRow(v.appointment.id)).toMatchObject({ status: 'BOOKED', booked_appointment_id: result.bookedAppointmentId });

    // The follow-up visit has a journey of its own: confirmed to the patient, cancelled like any other.
    const journey = stack.deps.temporal.workflow.getHandle(booked.workflow_id);
    await waitUntil('the follow-up journey', async () => (await journey.query<BookingStatus>(statusQuery).catch(() => null))?.phase === 'BOOKED');
    await waitUntil('its confirmation', () => smtp.messages.filter((m) => m.to.includes(v.email) && /^Appointment confirmed/.test(m.subject)).length === 2);
    const cancelled = await api.post(`/api/v1/appointments/${booked.id}/cancel`, { reason: 'feeling better' }, s.clinic.tokens.RECEPTIONIST, s.clinic.h);
    expect(cancelled.status).toBe(200);
    expect(await journey.result()).toMatchObject({ phase: 'ENDED', appointmentStatus: 'CANCELLED' });
  });

  it('only reminds when the clinic does not book follow-ups itself', async () => {
    const s = await clinicWith({});
    const v = await visit(s);
    expect((await complete(s, v.appointment.id, { followUpInDays: 3 / DAY })).status).toBe(200);
    const result = await waitUntil('the follow-up journey', () => followUp(v.appointment.id).result().catch(() => null), 20 * SECOND);
    expect(result).toMatchObject({ phase: 'NOTIFIED', bookedAppointmentId: null });
    await waitUntil('the follow-up message', () => followUpMails(v.email).length === 1);
    expect(await followUpRow(v.appointment.id)).toMatchObject({ status: 'NOTIFIED', booked_appointment_id: null });
    const [{ n }] = await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM appointments WHERE patient_id = $1', [v.patientId]);
    expect(n).toBe(1);
  });

  it('is cancelled before it is due by the cancel update or signal: no message, row CANCELLED; refused once it has run', async () => {
    const s = await clinicWith({ autoBookFollowUp: true });
    const byUpdate = await visit(s);
    const bySignal = await visit(s, 12);
    expect((await complete(s, byUpdate.appointment.id, { followUpInDays: 14 })).status).toBe(200);
    expect((await complete(s, bySignal.appointment.id, { followUpInDays: 14 })).status).toBe(200);

    const handle = followUp(byUpdate.appointment.id);
    await waitUntil('the follow-up to start', () => handle.query(followUpStatusQuery).catch(() => null));
    const answer = await handle.executeUpdate(cancelFollowUpUpdate, { args: [{ actorUserId: s.clinic.userIds.DOCTOR }] });
    expect(answer.phase).toBe('CANCELLED');
    expect(await handle.result()).toMatchObject({ phase: 'CANCELLED', bookedAppointmentId: null });
    expect(await followUpRow(byUpdate.appointment.id)).toMatchObject({ status: 'CANCELLED' });

    const signalled = followUp(bySignal.appointment.id);
    await waitUntil('the second follow-up to start', () => signalled.query(followUpStatusQuery).catch(() => null));
    await signalled.signal(cancelFollowUpSignal, { actorUserId: s.clinic.userIds.DOCTOR });
    expect(await signalled.result()).toMatchObject({ phase: 'CANCELLED' });

    expect(followUpMails(byUpdate.email)).toHaveLength(0);
    expect(followUpMails(bySignal.email)).toHaveLength(0);
    await expect(handle.executeUpdate(cancelFollowUpUpdate, { args: [{ actorUserId: s.clinic.userIds.DOCTOR }] })).rejects.toThrow();
  });

  it('checks who may complete with a follow-up, and the followUpInDays field', async () => {
    const s = await clinicWith({});
    const v = await visit(s);
    expect((await complete(s, v.appointment.id, { followUpInDays: 7 }, s.clinic.tokens.NURSE)).status).toBe(403);
    expect((await complete(s, v.appointment.id, { followUpInDays: 7 }, s.clinic.tokens.RECEPTIONIST)).status).toBe(403);
    for (const bad of [0, -1, 'soon', 400]) {
      const res = await complete(s, v.appointment.id, { followUpInDays: bad });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('body.followUpInDays');
    }
    expect((await stack.deps.dataSource.query('SELECT status FROM appointments WHERE id = $1', [v.appointment.id]))[0].status).toBe('CHECKED_IN');
    await expect(followUp(v.appointment.id).describe()).rejects.toThrow();
  });
});
