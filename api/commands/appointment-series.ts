import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Actor, AppAbility } from '../../shared/permissions';
import { recurringSeries } from '../../workflows/series';
import {
  cancelFromUpdate, replanSeriesUpdate, SERIES_TASK_QUEUE, seriesReadyUpdate, seriesWorkflowId, skipOccurrenceUpdate, type SeriesInput,
} from '../../workflows/series-api';
import { SA } from '../../workflows/search-attributes';
import { decodeCursor, page } from '../http/pagination';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import type { IdempotentJourney } from './idempotency';
import { idFromKey } from './idempotency';
import { longJourneyProblem, runJourneyUpdate } from './journey-update';

const DEFAULT_HORIZON_DAYS = 14;

export interface CreateSeriesInput {
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  startsAt: string;
  rrule: string;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg rows
function seriesView(deps: ApiDeps, row: Record<string, any>, occurrences: Record<string, any>[]) {
  return {
    id: row.id, clinicId: row.clinic_id, patientId: row.patient_id, practitionerId: row.practitioner_id, serviceId: row.service_id, locationId: row.location_id,
    rrule: row.rrule, startsAt: iso(row.starts_at), timezone: row.timezone, status: row.status, workflowId: row.workflow_id,
    workflowUrl: `${deps.config.TEMPORAL_UI_URL}/namespaces/${deps.config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(row.workflow_id)}`,
    occurrences: occurrences.map((o) => ({
      startsAt: iso(o.starts_at), endsAt: iso(o.ends_at), status: o.status,
      ...(o.appointment_id ? { appointmentId: o.appointment_id } : {}), ...(o.reason ? { reason: o.reason } : {}),
    })),
    createdAt: iso(row.created_at), updatedAt: iso(row.updated_at),
  };
}

async function loadSeries(deps: ApiDeps, clinicId: string, id: string) {
  const [row] = await deps.dataSource.query(`SELECT * FROM appointment_series WHERE clinic_id = $1 AND id = $2`, [clinicId, id]);
  if (!row) return null;
  const occurrences = await deps.dataSource.query(
    `SELECT * FROM appointment_series_occurrences WHERE clinic_id = $1 AND series_id = $2 ORDER BY starts_at LIMIT 500`, [clinicId, id]);
  return seriesView(deps, row, occurrences);
}

export type SeriesView = NonNullable<Awaited<ReturnType<typeof loadSeries>>>;

/** POST /appointment-series under an Idempotency-Key: the key fixes the series id; once its first bookings are recorded, that is the answer. */
export const seriesJourney: IdempotentJourney = {
  async outcome(deps, actor, id) {
    const [row] = await deps.dataSource.query(
      `SELECT 1 FROM appointment_series s WHERE clinic_id = $1 AND id = $2 AND created_by = $3
         AND EXISTS (SELECT 1 FROM appointment_series_occurrences o WHERE o.clinic_id = s.clinic_id AND o.series_id = s.id AND o.status <> 'PLANNED')`,
      [actor.clinicId, id, actor.userId]);
    return row ? { status: 201, body: await loadSeries(deps, actor.clinicId!, id) } : null;
  },
};

/** Starts `series-<id>` (update-with-start) and answers once the occurrences inside the horizon are booked or skipped. */
export async function createSeries(deps: ApiDeps, actor: Actor, ability: AppAbility, input: CreateSeriesInput, idempotencyKey?: string): Promise<SeriesView> {
  const clinicId = actor.clinicId!;
  if (!ability.can('create', subject('AppointmentSeries', { clinicId, patientId: input.patientId, practitionerId: input.practitionerId }))) {
    throw problems.forbidden('You may not create a series for this patient');
  }
  if (Date.parse(input.startsAt) <= Date.now()) throw problems.unprocessable('in-the-past', 'startsAt must be in the future', [{ field: 'body.startsAt', message: 'must be in the future' }]);
  const [facts] = await deps.dataSource.query(
    `SELECT EXISTS (SELECT 1 FROM patients WHERE clinic_id = $1 AND id = $2) AS patient,
            (SELECT $4 = ANY (location_ids) FROM practitioners WHERE clinic_id = $1 AND id = $3) AS practitioner_here,
            (SELECT timezone FROM locations WHERE clinic_id = $1 AND id = $4) AS timezone,
            EXISTS (SELECT 1 FROM services WHERE clinic_id = $1 AND id = $5) AS service,
            (SELECT settings FROM clinics WHERE id = $1) AS settings`,
    [clinicId, input.patientId, input.practitionerId, input.locationId, input.serviceId]);
  const wrong = [
    ...(!facts.patient ? [{ field: 'body.patientId', message: 'no such patient in this clinic' }] : []),
    ...(facts.practitioner_here === null ? [{ field: 'body.practitionerId', message: 'no such practitioner in this clinic' }] : []),
    ...(!facts.timezone ? [{ field: 'body.locationId', message: 'no such location in this clinic' }] : []),
    ...(facts.practitioner_here === false && facts.timezone ? [{ field: 'body.locationId', message: 'the practitioner does not work here' }] : []),
    ...(!facts.service ? [{ field: 'body.serviceId', message: 'no such service in this clinic' }] : []),
  ];
  if (wrong.length) throw problems.unprocessable('invalid-reference', 'The series names a resource the clinic does not have', wrong);
  const horizonDays = typeof facts.settings?.seriesHorizonDays === 'number' ? facts.settings.seriesHorizonDays : DEFAULT_HORIZON_DAYS;

  const seriesId = idempotencyKey ? idFromKey(actor.userId, idempotencyKey) : randomUUID();
  const workflowId = seriesWorkflowId(seriesId);
  const startsAt = new Date(input.startsAt).toISOString();
  await deps.dataSource.query(
    `INSERT INTO appointment_series (id, clinic_id, patient_id, practitioner_id, service_id, location_id, rrule, starts_at, timezone, status, workflow_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ACTIVE', $10, $11) ON CONFLICT (id) DO NOTHING`,
    [seriesId, clinicId, input.patientId, input.practitionerId, input.serviceId, input.locationId, input.rrule, startsAt, facts.timezone, workflowId, actor.userId]);
  const journey: SeriesInput = {
    seriesId, clinicId, patientId: input.patientId, practitionerId: input.practitionerId, serviceId: input.serviceId, locationId: input.locationId,
    actorUserId: actor.userId, rrule: input.rrule, startsAt, timezone: facts.timezone, horizonDays,
  };
  deps.metrics.workflowStarts.inc({ workflow: 'recurringSeries' });
  try {
    await deps.temporal.workflow.executeUpdateWithStart(seriesReadyUpdate, {
      args: [],
      startWorkflowOperation: new WithStartWorkflowOperation(recurringSeries, {
        workflowId, taskQueue: SERIES_TASK_QUEUE, args: [journey], workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: SA.ClinicId, value: clinicId }, { key: SA.PatientId, value: input.patientId },
          { key: SA.PractitionerId, value: input.practitionerId }, { key: SA.JourneyKind, value: 'recurringSeries' },
        ],
      }),
    });
  } catch (err) {
    longJourneyProblem(err, 'series');
  }
  return (await loadSeries(deps, clinicId, seriesId))!;
}

async function loadReadable(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string): Promise<SeriesView> {
  const series = await loadSeries(deps, actor.clinicId!, id);
  if (!series || !ability.can('read', subject('AppointmentSeries', { clinicId: series.clinicId, patientId: series.patientId, practitionerId: series.practitionerId }))) {
    throw problems.notFound('Appointment series');
  }
  return series;
}

export const getSeries = loadReadable;

export async function listSeries(deps: ApiDeps, actor: Actor, ability: AppAbility, q: { patientId?: string; status?: string; limit: number; cursor?: string }) {
  const cursor = decodeCursor(q.cursor);
  const ownOnly = !ability.can('read', subject('AppointmentSeries', { clinicId: actor.clinicId!, patientId: '', practitionerId: '' }));
  const rows: Record<string, unknown>[] = await deps.dataSource.query(
    `SELECT * FROM appointment_series
     WHERE clinic_id = $1 AND ($2::uuid IS NULL OR patient_id = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::uuid[] IS NULL OR patient_id = ANY ($4))
       AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid))
     ORDER BY created_at, id LIMIT $7`,
    [actor.clinicId, q.patientId ?? null, q.status ?? null, ownOnly ? actor.patientIds : null, cursor?.k ?? null, cursor?.id ?? null, q.limit + 1]);
  const result = page(rows, q.limit, (r) => ({ k: (r.created_at as Date).toISOString(), id: r.id as string }));
  // Lists carry the series without their occurrences (GET /appointment-series/:id has them).
  return { items: result.items.map((r) => { const { occurrences: _o, ...v } = seriesView(deps, r, []); return v; }), nextCursor: result.nextCursor };
}

type Change = 'skip' | 'cancel' | 'replan';

export async function changeSeries(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, change: Change, body: { startsAt?: string; from?: string; rrule?: string }): Promise<SeriesView> {
  const series = await loadReadable(deps, actor, ability, id);
  const action = change === 'cancel' ? 'cancel' : 'update';
  if (!ability.can(action, subject('AppointmentSeries', { clinicId: series.clinicId, patientId: series.patientId, practitionerId: series.practitionerId }))) {
    throw problems.forbidden(`You may not change this series`);
  }
  const w = series.workflowId;
  const actorUserId = actor.userId;
  switch (change) {
    case 'skip': await runJourneyUpdate(deps, w, skipOccurrenceUpdate, { actorUserId, startsAt: new Date(body.startsAt!).toISOString() }, 'series'); break;
    case 'cancel': await runJourneyUpdate(deps, w, cancelFromUpdate, { actorUserId, from: new Date(body.from ?? Date.now()).toISOString() }, 'series'); break;
    case 'replan': {
      const startsAt = body.startsAt ? new Date(body.startsAt).toISOString() : series.startsAt!;
      if (body.startsAt && Date.parse(startsAt) <= Date.now()) throw problems.unprocessable('in-the-past', 'startsAt must be in the future', [{ field: 'body.startsAt', message: 'must be in the future' }]);
      await runJourneyUpdate(deps, w, replanSeriesUpdate, { actorUserId, rrule: body.rrule ?? series.rrule, startsAt }, 'series');
      break;
    }
  }
  return (await loadSeries(deps, actor.clinicId!, id))!;
}
