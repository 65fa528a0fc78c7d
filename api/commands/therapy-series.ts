import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Actor, AppAbility } from '../../shared/permissions';
import { courseDay } from '../../shared/therapy/days';
import { SHIPPED_TEMPLATES, type TherapyTemplate } from '../../shared/therapy/templates';
import { SA } from '../../workflows/search-attributes';
import { therapySeries } from '../../workflows/therapy';
import {
  cancelCourseUpdate, courseReadyUpdate, pauseCourseUpdate, rescheduleSessionUpdate, resumeCourseUpdate, skipSessionUpdate, THERAPY_TASK_QUEUE,
  therapyWorkflowId, type TherapyInput,
} from '../../workflows/therapy-api';
import { decodeCursor, page } from '../http/pagination';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import type { IdempotentJourney } from './idempotency';
import { idFromKey } from './idempotency';
import { longJourneyProblem, runJourneyUpdate } from './journey-update';

const DEFAULT_REVIEW_AFTER_DAYS = 7;

export interface CreateCourseInput {
  patientId: string;
  templateCode: string;
  locationId: string;
  practitionerId: string;
  startDate: string;
  time: string;
}

/** The clinic's templates: the shipped ones (every clinic has them) and its own. */
export async function listTemplates(deps: ApiDeps, clinicId: string): Promise<TherapyTemplate[]> {
  const own: { code: string; name: string; phases: TherapyTemplate['phases']; review_after_days: number | null }[] = await deps.dataSource.query(
    `SELECT code, name, phases, review_after_days FROM therapy_templates WHERE clinic_id = $1 ORDER BY code`, [clinicId]);
  return [
    ...SHIPPED_TEMPLATES.map((t) => ({ ...t, shipped: true })),
    ...own.map((t) => ({ code: t.code, name: t.name, phases: t.phases, ...(t.review_after_days ? { reviewAfterDays: t.review_after_days } : {}), shipped: false })),
  ];
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

/** The course as its journey last recorded it, with progress; null when not in the clinic. */
async function loadCourse(deps: ApiDeps, clinicId: string, id: string) {
  const [row] = await deps.dataSource.query(`SELECT * FROM therapy_series WHERE clinic_id = $1 AND id = $2`, [clinicId, id]);
  if (!row) return null;
  const sessions: Record<string, any>[] = await deps.dataSource.query( // eslint-disable-line @typescript-eslint/no-explicit-any
    `SELECT * FROM therapy_series_sessions WHERE clinic_id = $1 AND series_id = $2 ORDER BY n`, [clinicId, id]);
  return courseView(deps, row, sessions);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg rows
function courseView(deps: ApiDeps, row: Record<string, any>, sessions: Record<string, any>[]) {
  const t = Date.now();
  const items = sessions.map((s) => ({
    n: s.n, phase: s.phase, serviceId: s.service_id, startsAt: iso(s.starts_at), endsAt: iso(s.ends_at), status: s.status,
    appointmentId: s.appointment_id, roomId: s.room_id, therapistIds: s.therapist_ids ?? [], reason: s.reason,
  }));
  const open = items.filter((s) => s.status === 'BOOKED' && s.endsAt !== null && Date.parse(s.endsAt) > t);
  return {
    id: row.id, clinicId: row.clinic_id, patientId: row.patient_id, practitionerId: row.practitioner_id, locationId: row.location_id,
    templateCode: row.template_code, startDate: typeof row.start_date === 'string' ? row.start_date : iso(row.start_date)!.slice(0, 10), time: row.time,
    status: row.status, reason: row.status_reason, workflowId: row.workflow_id,
    workflowUrl: `${deps.config.TEMPORAL_UI_URL}/namespaces/${deps.config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(row.workflow_id)}`,
    progress: {
      done: items.filter((s) => s.status === 'BOOKED' && s.endsAt !== null && Date.parse(s.endsAt) <= t).length,
      total: items.length,
      currentPhase: row.status === 'ACTIVE' || row.status === 'PAUSED' ? (open[0]?.phase ?? null) : null,
    },
    sessions: items,
    createdAt: iso(row.created_at), updatedAt: iso(row.updated_at),
  };
}

export type CourseView = NonNullable<Awaited<ReturnType<typeof loadCourse>>>;

/** POST /therapy-series under an Idempotency-Key: the key fixes the course id; a course whose sessions are booked is the answer. */
export const therapyJourney: IdempotentJourney = {
  async outcome(deps, actor, id) {
    const [row] = await deps.dataSource.query(`SELECT status FROM therapy_series WHERE clinic_id = $1 AND id = $2 AND created_by = $3`, [actor.clinicId, id, actor.userId]);
    if (!row || row.status === 'BOOKING') return null;
    return { status: 201, body: await loadCourse(deps, actor.clinicId!, id) };
  },
};

/**
 * Starts the course journey (update-with-start on `therapy-<id>`) and answers once every session
 * is booked. Checked first, in one round trip: the patient, practitioner and location exist in
 * the clinic, and the clinic has a service for every code the template names (422 naming it).
 */
export async function createCourse(deps: ApiDeps, actor: Actor, ability: AppAbility, input: CreateCourseInput, idempotencyKey?: string): Promise<CourseView> {
  const clinicId = actor.clinicId!;
  if (!ability.can('create', subject('TherapySeries', { clinicId, patientId: input.patientId, practitionerId: input.practitionerId }))) {
    throw problems.forbidden('You may not create a course for this patient');
  }
  const template = (await listTemplates(deps, clinicId)).find((t) => t.code === input.templateCode);
  if (!template) throw problems.unprocessable('unknown-template', `No course template ${input.templateCode}`, [{ field: 'body.templateCode', message: 'no such template in this clinic' }]);
  const codes = [...new Set(template.phases.map((p) => p.serviceCode))];
  const [facts] = await deps.dataSource.query(
    `SELECT EXISTS (SELECT 1 FROM patients WHERE clinic_id = $1 AND id = $2) AS patient,
            (SELECT $4 = ANY (location_ids) FROM practitioners WHERE clinic_id = $1 AND id = $3) AS practitioner_here,
            (SELECT timezone FROM locations WHERE clinic_id = $1 AND id = $4) AS timezone,
            (SELECT settings FROM clinics WHERE id = $1) AS settings,
            (SELECT coalesce(json_object_agg(code, id), '{}') FROM services WHERE clinic_id = $1 AND code = ANY ($5)) AS services`,
    [clinicId, input.patientId, input.practitionerId, input.locationId, codes]);
  const unknown = [
    ...(!facts.patient ? [{ field: 'body.patientId', message: 'no such patient in this clinic' }] : []),
    ...(facts.practitioner_here === null ? [{ field: 'body.practitionerId', message: 'no such practitioner in this clinic' }] : []),
    ...(!facts.timezone ? [{ field: 'body.locationId', message: 'no such location in this clinic' }] : []),
    ...(facts.practitioner_here === false && facts.timezone ? [{ field: 'body.locationId', message: 'the practitioner does not work here' }] : []),
  ];
  if (unknown.length) throw problems.unprocessable('invalid-reference', 'The course names a resource the clinic does not have', unknown);
  const missing = codes.filter((c) => !facts.services[c]);
  if (missing.length) {
    throw problems.unprocessable('missing-service', `The clinic has no service with code ${missing.join(', ')} (template ${template.code} needs it)`,
      missing.map((c) => ({ field: 'body.templateCode', message: `needs a service with code ${c}` })));
  }
  const dayMinutes = typeof facts.settings?.courseDayMinutes === 'number' ? facts.settings.courseDayMinutes : null;
  const first = courseDay({ startDate: input.startDate, time: input.time, timezone: facts.timezone, dayMinutes }, 0);
  if (first.target <= Date.now()) throw problems.unprocessable('in-the-past', 'The first session must be in the future', [{ field: 'body.startDate', message: 'the first session must be in the future' }]);

  const seriesId = idempotencyKey ? idFromKey(actor.userId, idempotencyKey) : randomUUID();
  const workflowId = therapyWorkflowId(seriesId);
  await deps.dataSource.query(
    `INSERT INTO therapy_series (id, clinic_id, patient_id, practitioner_id, location_id, template_code, template, start_date, time, status, workflow_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'BOOKING', $10, $11) ON CONFLICT (id) DO NOTHING`,
    [seriesId, clinicId, input.patientId, input.practitionerId, input.locationId, template.code, JSON.stringify(template), input.startDate, input.time, workflowId, actor.userId]);
  const journey: TherapyInput = {
    seriesId, clinicId, patientId: input.patientId, practitionerId: input.practitionerId, locationId: input.locationId, actorUserId: actor.userId,
    templateCode: template.code, startDate: input.startDate, time: input.time, timezone: facts.timezone, dayMinutes,
    reviewAfterDays: template.reviewAfterDays ?? DEFAULT_REVIEW_AFTER_DAYS,
    phases: template.phases.map((p) => ({ phase: p.phase, days: p.days, serviceCode: p.serviceCode, serviceId: facts.services[p.serviceCode], regimen: p.regimen ?? [] })),
  };
  deps.metrics.workflowStarts.inc({ workflow: 'therapySeries' });
  try {
    await deps.temporal.workflow.executeUpdateWithStart(courseReadyUpdate, {
      args: [],
      startWorkflowOperation: new WithStartWorkflowOperation(therapySeries, {
        workflowId, taskQueue: THERAPY_TASK_QUEUE, args: [journey], workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: SA.ClinicId, value: clinicId }, { key: SA.PatientId, value: input.patientId },
          { key: SA.PractitionerId, value: input.practitionerId }, { key: SA.JourneyKind, value: 'therapySeries' },
        ],
      }),
    });
  } catch (err) {
    longJourneyProblem(err, 'course');
  }
  return (await loadCourse(deps, clinicId, seriesId))!;
}

async function loadReadable(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string): Promise<CourseView> {
  const course = await loadCourse(deps, actor.clinicId!, id);
  if (!course || !ability.can('read', subject('TherapySeries', { clinicId: course.clinicId, patientId: course.patientId, practitionerId: course.practitionerId }))) {
    throw problems.notFound('Therapy series');
  }
  return course;
}

export const getCourse = loadReadable;

export async function listCourses(deps: ApiDeps, actor: Actor, ability: AppAbility, q: { patientId?: string; status?: string; limit: number; cursor?: string }) {
  const cursor = decodeCursor(q.cursor);
  const ownOnly = !ability.can('read', subject('TherapySeries', { clinicId: actor.clinicId!, patientId: '', practitionerId: '' }));
  const rows: Record<string, unknown>[] = await deps.dataSource.query(
    `SELECT * FROM therapy_series
     WHERE clinic_id = $1 AND ($2::uuid IS NULL OR patient_id = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::uuid[] IS NULL OR patient_id = ANY ($4))
       AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid))
     ORDER BY created_at, id LIMIT $7`,
    [actor.clinicId, q.patientId ?? null, q.status ?? null, ownOnly ? actor.patientIds : null, cursor?.k ?? null, cursor?.id ?? null, q.limit + 1]);
  const views = [];
  for (const row of rows) {
    const sessions = await deps.dataSource.query(`SELECT * FROM therapy_series_sessions WHERE clinic_id = $1 AND series_id = $2 ORDER BY n`, [actor.clinicId, row.id]);
    views.push({ ...courseView(deps, row, sessions), cursorKey: (row.created_at as Date).toISOString() });
  }
  const result = page(views, q.limit, (v) => ({ k: v.cursorKey, id: v.id }));
  return { items: result.items.map(({ cursorKey: _k, ...v }) => v), nextCursor: result.nextCursor };
}

type Change = 'pause' | 'resume' | 'cancel' | 'reschedule' | 'skip';

/** Pause, resume, cancel, and one session's reschedule or skip: updates of the course's journey, answered with the course. */
export async function changeCourse(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, change: Change, body: Record<string, unknown>, n?: number): Promise<CourseView> {
  const course = await loadReadable(deps, actor, ability, id);
  const action = change === 'cancel' ? 'cancel' : 'update';
  if (!ability.can(action, subject('TherapySeries', { clinicId: course.clinicId, patientId: course.patientId, practitionerId: course.practitionerId }))) {
    throw problems.forbidden(`You may not ${change} this course`);
  }
  const actorUserId = actor.userId;
  const w = course.workflowId;
  switch (change) {
    case 'pause': await runJourneyUpdate(deps, w, pauseCourseUpdate, { actorUserId, reason: body.reason as string }, 'course'); break;
    case 'resume': await runJourneyUpdate(deps, w, resumeCourseUpdate, { actorUserId, date: body.date as string, ...(body.time ? { time: body.time as string } : {}) }, 'course'); break;
    case 'cancel': await runJourneyUpdate(deps, w, cancelCourseUpdate, { actorUserId, reason: body.reason as string }, 'course'); break;
    case 'reschedule': await runJourneyUpdate(deps, w, rescheduleSessionUpdate, { actorUserId, n: n!, startsAt: new Date(body.startsAt as string).toISOString() }, 'course'); break;
    case 'skip': await runJourneyUpdate(deps, w, skipSessionUpdate, { actorUserId, n: n!, reason: body.reason as string }, 'course'); break;
  }
  return (await loadCourse(deps, actor.clinicId!, id))!;
}
