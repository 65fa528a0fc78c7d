import { z } from 'zod';
import { ruleProblem } from '../../shared/series/expand';
import { changeSeries, createSeries, getSeries, listSeries, seriesJourney } from '../commands/appointment-series';
import { paginationQuery } from '../http/pagination';
import { route, uuidParam } from '../http/route';
import { isoInstant, listOf } from './schemas';

const rrule = z.string().trim().min(1).max(500).superRefine((v, ctx) => {
  const problem = ruleProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).describe('RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO;COUNT=8, expanded in the location\'s time zone');
const occurrence = z.object({
  startsAt: z.string(), endsAt: z.string(), status: z.enum(['BOOKED', 'SKIPPED', 'CANCELLED', 'PLANNED']), appointmentId: z.uuid().optional(), reason: z.string().optional(),
});
const seriesView = z.object({
  id: z.uuid(), clinicId: z.uuid(), patientId: z.uuid(), practitionerId: z.uuid(), serviceId: z.uuid(), locationId: z.uuid(), rrule: z.string(), startsAt: z.string(),
  timezone: z.string(), status: z.enum(['ACTIVE', 'COMPLETED', 'CANCELLED']), workflowId: z.string(), workflowUrl: z.string(), occurrences: z.array(occurrence),
});
const changeResponses = {
  200: { description: 'The series', schema: seriesView },
  409: { description: 'The series has ended' },
  422: { description: 'Not an occurrence of the series, or a time in the past' },
};

export const appointmentSeriesRoutes = [
  route({
    method: 'post', path: '/api/v1/appointment-series', summary: 'Start a recurring series: occurrences inside the horizon booked, later ones PLANNED', tags: ['series'],
    access: 'clinic', permission: ['create', 'AppointmentSeries'], idempotent: seriesJourney,
    body: z.object({ patientId: z.uuid(), practitionerId: z.uuid(), serviceId: z.uuid(), locationId: z.uuid(), startsAt: isoInstant, rrule }).strict(),
    responses: {
      201: { description: 'The series and its occurrences (a taken slot is SKIPPED with reason SLOT_TAKEN)', schema: seriesView },
      422: { description: 'Unknown patient, practitioner, service or location; a start in the past' },
    },
    handler: async ({ body, deps, actor, ability, idempotencyKey }) => ({ status: 201, body: await createSeries(deps, actor, ability, body, idempotencyKey) }),
  }),
  route({
    method: 'get', path: '/api/v1/appointment-series', summary: 'Recurring series (a patient sees their own)', tags: ['series'],
    access: 'clinic', permission: ['read', 'AppointmentSeries'],
    query: z.object({ patientId: z.uuid().optional(), status: z.enum(['ACTIVE', 'COMPLETED', 'CANCELLED']).optional(), ...paginationQuery }),
    responses: { 200: { description: 'A page of series (without occurrences)', schema: listOf(seriesView.omit({ occurrences: true })) } },
    handler: async ({ query, deps, actor, ability }) => ({ body: await listSeries(deps, actor, ability, query) }),
  }),
  route({
    method: 'get', path: '/api/v1/appointment-series/:id', summary: 'One series with its occurrences', tags: ['series'],
    access: 'clinic', permission: ['read', 'AppointmentSeries'], params: uuidParam,
    responses: { 200: { description: 'The series', schema: seriesView } },
    handler: async ({ params, deps, actor, ability }) => ({ body: await getSeries(deps, actor, ability, params.id) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointment-series/:id/skip', summary: 'Skip one future occurrence (a booked one is cancelled)', tags: ['series'],
    access: 'clinic', permission: ['update', 'AppointmentSeries'], params: uuidParam, body: z.object({ startsAt: isoInstant }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeSeries(deps, actor, ability, params.id, 'skip', body) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointment-series/:id/cancel', summary: 'Cancel every occurrence from a time on (default now); their slots are freed', tags: ['series'],
    access: 'clinic', permission: ['cancel', 'AppointmentSeries'], params: uuidParam, body: z.object({ from: isoInstant.optional() }).strict(), responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeSeries(deps, actor, ability, params.id, 'cancel', body) }),
  }),
  route({
    method: 'patch', path: '/api/v1/appointment-series/:id', summary: 'Re-plan future occurrences with a new rule or start', tags: ['series'],
    access: 'clinic', permission: ['update', 'AppointmentSeries'], params: uuidParam,
    body: z.object({ rrule: rrule.optional(), startsAt: isoInstant.optional() }).strict().refine((b) => b.rrule !== undefined || b.startsAt !== undefined, 'give rrule, startsAt or both'),
    responses: changeResponses,
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await changeSeries(deps, actor, ability, params.id, 'replan', body) }),
  }),
];
