import { z } from 'zod';
import { PG, pgCode } from '../../shared/db/pg-errors';
import { isShippedCode, PHASES, templateSchema } from '../../shared/therapy/templates';
import { changeCourse, createCourse, getCourse, listCourses, listTemplates, therapyJourney } from '../commands/therapy-series';
import { paginationQuery } from '../http/pagination';
import { problems } from '../http/problem';
import { route, uuidParam } from '../http/route';
import { hhmm, isoInstant, listOf, localDate } from './schemas';

const templateView = z.object({
  code: z.string(), name: z.string(), shipped: z.boolean(), source: z.string().optional(), reviewAfterDays: z.number().optional(),
  phases: z.array(z.object({ phase: z.enum(PHASES), days: z.number(), serviceCode: z.string(), regimen: z.array(z.string()).optional() })),
});
const sessionView = z.object({
  n: z.number(), phase: z.enum(PHASES), serviceId: z.uuid(), startsAt: z.string().nullable(), endsAt: z.string().nullable(),
  status: z.enum(['PLANNED', 'BOOKED', 'UNBOOKED', 'RELEASED', 'SKIPPED', 'CANCELLED']), appointmentId: z.uuid().nullable(), roomId: z.uuid().nullable(),
  therapistIds: z.array(z.uuid()), reason: z.string().nullable(),
});
const courseView = z.object({
  id: z.uuid(), clinicId: z.uuid(), patientId: z.uuid(), practitionerId: z.uuid(), locationId: z.uuid(), templateCode: z.string(), startDate: z.string(), time: z.string(),
  status: z.enum(['BOOKING', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED']), reason: z.string().nullable(), workflowId: z.string(), workflowUrl: z.string(),
  progress: z.object({ done: z.number(), total: z.number(), currentPhase: z.enum(PHASES).nullable() }), sessions: z.array(sessionView),
});
const sessionParams = z.object({ id: z.uuid(), n: z.coerce.number().int().min(1).max(60) });
const reason = z.string().trim().min(1).max(500);
const changeResponses = {
  200: { description: 'The course', schema: courseView },
  404: { description: 'No such course (or session)' },
  409: { description: 'The course or session is not in a state that allows it; a slot taken (…/slot-taken); a clash with another session' },
  422: { description: 'A time in the past or outside the schedule' },
};

export const therapyRoutes = [
  route({
    method: 'get', path: '/api/v1/therapy-templates', summary: 'Course templates of the clinic: the shipped ones (every clinic has them) and its own', tags: ['therapy'],
    access: 'clinic', permission: ['read', 'Service'],
    responses: { 200: { description: 'Templates', schema: listOf(templateView) } },
    handler: async ({ deps, actor }) => ({ body: { items: await listTemplates(deps, actor.clinicId!), nextCursor: null } }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-templates', summary: 'Add a course template (phases in order, each naming its service code, days and regimen)', tags: ['therapy'],
    access: 'clinic', permission: ['create', 'Service'], body: templateSchema,
    responses: { 201: { description: 'The template', schema: templateView }, 409: { description: 'Code taken (by a shipped or an own template)' } },
    async handler({ body, deps, actor }) {
      if (isShippedCode(body.code)) throw problems.conflict('code-taken', 'A shipped template uses this code');
      try {
        await deps.dataSource.query(
          `INSERT INTO therapy_templates (clinic_id, code, name, phases, review_after_days, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
          [actor.clinicId, body.code, body.name, JSON.stringify(body.phases), body.reviewAfterDays ?? null, actor.userId]);
      } catch (err) {
        if (pgCode(err) === PG.UNIQUE_VIOLATION) throw problems.conflict('code-taken', 'Another template of this clinic uses this code');
        throw err;
      }
      return { status: 201, body: { ...body, shipped: false } };
    },
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series', summary: 'Start a Panchakarma course: every session booked up front, each with its own booking journey', tags: ['therapy'],
    access: 'clinic', permission: ['create', 'TherapySeries'], idempotent: therapyJourney,
    body: z.object({ patientId: z.uuid(), templateCode: z.string().trim().min(1).max(40), locationId: z.uuid(), practitionerId: z.uuid(), startDate: localDate, time: hhmm }).strict(),
    responses: {
      201: { description: 'The course with its sessions', schema: courseView },
      422: { description: 'Unknown template, patient, practitioner or location; a service the template needs is missing (named); a start in the past' },
    },
    handler: async ({ body, deps, actor, ability, idempotencyKey }) => ({ status: 201, body: await createCourse(deps, actor, ability, body, idempotencyKey) }),
  }),
  route({
    method: 'get', path: '/api/v1/therapy-series', summary: 'Courses (a patient sees their own)', tags: ['therapy'],
    access: 'clinic', permission: ['read', 'TherapySeries'],
    query: z.object({ patientId: z.uuid().optional(), status: z.enum(['BOOKING', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED']).optional(), ...paginationQuery }),
    responses: { 200: { description: 'A page of courses', schema: listOf(courseView) } },
    handler: async ({ query, deps, actor, ability }) => ({ body: await listCourses(deps, actor, ability, query) }),
  }),
  route({
    method: 'get', path: '/api/v1/therapy-series/:id', summary: 'One course with its sessions and progress', tags: ['therapy'],
    access: 'clinic', permission: ['read', 'TherapySeries'], params: uuidParam,
    responses: { 200: { description: 'The course', schema: courseView } },
    handler: async ({ params, deps, actor, ability }) => ({ body: await getCourse(deps, actor, ability, params.id) }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series/:id/pause', summary: 'Pause (the patient is unwell): future sessions are released at once', tags: ['therapy'],
    access: 'clinic', permission: ['update', 'TherapySeries'], params: uuidParam, body: z.object({ reason }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeCourse(deps, actor, ability, params.id, 'pause', body) }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series/:id/resume', summary: 'Resume: the remaining sessions are rebooked from the date, in order', tags: ['therapy'],
    access: 'clinic', permission: ['update', 'TherapySeries'], params: uuidParam,
    body: z.object({ date: localDate, time: hhmm.optional().describe("Local time of the sessions; default the course's") }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeCourse(deps, actor, ability, params.id, 'resume', body) }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series/:id/cancel', summary: 'Cancel the course: every future session is released', tags: ['therapy'],
    access: 'clinic', permission: ['cancel', 'TherapySeries'], params: uuidParam, body: z.object({ reason }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeCourse(deps, actor, ability, params.id, 'cancel', body) }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series/:id/sessions/:n/reschedule', summary: "Move one session (through its appointment's journey)", tags: ['therapy'],
    access: 'clinic', permission: ['update', 'TherapySeries'], params: sessionParams, body: z.object({ startsAt: isoInstant }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeCourse(deps, actor, ability, params.id, 'reschedule', body, params.n) }),
  }),
  route({
    method: 'post', path: '/api/v1/therapy-series/:id/sessions/:n/skip', summary: 'Skip one session (its slot is released)', tags: ['therapy'],
    access: 'clinic', permission: ['update', 'TherapySeries'], params: sessionParams, body: z.object({ reason }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeCourse(deps, actor, ability, params.id, 'skip', body, params.n) }),
  }),
];
