import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { journeySettings, minutesToMs, parseQuietHours, planReminders } from '../shared/journey';
import { BookingFailure } from '../workflows/booking-api';
import { findNearestFreeSlot } from './slot-search';

export interface JourneyActivityDeps {
  dataSource: DataSource;
}

export interface PlanRequest {
  appointmentId: string;
  clinicId: string;
  /** The visit's start as the journey knows it. */
  startsAt: string;
  /** When the visit got this time (see planReminders). */
  armedAt: string;
}

/** What the journey needs to run its timers and word its messages. Ids, times and the clinic's name; no PHI. */
export interface JourneyPlan {
  clinicName: string;
  /** The location's zone: message times are written in it. */
  timezone: string;
  reminders: { key: string; at: string }[];
  noShowAt: string;
}

export interface SlotRequest {
  appointmentId: string;
  clinicId: string;
}

export interface SlotOffer {
  slot: { startsAt: string; endsAt: string } | null;
  /** The clinic's choice: move the visit there, or only offer it. */
  autoRescheduleOnLeave: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function createJourneyActivities({ dataSource }: JourneyActivityDeps) {
  return {
    /**
     * The reminder times and no-show deadline for the visit's current time, from the clinic's
     * settings and the patient's quiet hours as they are now. Called whenever the journey wakes,
     * so a change of settings or preferences applies to reminders not yet sent.
     */
    async planJourney(req: PlanRequest): Promise<JourneyPlan> {
      const [row] = await dataSource.query(
        `SELECT c.name AS clinic_name, c.timezone AS clinic_timezone, c.settings, l.timezone AS location_timezone, p.preferences
         FROM appointments a
         JOIN clinics c ON c.id = a.clinic_id
         JOIN locations l ON l.clinic_id = a.clinic_id AND l.id = a.location_id
         JOIN patients p ON p.clinic_id = a.clinic_id AND p.id = a.patient_id
         WHERE a.id = $1 AND a.clinic_id = $2`,
        [req.appointmentId, req.clinicId],
      );
      // Never expected (the journey owns the row): fail loudly rather than retry forever.
      if (!row) throw ApplicationFailure.create({ type: BookingFailure.NOT_FOUND, message: 'Appointment not found', nonRetryable: true });
      const settings = journeySettings(row.settings);
      const startsAt = Date.parse(req.startsAt);
      const reminders = planReminders({
        startsAt, armedAt: Date.parse(req.armedAt), offsetsMinutes: settings.reminderOffsetsMinutes,
        quietHours: parseQuietHours(row.preferences?.quietHours), timezone: row.clinic_timezone,
      });
      return {
        clinicName: row.clinic_name,
        timezone: row.location_timezone,
        reminders: reminders.map((r) => ({ key: r.key, at: iso(r.at) })),
        noShowAt: iso(startsAt + minutesToMs(settings.noShowGraceMinutes)),
      };
    },

    /**
     * The free slot nearest to the visit's current time with the same practitioner (after a leave
     * was added, which the schedule already excludes), no earlier than the clinic's minimum notice.
     */
    async findSlotNearAppointment(req: SlotRequest): Promise<SlotOffer> {
      const [a] = await dataSource.query(
        `SELECT a.practitioner_id, a.location_id, a.service_id, a.starts_at, a.ends_at, c.settings
         FROM appointments a JOIN clinics c ON c.id = a.clinic_id WHERE a.id = $1 AND a.clinic_id = $2`,
        [req.appointmentId, req.clinicId],
      );
      if (!a) return { slot: null, autoRescheduleOnLeave: false };
      const startsAt = new Date(a.starts_at);
      const slot = await findNearestFreeSlot(dataSource, {
        clinicId: req.clinicId, practitionerId: a.practitioner_id, locationId: a.location_id, serviceId: a.service_id,
        durationMinutes: (new Date(a.ends_at).getTime() - startsAt.getTime()) / 60_000,
        target: startsAt, notBefore: new Date(Date.now() + Math.max(minutesToMs(journeySettings(a.settings).minNoticeMinutes), 60_000)),
        ignoreAppointmentId: req.appointmentId,
      });
      return {
        slot: slot && { startsAt: slot.startsAt.toISOString(), endsAt: slot.endsAt.toISOString() },
        autoRescheduleOnLeave: journeySettings(a.settings).autoRescheduleOnLeave,
      };
    },
  };
}

export type JourneyActivities = ReturnType<typeof createJourneyActivities>;
