import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { burnPasswordCheck, verifyPassword } from '../../shared/auth/passwords';
import { signAccessToken } from '../../shared/auth/tokens';
import { tokenSettings } from '../http/authenticate';
import { problems } from '../http/problem';
import { route } from '../http/route';
import { recordAudit } from '../commands/audit';

const membershipSchema = z.object({ clinicId: z.uuid().nullable(), role: z.string() });
const userSchema = z.object({ id: z.uuid(), email: z.email(), name: z.string(), status: z.string(), memberships: z.array(membershipSchema) });

const loginBody = z.object({
  email: z.email().max(320),
  password: z.string().min(1).max(1024),
});

async function membershipsOf(deps: { dataSource: import('typeorm').DataSource }, userId: string) {
  const rows: { clinic_id: string | null; role: string }[] = await deps.dataSource.query(
    'SELECT clinic_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at, role', [userId]);
  return rows.map((r) => ({ clinicId: r.clinic_id, role: r.role }));
}

export const authRoutes = [
  route({
    method: 'post', path: '/api/v1/auth/login', summary: 'Sign in with email and password', tags: ['auth'],
    access: 'public', permission: null, body: loginBody,
    responses: {
      200: { description: 'Tokens and the user', schema: z.object({ accessToken: z.string(), expiresIn: z.number(), tokenType: z.literal('Bearer'), user: userSchema }) },
      401: { description: 'Wrong email or password' },
    },
    async handler({ body, deps, ctx }) {
      const user = await deps.dataSource.query(
        `SELECT id, email, name, status, password_hash FROM users WHERE lower(email) = lower($1)`, [body.email]).then((r) => r[0]);
      const ok = user?.password_hash ? await verifyPassword(user.password_hash, body.password) : (await burnPasswordCheck(body.password), false);
      if (!ok || user.status !== 'ACTIVE') {
        await recordAudit(deps, ctx, { action: 'auth.login.failed', resourceType: 'User', resourceId: user?.id ?? null, clinicId: null, actorUserId: user?.id ?? null });
        throw problems.unauthorized('Email or password is wrong');
      }
      const memberships = await membershipsOf(deps, user.id);
      const defaultClinic = memberships.find((m) => m.clinicId)?.clinicId ?? undefined;
      const accessToken = signAccessToken(tokenSettings(deps), { sub: user.id, sid: randomUUID(), clinic_id: defaultClinic });
      await recordAudit(deps, ctx, { action: 'auth.login', resourceType: 'User', resourceId: user.id, clinicId: null, actorUserId: user.id });
      return {
        body: {
          accessToken,
          tokenType: 'Bearer',
          expiresIn: deps.config.JWT_ACCESS_TTL_SECONDS,
          user: { id: user.id, email: user.email, name: user.name, status: user.status, memberships },
        },
      };
    },
  }),

  route({
    method: 'get', path: '/api/v1/auth/me', summary: 'The signed-in user and their memberships', tags: ['auth'],
    access: 'user', permission: null,
    responses: { 200: { description: 'The user', schema: userSchema } },
    async handler({ deps, auth }) {
      const [user] = await deps.dataSource.query(`SELECT id, email, name, status FROM users WHERE id = $1`, [auth.userId]);
      if (!user || user.status !== 'ACTIVE') throw problems.unauthorized('Account is not active');
      return { body: { ...user, memberships: await membershipsOf(deps, auth.userId) } };
    },
  }),
];
