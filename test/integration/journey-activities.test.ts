import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { JourneyPlan } from '../../activities/journey';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { ProviderError, type MessageProvider, type OutgoingMessage } from '../../shared/notify/providers';
import { JOURNEY_MESSAGE_ATTEMPTS } from '../../workflows/notification-api';
import { ClinicFixture, createClinic } from '../support/fixtures';
import { useStack } from '../support/stack';

/**
 * The journey's activities one at a time in MockActivityEnvironment (attempt numbers as Temporal
 * would give them), against the real database as the workers reach it (app role, row-level security).
 * The email provider is a stand-in that records or fails on demand.
 */
const s = useStack();
let c: ClinicFixture;
const sent: OutgoingMessage[] = [];
let failWith: ProviderError | null = null;
const email: MessageProvider = {
  channel: 'email',
  async send(message) {
    if (failWith) throw failWith;
    sent.push(message);
    return { providerMessageId: `m-${sent.length}` };
  },
};
const activities = () => createActivities({ dataSource: s.stack.appDataSource, providers: { email }, phiKeyring: phiKeysFor(s.stack.deps.config).ring });

async function bookedVisit(kind: string, startsAt: DateTime) {
  const service = await s.api.post('/api/v1/services', { code: `S${randomUUID().slice(0, 6)}`, name: kind, kind, durationMinutes: 60, roomKind: null, therapistsRequired: 0 }, c.tokens.CLINIC_ADMIN, c.h);
  expect(service.status).toBe(201);
  const patient = await s.api.post('/api/v1/patients', { firstName: 'Mira', lastName: 'Iyer', dateOfBirth: '1979-02-03', sex: 'female', email: `m-${randomUUID().slice(0, 8)}@mail.test` }, c.tokens.RECEPTIONIST, c.h);
  const res = await s.api.post('/api/v1/appointments', { patientId: patient.body.id, practitionerId: c.practitionerId, serviceId: service.body.id, locationId: c.locationId, startsAt: startsAt.toUTC().toISO() }, c.tokens.RECEPTIONIST, c.h);
  expect(res.status).toBe(201);
  return res.body as { id: string; startsAt: string; endsAt: string };
}

beforeAll(async () => {
  c = await createClinic(s.api, s.su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
  await s.api.put(`/api/v1/patients/${c.patientId}/preferences`, { quietHours: { start: '22:00', end: '07:00' } }, c.tokens.RECEPTIONIST, c.h);
});

describe('planJourney', () => {
  it("plans the kind's preparation and after-care and its default follow-up, from the service row", async () => {
    const startsAt = DateTime.now().setZone('Asia/Kolkata').plus({ days: 3 }).set({ hour: 10, minute: 0, second: 0, millisecond: 0 });
    const a = await bookedVisit('PANCHAKARMA_SESSION', startsAt);
    const plan = await new MockActivityEnvironment().run(activities().planJourney, {
      appointmentId: a.id, clinicId: c.clinicId, startsAt: a.startsAt, endsAt: a.endsAt, armedAt: new Date().toISOString(),
    }) as JourneyPlan;
    expect(plan).toMatchObject({ clinicName: `Clinic ${c.slug}`, timezone: 'Asia/Kolkata', kind: 'PANCHAKARMA_SESSION', defaultFollowUpInDays: null });
    expect(plan.preparation).toEqual([
      { key: 'prep-ghee-and-diet', instruction: 'ghee-and-diet', at: startsAt.minus({ hours: 14 }).toUTC().toISO() },
      { key: 'prep-arrive-early', instruction: 'arrive-early', at: startsAt.minus({ minutes: 90 }).toUTC().toISO() },
    ]);
    expect(plan.afterCare).toEqual([{ key: 'after-rest-and-warm-food', instruction: 'rest-and-warm-food', at: startsAt.plus({ minutes: 90 }).toUTC().toISO() }]);
    expect(plan.reminders.map((r) => r.key)).toEqual(['reminder-86400s', 'reminder-7200s']);
  });

  it('refuses an appointment of another clinic as not found (row-level security and the clinic filter)', async () => {
    const a = await bookedVisit('CONSULTATION', DateTime.now().plus({ days: 4 }).startOf('hour'));
    const other = await createClinic(s.api, s.su, ['CLINIC_ADMIN']);
    await expect(new MockActivityEnvironment().run(activities().planJourney, { appointmentId: a.id, clinicId: other.clinicId, startsAt: a.startsAt, armedAt: a.startsAt }))
      .rejects.toMatchObject({ type: 'NOT_FOUND', nonRetryable: true });
  });
});

describe('sendAppointmentMessage', () => {
  const message = (a: { id: string; startsAt: string }, seq: number) => ({ appointmentId: a.id, clinicId: c.clinicId, seq, template: 'appointment-reminder', startsAt: a.startsAt, params: {} });
  const row = async (key: string) => (await s.stack.deps.dataSource.query('SELECT status, attempts, channel FROM notifications WHERE idempotency_key = $1', [key]))[0];

  it('words the message with the clinic and zone, sends it once, and answers a repeat from the outbox', async () => {
    failWith = null;
    const a = await bookedVisit('CONSULTATION', DateTime.now().plus({ days: 5 }).startOf('hour'));
    const before = sent.length;
    const outcome = await new MockActivityEnvironment().run(activities().sendAppointmentMessage, message(a, 1));
    expect(outcome).toMatchObject({ status: 'SENT', channel: 'email' });
    expect(sent.at(-1)!.subject).toBe(`Reminder: your appointment at Clinic ${c.slug}`);
    expect(await new MockActivityEnvironment({ attempt: 2 }).run(activities().sendAppointmentMessage, message(a, 1))).toEqual(outcome);
    expect(sent.length).toBe(before + 1);
    expect(await row(`appointment-${a.id}-m1-appointment-reminder`)).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('lets Temporal retry a provider outage, and dead-letters the row on the last attempt', async () => {
    const a = await bookedVisit('CONSULTATION', DateTime.now().plus({ days: 6 }).startOf('hour'));
    failWith = new ProviderError('email', 'transient', 'HTTP_503');
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(activities().sendAppointmentMessage, message(a, 2))).rejects.toMatchObject({ type: 'PROVIDER_UNAVAILABLE', nonRetryable: false });
    const last = await new MockActivityEnvironment({ attempt: JOURNEY_MESSAGE_ATTEMPTS }).run(activities().sendAppointmentMessage, message(a, 2));
    expect(last).toMatchObject({ status: 'FAILED', channel: null });
    expect(await row(`appointment-${a.id}-m2-appointment-reminder`)).toMatchObject({ status: 'FAILED', attempts: 2 });
    failWith = null;
  });

  it('returns FAILED without retrying when no channel reaches the patient', async () => {
    const a = await bookedVisit('CONSULTATION', DateTime.now().plus({ days: 7 }).startOf('hour'));
    failWith = new ProviderError('email', 'permanent', 'SMTP_550');
    expect(await new MockActivityEnvironment().run(activities().sendAppointmentMessage, message(a, 3))).toMatchObject({ status: 'FAILED' });
    failWith = null;
  });

  it('refuses a template that does not exist as a non-retryable INVALID_MESSAGE', async () => {
    const a = await bookedVisit('CONSULTATION', DateTime.now().plus({ days: 8 }).startOf('hour'));
    await expect(new MockActivityEnvironment().run(activities().sendAppointmentMessage, { ...message(a, 4), template: 'no-such-template' }))
      .rejects.toMatchObject({ type: 'INVALID_MESSAGE', nonRetryable: true });
  });
});
