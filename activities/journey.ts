import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  journeySettings, minutesToMs, parseQuietHours, planAfterCare, planPreparation, planReminders,
} from '../shared/journey';
import { serviceKind } from '../shared/service-kinds';
import { BookingFailure } from '../workflows/booking-api';
import { JOURNEY_MESSAGE_ATTEMPTS, MessageOutcome, NotificationFailure } from '../workflows/notification-api';
import { createNotificationActivities, NotificationActivityDeps } from './notifications';
import { findNearestFreeSlot } from './slot-search';

export type JourneyActivityDeps = NotificationActivityDeps;

export interface PlanRequest {
  appointmentId: string;
  clinicId: string;
  /** The visit's start as the journey knows it. */
  startsAt: string;
  /** The visit's end as the journey knows it (after-care counts from it); absent in journeys planned before after-care. */
  endsAt?: string;
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
  /** The service's kind (shared/service-kinds), whose instructions the steps below name. */
  kind?: string;
  /** The kind's preparation instructions before the visit, out of quiet hours. */
  preparation?: { key: string; at: string; instruction: string }[];
  /** The kind's after-care instructions after the visit's end, sent once it is completed. */
  afterCare?: { key: string; at: string; instruction: string }[];
  /** The kind's follow-up when staff complete the visit without naming one; null: none. */
  defaultFollowUpInDays?: number | null;
}

/** One message of an appointment journey: the activity adds the clinic's name and zone and the recipient. */
export interface AppointmentMessage {
  appointmentId: string;
  clinicId: string;
  /** The journey's message number: with the template, the outbox idempotency key. */
  seq: number;
  template: string;
  /** The visit's start when the message was queued (a later move does not rewrite an earlier notice). */
  startsAt: string;
  params: Record<string, string>;
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

/** The outbox key of a journey message (the same as journeys before messages were activities used). */
export const appointmentMessageKey = (m: Pick<AppointmentMessage, 'appointmentId' | 'seq' | 'template'>) =>
  `appointment-${m.appointmentId}-m${m.seq}-${m.template}`;

const notFound = () => ApplicationFailure.create({ type: BookingFailure.NOT_FOUND, message: 'Appointment not found', nonRetryable: true });

export function createJourneyActivities(deps: JourneyActivityDeps) {
  const { dataSource } = deps;
  const notifications = createNotificationActivities(deps);
  return {
    /**
     * The reminder times, the service kind's preparation and after-care steps and the no-show
     * deadline for the visit's current time, from the clinic's settings and the patient's quiet
     * hours as they are now. Called whenever the journey wakes, so a change of settings or
     * preferences applies to steps not yet taken.
     */
    async planJourney(req: PlanRequest): Promise<JourneyPlan> {
      const [row] = await dataSource.query(
        `SELECT c.name AS clinic_name, c.timezone AS clinic_timezone, c.settings, l.timezone AS location_timezone, p.preferences,
                s.kind AS service_kind, a.ends_at
         FROM appointments a
         JOIN clinics c ON c.id = a.clinic_id
         JOIN locations l ON l.clinic_id = a.clinic_id AND l.id = a.location_id
         JOIN patients p ON p.clinic_id = a.clinic_id AND p.id = a.patient_id
         JOIN services s ON s.clinic_id = a.clinic_id AND s.id = a.service_id
         WHERE a.id = $1 AND a.clinic_id = $2`,
        [req.appointmentId, req.clinicId],
      );
      // Never expected (the journey owns the row): fail loudly rather than retry forever.
      if (!row) throw notFound();
      const settings = journeySettings(row.settings);
      const startsAt = Date.parse(req.startsAt);
      const armedAt = Date.parse(req.armedAt);
      const quiet = { quietHours: parseQuietHours(row.preferences?.quietHours), timezone: row.clinic_timezone as string };
      const reminders = planReminders({ startsAt, armedAt, offsetsMinutes: settings.reminderOffsetsMinutes, ...quiet });
      const kind = serviceKind(row.service_kind);
      const endsAt = req.endsAt ? Date.parse(req.endsAt) : new Date(row.ends_at).getTime();
      const steps = (xs: { key: string; instruction: string; at: number }[]) => xs.map((x) => ({ key: x.key, instruction: x.instruction, at: iso(x.at) }));
      return {
        clinicName: row.clinic_name,
        timezone: row.location_timezone,
        reminders: reminders.map((r) => ({ key: r.key, at: iso(r.at) })),
        noShowAt: iso(startsAt + minutesToMs(settings.noShowGraceMinutes)),
        kind: row.service_kind,
        preparation: steps(kind ? planPreparation({ startsAt, armedAt, instructions: kind.preparation, ...quiet }) : []),
        afterCare: steps(kind ? planAfterCare({ endsAt, instructions: kind.afterCare, ...quiet }) : []),
        defaultFollowUpInDays: kind?.defaultFollowUpInDays ?? null,
      };
    },

    /**
     * Sends one message of an appointment journey (SPEC §5 outbox, §8 fallback) as an activity of
     * the journey on the notifications queue: the clinic's name, the location's zone and the patient
     * come from the appointment's row, then deliverMessage does the rest (outbox row, provider
     * idempotency, channel fallback). Temporal retries a provider outage with backoff; on the last of
     * JOURNEY_MESSAGE_ATTEMPTS the row is dead-lettered here and FAILED returned, as the
     * deliverMessage workflow does after its retries. No channel reaching the patient is FAILED too.
     */
    async sendAppointmentMessage(m: AppointmentMessage): Promise<MessageOutcome> {
      const [row] = await dataSource.query(
        `SELECT a.patient_id::text AS patient_id, c.name AS clinic_name, l.timezone
         FROM appointments a
         JOIN clinics c ON c.id = a.clinic_id
         JOIN locations l ON l.clinic_id = a.clinic_id AND l.id = a.location_id
         WHERE a.id = $1 AND a.clinic_id = $2`,
        [m.appointmentId, m.clinicId],
      );
      if (!row) throw notFound();
      const idempotencyKey = appointmentMessageKey(m);
      const request = {
        idempotencyKey, clinicId: m.clinicId, recipient: { kind: 'patient' as const, id: row.patient_id as string }, template: m.template,
        params: { clinicName: row.clinic_name, timezone: row.timezone, startsAt: m.startsAt, ...m.params },
      };
      try {
        return await notifications.deliverMessage(request);
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === NotificationFailure.BAD_RECIPIENT && err.details?.[0]) return err.details[0] as MessageOutcome;
        if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
        if (Context.current().info.attempt < JOURNEY_MESSAGE_ATTEMPTS) throw err;
        const outcome = await notifications.markNotificationUndelivered({ idempotencyKey, clinicId: m.clinicId, reason: 'RETRIES_EXHAUSTED' });
        if (!outcome) throw err;
        return outcome;
      }
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
