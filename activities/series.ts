import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { occurrencesBetween } from '../shared/series/expand';
import type { AppointmentView } from '../workflows/booking-api';
import type { OccurrenceStatus, SeriesStatus } from '../workflows/series-api';
import { appointmentViewFromRow } from './appointment-view';
import { createJourneyControlActivities, type JourneyControlDeps } from './journey-control';
import { assertMayRunSeries, bookInWindow } from './therapy';

export type SeriesActivityDeps = JourneyControlDeps & { onAppointmentChanged?: (a: AppointmentView) => Promise<void> };

export interface OccurrenceRequest {
  clinicId: string;
  seriesId: string;
  appointmentId: string;
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  actorUserId: string;
  startsAt: string;
}

export type OccurrenceResult =
  | { status: 'BOOKED'; appointmentId: string; startsAt: string; endsAt: string; existing: boolean }
  | { status: 'SKIPPED' | 'CANCELLED'; reason: string | null; existing: boolean };

/** PLANNED rows are written this far ahead at most (an endless rule is planned a year at a time). */
const PLAN_AHEAD_MS = 400 * 86_400_000;
const PLAN_MAX = 200;

const rowsOf = (db: DataSource) => ({
  get: async (clinicId: string, seriesId: string, startsAt: string) =>
    (await db.query(`SELECT * FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 AND starts_at = $3`, [clinicId, seriesId, startsAt]))[0],
  put: (clinicId: string, seriesId: string, o: { startsAt: string; endsAt: string; status: OccurrenceStatus; appointmentId?: string | null; reason?: string | null }) =>
    db.query(
      `INSERT INTO appointment_series_occurrences (clinic_id, series_id, starts_at, ends_at, status, appointment_id, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (series_id, starts_at) DO UPDATE SET ends_at = EXCLUDED.ends_at, status = EXCLUDED.status,
         appointment_id = EXCLUDED.appointment_id, reason = EXCLUDED.reason`,
      [clinicId, seriesId, o.startsAt, o.endsAt, o.status, o.appointmentId ?? null, o.reason ?? null]),
});

export function createSeriesActivities(deps: SeriesActivityDeps) {
  const { dataSource, onAppointmentChanged } = deps;
  const control = createJourneyControlActivities(deps);
  const rows = rowsOf(dataSource);
  const durationMs = async (clinicId: string, serviceId: string) =>
    ((await dataSource.query(`SELECT duration_minutes FROM services WHERE clinic_id = $1 AND id = $2`, [clinicId, serviceId]))[0]?.duration_minutes ?? 0) * 60_000;

  /** Cancels the occurrences at `startsAts` (booked ones through their journeys), recording `status` and `reason`. */
  async function withdraw(req: { clinicId: string; seriesId: string; actorUserId: string }, where: string, params: unknown[], status: 'SKIPPED' | 'CANCELLED', reason: string) {
    const found: { starts_at: Date; status: string; appointment_id: string | null }[] = await dataSource.query(
      `SELECT starts_at, status, appointment_id FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 AND ${where}`,
      [req.clinicId, req.seriesId, ...params]);
    for (const o of found) {
      if (o.status === 'BOOKED' && o.appointment_id) {
        await control.cancelJourneyAppointment({ clinicId: req.clinicId, appointmentId: o.appointment_id, actorUserId: req.actorUserId, reason: `Series: ${reason}` });
      }
      await dataSource.query(`UPDATE appointment_series_occurrences SET status = $4, reason = $5 WHERE clinic_id = $1 AND series_id = $2 AND starts_at = $3`,
        [req.clinicId, req.seriesId, o.starts_at, status, reason]);
    }
    return found.length;
  }

  return {
    async seriesContext(req: { clinicId: string }): Promise<{ clinicName: string }> {
      const [row] = await dataSource.query(`SELECT name FROM clinics WHERE id = $1`, [req.clinicId]);
      return { clinicName: row?.name ?? '' };
    },

    /**
     * Books one occurrence at its exact time through the booking core, or records it SKIPPED with
     * the reason (SLOT_TAKEN, OUTSIDE_SCHEDULE, IN_THE_PAST). An occurrence already decided (a
     * retry, a re-plan that kept it, a staff skip) is returned as recorded.
     */
    async bookSeriesOccurrence(req: OccurrenceRequest): Promise<OccurrenceResult> {
      const recorded = await rows.get(req.clinicId, req.seriesId, req.startsAt);
      if (recorded && recorded.status !== 'PLANNED') {
        return recorded.status === 'BOOKED'
          ? { status: 'BOOKED', appointmentId: recorded.appointment_id, startsAt: new Date(recorded.starts_at).toISOString(), endsAt: new Date(recorded.ends_at).toISOString(), existing: true }
          : { status: recorded.status, reason: recorded.reason, existing: true };
      }
      const duration = await durationMs(req.clinicId, req.serviceId);
      const at = Date.parse(req.startsAt);
      const endsAt = new Date(at + duration).toISOString();
      const skip = async (reason: string): Promise<OccurrenceResult> => {
        await rows.put(req.clinicId, req.seriesId, { startsAt: req.startsAt, endsAt, status: 'SKIPPED', reason });
        return { status: 'SKIPPED', reason, existing: false };
      };
      if (at <= Date.now()) return skip('IN_THE_PAST');
      await assertMayRunSeries(dataSource, 'AppointmentSeries', req);
      const result = await bookInWindow(dataSource, req, { target: at, from: at, to: at + duration, exactOnly: true });
      if ('refused' in result) return skip(result.refused);
      await rows.put(req.clinicId, req.seriesId, { startsAt: req.startsAt, endsAt, status: 'BOOKED', appointmentId: result.row.id });
      await onAppointmentChanged?.(appointmentViewFromRow(result.row));
      return { status: 'BOOKED', appointmentId: result.row.id, startsAt: req.startsAt, endsAt, existing: false };
    },

    /** PLANNED rows for occurrences after `after` (not before cancelFrom, not skipped), replacing the PLANNED rows there. */
    async planSeriesOccurrences(req: { clinicId: string; seriesId: string; serviceId: string; rrule: string; startsAt: string; timezone: string; after: number; cancelFrom: number | null }): Promise<number> {
      const duration = await durationMs(req.clinicId, req.serviceId);
      const until = req.cancelFrom !== null ? Math.min(req.cancelFrom - 1, Date.now() + PLAN_AHEAD_MS) : Date.now() + PLAN_AHEAD_MS;
      const planned = until > req.after ? occurrencesBetween(req, req.after, until, PLAN_MAX) : [];
      await dataSource.transaction(async (tx) => {
        await tx.query(`DELETE FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 AND status = 'PLANNED' AND starts_at > $3`,
          [req.clinicId, req.seriesId, new Date(req.after).toISOString()]);
        await tx.query(
          `INSERT INTO appointment_series_occurrences (clinic_id, series_id, starts_at, ends_at, status)
           SELECT $1, $2, s, s + make_interval(secs => $4::double precision / 1000), 'PLANNED' FROM unnest($3::timestamptz[]) AS s
           ON CONFLICT (series_id, starts_at) DO NOTHING`,
          [req.clinicId, req.seriesId, planned.map((ms) => new Date(ms).toISOString()), duration]);
      });
      return planned.length;
    },

    /** A staff skip of one occurrence: a booked one is cancelled through its journey first. */
    async skipSeriesOccurrence(req: { clinicId: string; seriesId: string; actorUserId: string; startsAt: string; endsAt: string }): Promise<void> {
      const n = await withdraw(req, 'starts_at = $3', [req.startsAt], 'SKIPPED', 'SKIPPED_BY_STAFF');
      if (!n) await rows.put(req.clinicId, req.seriesId, { startsAt: req.startsAt, endsAt: req.endsAt, status: 'SKIPPED', reason: 'SKIPPED_BY_STAFF' });
    },

    /** Cancels every booked or planned occurrence from `from` on (booked ones through their journeys). */
    async cancelSeriesFrom(req: { clinicId: string; seriesId: string; actorUserId: string; from: string }): Promise<number> {
      return withdraw(req, `starts_at >= $3 AND status IN ('BOOKED', 'PLANNED')`, [req.from], 'CANCELLED', 'SERIES_CANCELLED');
    },

    /** A new rule: future booked occurrences the new rule keeps stay booked; the others are cancelled; PLANNED rows are redone by the journey. */
    async replanSeries(req: { clinicId: string; seriesId: string; actorUserId: string; rrule: string; startsAt: string; timezone: string; from: string }): Promise<void> {
      const booked: { starts_at: Date }[] = await dataSource.query(
        `SELECT starts_at FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 AND status = 'BOOKED' AND starts_at > $3`,
        [req.clinicId, req.seriesId, req.from]);
      const from = Date.parse(req.from);
      const last = Math.max(from, ...booked.map((b) => new Date(b.starts_at).getTime()));
      const kept = new Set(occurrencesBetween(req, from, last + 1, 1000));
      const dropped = booked.filter((b) => !kept.has(new Date(b.starts_at).getTime())).map((b) => new Date(b.starts_at).toISOString());
      if (dropped.length) await withdraw(req, `starts_at = ANY ($3::timestamptz[])`, [dropped], 'CANCELLED', 'REPLANNED');
      await dataSource.query(`DELETE FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 AND status = 'PLANNED' AND starts_at > $3`,
        [req.clinicId, req.seriesId, req.from]);
      await dataSource.query(`UPDATE appointment_series SET rrule = $3, starts_at = $4, updated_at = now() WHERE clinic_id = $1 AND id = $2`,
        [req.clinicId, req.seriesId, req.rrule, req.startsAt]);
    },

    async setSeriesStatus(req: { clinicId: string; seriesId: string; status: SeriesStatus }): Promise<void> {
      const [, n] = await dataSource.query(`UPDATE appointment_series SET status = $3, updated_at = now() WHERE clinic_id = $1 AND id = $2`, [req.clinicId, req.seriesId, req.status]);
      if (n === 0) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: 'Series not found', nonRetryable: true });
    },
  };
}

export type SeriesActivities = ReturnType<typeof createSeriesActivities>;
