import { z } from 'zod';
import { route, uuidParam } from '../http/route';
import { hhmm, isoInstant, listOf } from './schemas';
import { createPractitioner, listPractitioners, replaceSchedule } from '../commands/practitioners';

const practitionerSchema = z.object({ id: z.uuid(), clinicId: z.uuid(), userId: z.uuid(), name: z.string().optional(), specialty: z.string().nullable(), locationIds: z.array(z.uuid()), therapist: z.boolean() });
const ruleSchema = z.object({ weekday: z.number().int().min(1).max(7), start: hhmm, end: hhmm, locationId: z.uuid() }).strict();
const exceptionSchema = z.object({ from: isoInstant, to: isoInstant, kind: z.enum(['LEAVE', 'EXTRA']), locationId: z.uuid().nullable().optional() }).strict();
const scheduleSchema = z.object({ practitionerId: z.uuid(), rules: z.array(ruleSchema), exceptions: z.array(exceptionSchema) });

export const practitionerRoutes = [
  route({
    method: 'post', path: '/api/v1/practitioners', summary: 'Make a clinic member a practitioner at some locations', tags: ['setup'],
    access: 'clinic', permission: ['create', 'Practitioner'],
    body: z.object({
      userId: z.uuid(), specialty: z.string().trim().min(1).max(100).optional(), locationIds: z.array(z.uuid()).min(1).max(50),
      /** May be assigned as a therapist in therapy sessions (any staff role may be one). */
      therapist: z.boolean().default(false),
    }).strict(),
    responses: { 201: { description: 'The practitioner', schema: practitionerSchema }, 409: { description: 'Already a practitioner here' } },
    handler: async ({ body, deps, actor }) => ({ status: 201, body: await createPractitioner(deps, actor.clinicId!, body) }),
  }),
  route({
    method: 'get', path: '/api/v1/practitioners', summary: 'Practitioners of the clinic', tags: ['setup'],
    access: 'clinic', permission: ['read', 'Practitioner'],
    query: z.object({ locationId: z.uuid().optional() }),
    responses: { 200: { description: 'Practitioners', schema: listOf(practitionerSchema) } },
    handler: async ({ query, deps, actor }) => ({ body: { items: await listPractitioners(deps, actor.clinicId!, query.locationId), nextCursor: null } }),
  }),
  route({
    method: 'put', path: '/api/v1/practitioners/:id/schedule', summary: "Replace a practitioner's weekly rules and exceptions", tags: ['setup'],
    access: 'clinic', permission: ['update', 'Schedule'], params: uuidParam,
    body: z.object({ rules: z.array(ruleSchema).max(100), exceptions: z.array(exceptionSchema).max(500).default([]) }).strict(),
    responses: { 200: { description: 'The schedule', schema: scheduleSchema } },
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await replaceSchedule(deps, actor.clinicId!, ability, params.id, body) }),
  }),
];
