import { ApplicationFailure } from '@temporalio/common';
import type { AppointmentView } from '../../workflows/booking-api';

/**
 * Stand-ins for the journey's activities, with an in-memory appointments table: the workflow's
 * logic runs on the real dev server without PostgreSQL. `delays` slows chosen activities down (ms).
 */
export function stubActivities(opts: { delays?: Record<string, number>; plan?: (req: { startsAt: string }) => unknown } = {}) {
  const rows = new Map<string, AppointmentView>();
  const calls: { name: string; input: unknown }[] = [];
  const slow = async (name: string, input: unknown) => {
    calls.push({ name, input });
    const ms = opts.delays?.[name];
    if (ms) await new Promise((r) => setTimeout(r, ms));
  };
  const row = (id: string) => {
    const r = rows.get(id);
    if (!r) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: 'no row', nonRetryable: true });
    return r;
  };
  const set = (id: string, patch: Partial<AppointmentView>) => {
    const r = { ...row(id), ...patch, version: row(id).version + 1 };
    rows.set(id, r);
    return r;
  };
  const activities = {
    async bookAppointment(req: { appointmentId: string; clinicId: string; patientId: string; practitionerId: string; serviceId: string; locationId: string; startsAt: string; endsAt: string }) {
      await slow('bookAppointment', req);
      const now = new Date().toISOString();
      const r: AppointmentView = {
        id: req.appointmentId, clinicId: req.clinicId, locationId: req.locationId, patientId: req.patientId, practitionerId: req.practitionerId,
        roomId: null, therapistIds: [], serviceId: req.serviceId, startsAt: req.startsAt, endsAt: req.endsAt, mode: 'IN_PERSON', status: 'CONFIRMED',
        seriesId: null, workflowId: `appointment-${req.appointmentId}`, version: 1, createdAt: now, updatedAt: now,
      };
      rows.set(r.id, r);
      return r;
    },
    async loadAppointment(req: { appointmentId: string }) { await slow('loadAppointment', req); return row(req.appointmentId); },
    async cancelAppointment(req: { appointmentId: string }) { await slow('cancelAppointment', req); return set(req.appointmentId, { status: 'CANCELLED' }); },
    async rescheduleAppointment(req: { appointmentId: string; startsAt: string }) {
      await slow('rescheduleAppointment', req);
      const r = row(req.appointmentId);
      const length = Date.parse(r.endsAt) - Date.parse(r.startsAt);
      return set(req.appointmentId, { startsAt: req.startsAt, endsAt: new Date(Date.parse(req.startsAt) + length).toISOString() });
    },
    async checkInAppointment(req: { appointmentId: string }) { await slow('checkInAppointment', req); return set(req.appointmentId, { status: 'CHECKED_IN' }); },
    async completeAppointment(req: { appointmentId: string }) { await slow('completeAppointment', req); return set(req.appointmentId, { status: 'COMPLETED' }); },
    async markNoShow(req: { appointmentId: string }) { await slow('markNoShow', req); return set(req.appointmentId, { status: 'NO_SHOW' }); },
    async planJourney(req: { startsAt: string; armedAt: string }) {
      await slow('planJourney', req);
      if (opts.plan) return opts.plan(req);
      const startsAt = Date.parse(req.startsAt);
      return { clinicName: 'Stub Clinic', timezone: 'Asia/Kolkata', reminders: [], noShowAt: new Date(startsAt + 60_000).toISOString() };
    },
    async findSlotNearAppointment(req: { appointmentId: string }) {
      await slow('findSlotNearAppointment', req);
      const r = row(req.appointmentId);
      const at = Date.parse(r.startsAt) + 3600_000;
      return { slot: { startsAt: new Date(at).toISOString(), endsAt: new Date(at + 1800_000).toISOString() }, autoRescheduleOnLeave: false };
    },
    async deliverMessage(req: { idempotencyKey: string; template: string }) {
      await slow('deliverMessage', req);
      return { notificationId: req.idempotencyKey, status: 'SENT' as const, channel: 'email' as const };
    },
    async sendAppointmentMessage(req: { appointmentId: string; seq: number; template: string; params: Record<string, string> }) {
      await slow('sendAppointmentMessage', req);
      return { notificationId: `${req.appointmentId}-m${req.seq}`, status: 'SENT' as const, channel: 'email' as const };
    },
    async markNotificationUndelivered(req: unknown) { await slow('markNotificationUndelivered', req); return null; },
    async recordFollowUp() { return undefined; },
  };
  return { activities, rows, calls };
}
