import { z } from 'zod';
import { breakGlass, listGrants } from '../commands/break-glass';
import { paginationQuery } from '../http/pagination';
import { route, uuidParam } from '../http/route';
import { listOf } from './schemas';

const grantSchema = z.object({
  id: z.uuid(), patientId: z.uuid(), userId: z.uuid(), grantedAt: z.string(), expiresAt: z.string(),
  reportedTo: z.number().int().describe("Users the report went to: the clinic's compliance officers (its admins when it has none)"),
});
const grantLogSchema = z.object({
  id: z.uuid(), patientId: z.uuid(), userId: z.uuid(), reason: z.string(), grantedAt: z.string(), expiresAt: z.string(), active: z.boolean(),
  requestId: z.string().nullable().describe('The request that asked for it (X-Request-ID), to find it in the logs'),
});

export const breakGlassRoutes = [
  route({
    method: 'post', path: '/api/v1/patients/:id/break-glass', tags: ['patients'],
    summary: 'Emergency access: read this patient (clinical notes included) outside your normal rights for a limited time; audited and reported to the compliance officer',
    access: 'clinic', permission: ['breakGlass', 'Patient'], params: uuidParam,
    body: z.object({ reason: z.string().trim().min(10, 'state the reason in at least 10 characters').max(1000) }).strict(),
    responses: {
      201: { description: 'Granted: GET /patients/:id answers in full until expiresAt (each read audited as patient.read.break_glass)', schema: grantSchema },
      403: { description: 'Not clinical staff of this clinic' },
      404: { description: 'No such patient in this clinic' },
      503: { description: 'The compliance report cannot be started (Temporal down): nothing is granted' },
    },
    handler: async ({ params, body, deps, ctx, actor, ability }) => ({ status: 201, body: await breakGlass(deps, ctx, actor, ability, params.id, body.reason) }),
  }),
  route({
    method: 'get', path: '/api/v1/break-glass-grants', tags: ['audit'],
    summary: "The clinic's break-glass grants with their stated reasons, newest first",
    // Oversight of access, like the audit log it complements.
    access: 'clinic', permission: ['read', 'AuditLog'],
    query: z.object({ patientId: z.uuid().optional(), userId: z.uuid().optional(), ...paginationQuery }),
    responses: { 200: { description: 'A page of grants', schema: listOf(grantLogSchema) } },
    handler: async ({ query, deps, ctx, actor }) => ({ body: await listGrants(deps, ctx, actor, query) }),
  }),
];
