import { z } from 'zod';
import { ROLES } from '../../shared/permissions/roles';
import { route } from '../http/route';
import { uuidParam } from '../http/route';
import { listOf, name } from './schemas';
import { addClinicMember, listClinicMembers, updateClinicMember } from '../commands/users';

const memberSchema = z.object({ id: z.uuid(), email: z.string(), name: z.string(), phone: z.string().nullable(), status: z.string(), roles: z.array(z.enum(ROLES)) });

export const userRoutes = [
  route({
    method: 'post', path: '/api/v1/users', summary: 'Add a user to the clinic with a role (an existing email gains the membership)', tags: ['users'],
    access: 'clinic', permission: ['create', 'Membership'],
    body: z.object({
      email: z.email().max(320),
      name,
      role: z.enum(ROLES),
      password: z.string().min(12).max(1024).optional(),
      phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +919812345678').optional(),
    }).strict(),
    responses: { 201: { description: 'The member', schema: memberSchema } },
    handler: async ({ body, deps, actor, ability }) => ({ status: 201, body: await addClinicMember(deps, actor, ability, body) }),
  }),
  route({
    method: 'get', path: '/api/v1/users', summary: 'Members of the clinic with their roles', tags: ['users'],
    access: 'clinic', permission: ['read', 'User'],
    responses: { 200: { description: 'Members', schema: listOf(memberSchema) } },
    handler: async ({ deps, actor }) => ({ body: { items: await listClinicMembers(deps, actor.clinicId!), nextCursor: null } }),
  }),
  route({
    method: 'patch', path: '/api/v1/users/:id', summary: "Change a member's role in this clinic or their status", tags: ['users'],
    access: 'clinic', permission: ['update', 'Membership'], params: uuidParam,
    body: z.object({ role: z.enum(ROLES).optional(), status: z.enum(['ACTIVE', 'DISABLED']).optional() }).strict()
      .refine((b) => b.role || b.status, { message: 'send role or status' }),
    responses: { 200: { description: 'The member', schema: memberSchema } },
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await updateClinicMember(deps, actor, ability, params.id, body) }),
  }),
];
