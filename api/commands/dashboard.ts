import { subject } from '@casl/ability';
import { DateTime } from 'luxon';
import { APPOINTMENT_STATUSES, AppointmentStatus } from '../../entities';
import { cacheTags } from '../../shared/cache';
import type { AppAbility } from '../../shared/permissions';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';

export const NO_SHOW_WINDOW_DAYS = 30;

export interface Dashboard {
  clinicId: string;
  timezone: string;
  /** The clinic's local calendar date the figures are for. */
  date: string;
  appointments: { total: number; byStatus: Record<AppointmentStatus, number> };
  /** Checked in today and not yet completed. */
  queueLength: number;
  noShowRate: { windowDays: number; from: string; to: string; noShows: number; completed: number; rate: number | null };
  generatedAt: string;
}

/** Local day boundaries: 23 or 25 hours across a DST change, hence luxon rather than arithmetic. */
export function dashboardWindow(timezone: string, now: Date) {
  const today = DateTime.fromJSDate(now, { zone: timezone }).startOf('day');
  return {
    date: today.toISODate()!,
    dayStart: today.toJSDate(),
    dayEnd: today.plus({ days: 1 }).toJSDate(),
    windowStart: today.minus({ days: NO_SHOW_WINDOW_DAYS - 1 }).toJSDate(),
  };
}

async function clinicTimezone(deps: ApiDeps, clinicId: string): Promise<string> {
  // Untagged: only the TTL retires it, so a changed clinic time zone shows within five minutes.
  const tz = await deps.cache.getOrLoadTagged('clinic-timezone', { key: `{${clinicId}}:timezone:v1`, tags: [], ttlSeconds: 300 }, async () => {
    const [row] = await deps.dataSource.query(`SELECT timezone FROM clinics WHERE id = $1`, [clinicId]);
    return (row?.timezone as string | undefined) ?? null;
  });
  if (!tz) throw problems.notFound('Clinic');
  return tz;
}

async function compute(deps: ApiDeps, clinicId: string, timezone: string, w: ReturnType<typeof dashboardWindow>): Promise<Dashboard> {
  const [row] = await deps.dataSource.query(
    `SELECT
       (SELECT coalesce(json_object_agg(status, n), '{}') FROM (
          SELECT status, count(*)::int AS n FROM appointments
           WHERE clinic_id = $1 AND starts_at >= $2 AND starts_at < $3 GROUP BY status) s) AS by_status,
       (SELECT json_build_object(
          'noShows', count(*) FILTER (WHERE status = 'NO_SHOW'),
          'completed', count(*) FILTER (WHERE status = 'COMPLETED'))
          FROM appointments WHERE clinic_id = $1 AND starts_at >= $4 AND starts_at < $3) AS window`,
    [clinicId, w.dayStart.toISOString(), w.dayEnd.toISOString(), w.windowStart.toISOString()],
  );
  const counts = row.by_status as Partial<Record<AppointmentStatus, number>>;
  const byStatus = Object.fromEntries(APPOINTMENT_STATUSES.map((s) => [s, counts[s] ?? 0])) as Record<AppointmentStatus, number>;
  const { noShows, completed } = row.window as { noShows: number; completed: number };
  return {
    clinicId,
    timezone,
    date: w.date,
    appointments: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus },
    queueLength: byStatus.CHECKED_IN,
    noShowRate: {
      windowDays: NO_SHOW_WINDOW_DAYS, from: w.windowStart.toISOString(), to: w.dayEnd.toISOString(), noShows, completed,
      rate: noShows + completed > 0 ? noShows / (noShows + completed) : null,
    },
    generatedAt: new Date().toISOString(),
  };
}

/**
 * Today's figures in the clinic's time zone, cached under the clinic tag that every appointment
 * change bumps. Staff who read all of the clinic's appointments only: a patient reads their own.
 */
export async function getDashboard(deps: ApiDeps, clinicId: string, ability: AppAbility): Promise<Dashboard> {
  if (!ability.can('read', subject('Appointment', { clinicId, patientId: '', practitionerId: '' }))) throw problems.forbidden();
  const timezone = await clinicTimezone(deps, clinicId);
  const w = dashboardWindow(timezone, new Date());
  const key = `{${clinicId}}:dashboard:v1:${timezone}:${w.date}`;
  return deps.cache.getOrLoadTagged('dashboard', { key, tags: [cacheTags.clinic(clinicId)], ttlSeconds: 60 }, () => compute(deps, clinicId, timezone, w));
}
