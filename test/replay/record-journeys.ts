import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { rescheduleSignal, statusQuery, type BookingStatus } from '../../workflows/booking-api';
import { cancelFollowUpUpdate, followUpWorkflowId, type FollowUpStatus } from '../../workflows/follow-up-api';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { client, type Res } from '../support/http';
import { startSmtpServer } from '../support/smtp-server';
import { startStack } from '../support/stack';

/**
 * Runs one journey of each shape on the real stack and returns the workflow ids to export, by
 * history file name. Every journey is driven to its end first, so its history is complete.
 */
export async function runJourneysToRecord(): Promise<{ ids: Record<string, string>; stop: () => Promise<void> }> {
  const smtp = await startSmtpServer();
  const stack = await startStack({ queues: ['booking', 'notifications'], env: { SMTP_URL: smtp.url } });
  const api = client(stack.baseUrl);
  const temporal = stack.deps.temporal;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async <T>(probe: () => Promise<T | null | undefined | false>) => {
    for (let i = 0; i < 600; i++) {
      const v = await probe();
      if (v) return v;
      await sleep(50);
    }
    throw new Error('journey did not get there');
  };
  const expectStatus = (res: Res, status: number) => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };

  const c: ClinicFixture = await createClinic(api, await adminToken(api), ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'NURSE']);
  expectStatus(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { reminderOffsetsMinutes: [0.1], noShowGraceMinutes: 0.05, autoBookFollowUp: true } }, c.tokens.CLINIC_ADMIN, c.h), 200);
  expectStatus(await api.post('/api/v1/services', { code: 'FU', name: 'Follow-up', kind: 'FOLLOW_UP', durationMinutes: 20 }, c.tokens.CLINIC_ADMIN, c.h), 201);
  const patient = expectStatus(await api.post('/api/v1/patients', { firstName: 'Replay', lastName: 'Patient', dateOfBirth: '1980-01-01', sex: 'other', email: `replay-${randomUUID().slice(0, 8)}@mail.test` }, c.tokens.RECEPTIONIST, c.h), 201).body.id;
  const book = async (startsAt: string) => expectStatus(await api.post('/api/v1/appointments', { patientId: patient, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt }, c.tokens.RECEPTIONIST, c.h), 201).body;
  const at = (days: number, hour: number) => DateTime.now().setZone('Asia/Kolkata').plus({ days }).set({ hour, minute: 0, second: 0, millisecond: 0 }).toUTC().toISO()!;
  const status = (workflowId: string) => temporal.workflow.getHandle(workflowId).query<BookingStatus>(statusQuery);
  const post = (path: string, body: unknown, token = c.tokens.RECEPTIONIST) => api.post(path, body, token, c.h);
  const ids: Record<string, string> = {};

  // Reminded, moved by a staff signal, reminded again, then marked NO_SHOW by the journey itself.
  const timed = await book(new Date(Date.now() + 10_000).toISOString());
  await until(async () => (await status(timed.workflowId)).reminders?.[0]?.sent);
  await temporal.workflow.getHandle(timed.workflowId).signal(rescheduleSignal, { actorUserId: c.userIds.RECEPTIONIST, startsAt: new Date(Date.now() + 10_000).toISOString() });
  await temporal.workflow.getHandle(timed.workflowId).signal(rescheduleSignal, { actorUserId: c.userIds.NURSE, startsAt: at(9, 9) }); // refused: recorded only
  ids['booking-serial-encrypted-reminded-moved-no-show'] = timed.workflowId;

  // Moved by the API (and refused once), checked in, completed with a follow-up that books a visit.
  const visit = await book(at(1, 10));
  await book(at(1, 12));
  expectStatus(await post(`/api/v1/appointments/${visit.id}/reschedule`, { startsAt: at(1, 11) }), 200);
  expectStatus(await post(`/api/v1/appointments/${visit.id}/reschedule`, { startsAt: at(1, 12) }), 409);
  expectStatus(await post(`/api/v1/appointments/${visit.id}/check-in`, {}, c.tokens.NURSE), 200);
  expectStatus(await post(`/api/v1/appointments/${visit.id}/complete`, { followUpInDays: 2 / 86_400 }, c.tokens.DOCTOR), 200);
  ids['booking-serial-encrypted-completed-with-follow-up'] = visit.workflowId;
  const booked: FollowUpStatus = await temporal.workflow.getHandle(followUpWorkflowId(visit.id)).result();
  ids['followup-encrypted-serial-booked'] = followUpWorkflowId(visit.id);
  const adopted = `appointment-${booked.bookedAppointmentId}`;
  await until(async () => (await status(adopted).catch(() => null))?.phase === 'BOOKED');
  expectStatus(await post(`/api/v1/appointments/${booked.bookedAppointmentId}/cancel`, { reason: 'replay' }), 200);
  ids['booking-serial-encrypted-adopted-cancelled'] = adopted;

  // Practitioner leave over a booked visit: the nearest free slot is offered; then cancelled.
  const onLeave = await book(at(2, 10));
  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: c.locationId }));
  expectStatus(await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, { rules, exceptions: [{ from: at(2, 10), to: at(2, 11), kind: 'LEAVE' }] }, c.tokens.DOCTOR, c.h), 200);
  await until(async () => (await status(onLeave.workflowId)).offeredSlot);
  expectStatus(await post(`/api/v1/appointments/${onLeave.id}/cancel`, { reason: 'replay' }), 200);
  ids['booking-serial-encrypted-leave-offered-cancelled'] = onLeave.workflowId;

  // A follow-up cancelled before it is due.
  const second = await book(at(3, 10));
  expectStatus(await post(`/api/v1/appointments/${second.id}/complete`, { followUpInDays: 14 }, c.tokens.DOCTOR), 200);
  const followUp = temporal.workflow.getHandle(followUpWorkflowId(second.id));
  await until(() => followUp.describe().then(() => true, () => false));
  await followUp.executeUpdate(cancelFollowUpUpdate, { args: [{ actorUserId: c.userIds.DOCTOR }] });
  ids['followup-encrypted-serial-cancelled'] = followUpWorkflowId(second.id);

  for (const workflowId of Object.values(ids)) await temporal.workflow.getHandle(workflowId).result();
  return { ids, stop: async () => { await stack.stop(); await smtp.stop(); } };
}
