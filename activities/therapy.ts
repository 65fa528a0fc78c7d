import { subject } from '@casl/ability';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { loadAbility } from '../shared/actor';
import { AppointmentStore, availableSlots, decideSlot, loadSlotFacts, type AppointmentRow } from '../shared/booking';
import { PG, pgCode } from '../shared/db/pg-errors';
import { BookingFailure, bookingWorkflowId, type AppointmentView } from '../workflows/booking-api';
import type { CourseSession, CourseStatus } from '../workflows/therapy-api';
import { appointmentViewFromRow } from './appointment-view';

export interface TherapyActivityDeps {
  dataSource: DataSource;
  onAppointmentChanged?: (a: AppointmentView) => Promise<void>;
}

export interface BookSessionRequest {
  clinicId: string;
  seriesId: string;
  /** Chosen by the journey, so a retry finds the row it already wrote. */
  appointmentId: string;
  patientId: string;
  practitionerId: string;
  locationId: string;
  serviceId: string;
  actorUserId: string;
  /** The wanted start (the course's time that day), and the day it must fall in. */
  target: string;
  dayFrom: string;
  dayTo: string;
  /** The course's other booked sessions: never overlapped. */
  avoid: { startsAt: string; endsAt: string }[];
}

export type BookSessionResult =
  | { booked: true; appointmentId: string; startsAt: string; endsAt: string; roomId: string | null; therapistIds: string[] }
  | { booked: false; reason: 'NO_FREE_TIME' };

/** Slots lost to a concurrent booking between decision and insert: look again this many times. */
const BOOK_ATTEMPTS = 3;
/** Nothing is booked to start sooner than this: the journey needs a moment to adopt it. */
const LEAD_MS = 60_000;

const refusal = (type: string, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

const sessionOf = (row: AppointmentRow): Extract<BookSessionResult, { booked: true }> => ({
  booked: true, appointmentId: row.id, startsAt: new Date(row.starts_at).toISOString(), endsAt: new Date(row.ends_at).toISOString(),
  roomId: row.room_id, therapistIds: row.therapist_ids ?? [],
});

const pgArray = (ids: readonly string[]) => `{${ids.join(',')}}`;

/**
 * Books one slot for a long journey through the booking core: the facts of the window, the pure
 * decision, the insert under the exclusion constraint (which has the last word). Candidates are
 * the wanted time, then every free slot of the window nearest to it first. Shared by the course
 * (one day's window) and the recurring series (one occurrence's exact time).
 */
export async function bookInWindow(
  dataSource: DataSource,
  req: { clinicId: string; appointmentId: string; patientId: string; practitionerId: string; locationId: string; serviceId: string; actorUserId: string; seriesId: string },
  window: { target: number; from: number; to: number; exactOnly: boolean; avoid?: { startsAt: number; endsAt: number }[] },
): Promise<{ row: AppointmentRow } | { refused: 'NO_FREE_TIME' | 'SLOT_TAKEN' | 'OUTSIDE_SCHEDULE' }> {
  const store = new AppointmentStore(dataSource, req.clinicId);
  const notBefore = Date.now() + LEAD_MS;
  let lastRefusal: 'SLOT_TAKEN' | 'OUTSIDE_SCHEDULE' = 'SLOT_TAKEN';
  for (let attempt = 1; attempt <= BOOK_ATTEMPTS; attempt++) {
    const facts = await loadSlotFacts(dataSource, {
      clinicId: req.clinicId, practitionerId: req.practitionerId, locationId: req.locationId, serviceId: req.serviceId, patientId: req.patientId,
      from: new Date(window.from), to: new Date(window.to),
    });
    if (!facts.service || !facts.practitioner || !facts.timezone || facts.patientKnown === false) throw refusal(BookingFailure.INVALID_REFERENCE, 'The course or series names a resource the clinic no longer has');
    const duration = facts.service.durationMinutes * 60_000;
    const wanted = { startsAt: new Date(window.target), endsAt: new Date(window.target + duration) };
    const nearest = window.exactOnly ? [] : availableSlots(facts, new Date(window.from), new Date(window.to))
      .sort((a, b) => Math.abs(a.startsAt.getTime() - window.target) - Math.abs(b.startsAt.getTime() - window.target) || a.startsAt.getTime() - b.startsAt.getTime());
    const candidates = [wanted, ...nearest].filter((c) => c.startsAt.getTime() >= notBefore && (window.exactOnly || c.endsAt.getTime() <= window.to)
      && !(window.avoid ?? []).some((o) => c.startsAt.getTime() < o.endsAt && o.startsAt < c.endsAt.getTime()));
    let lostRace = false;
    for (const c of candidates) {
      const decision = decideSlot(facts, c);
      if (!decision.ok) {
        if (decision.code === 'OUTSIDE_SCHEDULE' || decision.code === 'SLOT_TAKEN') lastRefusal = decision.code;
        continue;
      }
      try {
        const row = await dataSource.transaction(async (tx) => {
          await tx.query(`SET LOCAL lock_timeout = '3s'`);
          // A course is paid as a whole (payments name therapySeriesId), so its sessions hold no payment of their own.
          return new AppointmentStore(tx, req.clinicId).insert({
            id: req.appointmentId, locationId: req.locationId, patientId: req.patientId, practitionerId: req.practitionerId,
            roomId: decision.roomId, therapistIds: decision.therapistIds, serviceId: req.serviceId, startsAt: c.startsAt, endsAt: c.endsAt,
            mode: 'IN_PERSON', status: 'CONFIRMED', workflowId: bookingWorkflowId(req.appointmentId), createdBy: req.actorUserId, seriesId: req.seriesId,
          });
        });
        // Null: a retry of this activity, whose row is already there.
        return { row: row ?? (await store.get(req.appointmentId))! };
      } catch (err) {
        if (pgCode(err) !== PG.EXCLUSION_VIOLATION && pgCode(err) !== PG.DEADLOCK) throw err;
        lostRace = true;
        break;
      }
    }
    if (!lostRace) return { refused: window.exactOnly ? lastRefusal : 'NO_FREE_TIME' };
  }
  return { refused: window.exactOnly ? 'SLOT_TAKEN' : 'NO_FREE_TIME' };
}

/** May the actor create or change long journeys for this patient in this clinic (re-checked in the activity, SPEC §1)? */
export async function assertMayRunSeries(dataSource: DataSource, kind: 'TherapySeries' | 'AppointmentSeries', req: { actorUserId: string; clinicId: string; patientId: string; practitionerId: string }) {
  const { ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
  const target = subject(kind, { clinicId: req.clinicId, patientId: req.patientId, practitionerId: req.practitionerId });
  if (!ability.can('create', target) && !ability.can('update', target)) throw refusal(BookingFailure.FORBIDDEN, 'Not allowed for this user in this clinic');
}

export function createTherapyActivities({ dataSource, onAppointmentChanged }: TherapyActivityDeps) {
  return {
    /** The clinic's name for the course's messages. */
    async courseContext(req: { clinicId: string }): Promise<{ clinicName: string }> {
      const [row] = await dataSource.query(`SELECT name FROM clinics WHERE id = $1`, [req.clinicId]);
      return { clinicName: row?.name ?? '' };
    },

    /**
     * Books one session of the course in its day: at the course's time when free, else the
     * nearest free time that day, never over another session of the course. A retry returns the
     * row it already wrote. `booked: false` when nothing is free that day.
     */
    async bookCourseSession(req: BookSessionRequest): Promise<BookSessionResult> {
      const existing = await new AppointmentStore(dataSource, req.clinicId).get(req.appointmentId);
      if (existing) return sessionOf(existing);
      await assertMayRunSeries(dataSource, 'TherapySeries', req);
      const result = await bookInWindow(dataSource, req, {
        target: Date.parse(req.target), from: Date.parse(req.dayFrom), to: Date.parse(req.dayTo), exactOnly: false,
        avoid: req.avoid.map((a) => ({ startsAt: Date.parse(a.startsAt), endsAt: Date.parse(a.endsAt) })),
      });
      if ('refused' in result) return { booked: false, reason: 'NO_FREE_TIME' };
      await onAppointmentChanged?.(appointmentViewFromRow(result.row));
      return sessionOf(result.row);
    },

    /** The course as the journey knows it, for the API's reads (idempotent: the whole state each time). */
    async saveCourse(req: { clinicId: string; seriesId: string; status: CourseStatus; reason: string | null; sessions: CourseSession[] }): Promise<void> {
      await dataSource.transaction(async (tx) => {
        await tx.query(`UPDATE therapy_series SET status = $3, status_reason = $4, updated_at = now() WHERE clinic_id = $1 AND id = $2`,
          [req.clinicId, req.seriesId, req.status, req.reason]);
        const rows = req.sessions.map((s) => ({
          n: s.n, phase: s.phase, service_id: s.serviceId, starts_at: s.startsAt, ends_at: s.endsAt, status: s.status,
          appointment_id: s.appointmentId, room_id: s.roomId, therapist_ids: pgArray(s.therapistIds), reason: s.reason,
        }));
        await tx.query(
          `INSERT INTO therapy_series_sessions (clinic_id, series_id, n, phase, service_id, starts_at, ends_at, status, appointment_id, room_id, therapist_ids, reason)
           SELECT $1, $2, s.n, s.phase, s.service_id, s.starts_at, s.ends_at, s.status, s.appointment_id, s.room_id, s.therapist_ids::uuid[], s.reason
           FROM jsonb_to_recordset($3::jsonb) AS s(n int, phase text, service_id uuid, starts_at timestamptz, ends_at timestamptz, status text,
                                                   appointment_id uuid, room_id uuid, therapist_ids text, reason text)
           ON CONFLICT (series_id, n) DO UPDATE SET starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, status = EXCLUDED.status,
             appointment_id = EXCLUDED.appointment_id, room_id = EXCLUDED.room_id, therapist_ids = EXCLUDED.therapist_ids, reason = EXCLUDED.reason`,
          [req.clinicId, req.seriesId, JSON.stringify(rows)],
        );
      });
    },
  };
}

export type TherapyActivities = ReturnType<typeof createTherapyActivities>;
