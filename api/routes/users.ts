import { z } from 'zod';
import { ROLES } from '../../shared/permissions/roles';
import { route } from '../http/route';
import { uuidParam } from '../http/route';
import { listOf, name } from './schemas';
import { addClinicMember, listClinicMembers, updateAccount, updateClinicMember } from '../commands/users';

const status = z.enum(['ACTIVE', 'DISABLED']);
const memberSchema = z.object({
  id: z.uuid(), email: z.string(), name: z.string(), phone: z.string().nullable(),
  status: status.describe("The membership's status in this clinic (a DISABLED member has no access to it)"),
  roles: z.array(z.enum(ROLES)),
});

export const userRoutes = [
  route({
    method: 'post', path: '/api/v1/users', summary: 'Add a user to the clinic with a role (an existing email gains the membership; the answer echoes what was sent)', tags: ['users'],
    access: 'clinic', permission: ['create', 'Membership'],
    body: z.object({
      email: z.email().max(320),
      name,
      role: z.enum(ROLES),
      password: z.string().min(12).max(1024).optional(),
      phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +919812345678').optional(),
    }).strict(),
    responses: { 201: { description: 'The member', schema: memberSchema } },
    handler: async ({ body, deps, ctx, actor, ability }) => ({ status: 201, body: await addClinicMember(deps, ctx, actor, ability, body) }),
  }),
  route({
    method: 'get', path: '/api/v1/users', summary: 'Members of the clinic with their roles', tags: ['users'],
    access: 'clinic', permission: ['read', 'User'],
    responses: { 200: { description: 'Members', schema: listOf(memberSchema) } },
    handler: async ({ deps, actor }) => ({ body: { items: await listClinicMembers(deps, actor.clinicId!), nextCursor: null } }),
  }),
  route({
    method: 'patch', path: '/api/v1/users/:id', summary: "Change a member's role or status in this clinic (never the account: see PATCH /accounts/:id)", tags: ['users'],
    access: 'clinic', permission: ['update', 'Membership'], params: uuidParam,
    body: z.object({ role: z.enum(ROLES).optional(), status: status.optional() }).strict()
      .refine((b) => b.role || b.status, { message: 'send role or status' }),
    responses: { 200: { description: 'The member', schema: memberSchema } },
    handler: async ({ params, body, deps, ctx, actor, ability }) => ({ body: await updateClinicMember(deps, ctx, actor, ability, params.id, body) }),
  }),
  route({
    method: 'patch', path: '/api/v1/accounts/:id', summary: 'Enable or disable an account everywhere (platform admins; disabling ends its sessions)', tags: ['users'],
    access: 'user', permission: ['update', 'User'], params: uuidParam,
    body: z.object({ status }).strict(),
    responses: { 200: { description: 'The account', schema: z.object({ id: z.uuid(), status }) } },
    handler: async ({ params, body, deps, ctx, actor }) => ({ body: await updateAccount(deps, ctx, actor, params.id, body) }),
  }),
];
