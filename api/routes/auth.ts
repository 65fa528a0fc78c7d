import { z } from 'zod';
import { E164 } from '../../shared/auth/otp-code';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { emailIndex } from '../../shared/crypto/user-pii';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../../shared/auth/passwords';
import { recordAudit } from '../commands/audit';
import { activateTotp, enrollTotp, verifySecondFactor } from '../commands/mfa';
import { OTP_TTL_SECONDS, requestOtp, verifyOtp } from '../commands/otp';
import { revokeOtherSessions, revokeSession, rotateRefreshToken, sessionOfRefreshToken } from '../commands/sessions';
import { completeFirstFactor, issueAccessToken, startSession, userView } from '../commands/sign-in';
import { problems } from '../http/problem';
import { route } from '../http/route';
import type { ApiDeps, ApiState } from '../http/state';
import type { Context } from 'koa';

const membershipSchema = z.object({ clinicId: z.uuid().nullable(), role: z.string() });
const userSchema = z.object({ id: z.uuid(), email: z.email(), name: z.string(), status: z.string(), memberships: z.array(membershipSchema) });
const tokenPairSchema = z.object({
  accessToken: z.string(),
  refreshToken: z.string().describe('Opaque; single use: each refresh returns a new one'),
  expiresIn: z.number().describe('Access token lifetime in seconds'),
  tokenType: z.literal('Bearer'),
  user: userSchema,
  mfaEnrollmentRequired: z.literal(true).optional().describe('The role requires TOTP: this token only reaches MFA enrolment and /auth/me'),
});
const mfaPendingSchema = z.object({ mfaRequired: z.literal(true), mfaToken: z.string(), expiresIn: z.number() });
const signInResult = z.union([tokenPairSchema, mfaPendingSchema]);

const totpCode = z.string().regex(/^\d{6}$/, 'must be 6 digits');
const refreshBody = z.object({ refreshToken: z.string().min(1).max(512) });
const identifier = z.string().trim().max(320)
  .refine((v) => E164.test(v) || z.email().safeParse(v).success, 'must be an email address or an E.164 phone number (+<country><number>)');

type Ctx = Context & { state: ApiState };
const audit = (deps: ApiDeps, ctx: Ctx, action: string, userId: string | null, resource: { type: 'User' | 'Session'; id: string | null } = { type: 'User', id: userId }) =>
  recordAudit(deps, ctx, { action, resourceType: resource.type, resourceId: resource.id, clinicId: null, actorUserId: userId });

/**
 * A failed sign-in; when the rate limiter made the account wait because of it (growing delays,
 * then the lock), that is audited too, naming the account when it exists.
 */
async function auditFailure(deps: ApiDeps, ctx: Ctx, action: string, userId: string | null) {
  await audit(deps, ctx, action, userId);
  const attempt = ctx.state.signIn;
  if (attempt?.delaySeconds) await audit(deps, ctx, attempt.locked ? 'auth.signin.locked' : 'auth.signin.delayed', userId);
}

const invalidCredentials = () => problems.unauthorized('Email or password is wrong');

export const authRoutes = [
  route({
    method: 'post', path: '/api/v1/auth/login', summary: 'Sign in with email and password', tags: ['auth'],
    access: 'public', permission: null,
    body: z.object({ email: z.email().max(320), password: z.string().min(1).max(1024) }),
    responses: {
      200: { description: 'Tokens and the user, or (TOTP active) an MFA token for POST /auth/mfa/verify', schema: signInResult },
      401: { description: 'Wrong email or password' },
      429: { description: 'Too many attempts from this address, or the account must wait after failed sign-ins (Retry-After)' },
    },
    async handler({ body, deps, ctx }) {
      const [user] = await deps.dataSource.query(
        `SELECT id, status, password_hash, totp_enabled_at FROM users WHERE email_index = $1`, [emailIndex(phiKeysFor(deps.config).blindIndexKey, body.email)]);
      const ok = user?.password_hash ? await verifyPassword(user.password_hash, body.password) : (await burnPasswordCheck(body.password), false);
      if (!ok || user.status !== 'ACTIVE') {
        await auditFailure(deps, ctx, 'auth.login.failed', user?.id ?? null);
        throw invalidCredentials();
      }
      const result = await completeFirstFactor(deps, { id: user.id, totpEnabled: user.totp_enabled_at !== null }, ctx.ip);
      await audit(deps, ctx, 'mfaRequired' in result ? 'auth.login.mfa_required' : 'auth.login', user.id);
      return { body: result };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/refresh', summary: 'New token pair for a refresh token (rotation)', tags: ['auth'],
    access: 'public', permission: null, body: refreshBody,
    responses: {
      200: { description: 'A new access and refresh token; the presented refresh token is spent', schema: tokenPairSchema },
      401: { description: 'Unknown, spent, revoked or expired refresh token; presenting a spent one ends the session' },
    },
    async handler({ body, deps, ctx }) {
      const outcome = await rotateRefreshToken(deps, body.refreshToken);
      if (outcome.kind === 'reused') {
        await audit(deps, ctx, 'auth.refresh.reuse', outcome.userId, { type: 'Session', id: outcome.sessionId });
        ctx.state.log.warn({ sessionId: outcome.sessionId }, 'refresh token reused; session revoked');
      }
      if (outcome.kind !== 'rotated') throw problems.unauthorized('The refresh token is invalid or expired');
      await audit(deps, ctx, 'auth.refresh', outcome.userId, { type: 'Session', id: outcome.sessionId });
      return { body: await issueAccessToken(deps, outcome) };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/logout', summary: 'End the session of a refresh token', tags: ['auth'],
    access: 'public', permission: null, body: refreshBody,
    responses: { 204: { description: 'Signed out (also when the token was already unusable)' } },
    async handler({ body, deps, ctx }) {
      const session = await sessionOfRefreshToken(deps, body.refreshToken);
      if (session && (await revokeSession(deps, session.sessionId, 'logout'))) {
        await audit(deps, ctx, 'auth.logout', session.userId, { type: 'Session', id: session.sessionId });
      }
      return {};
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/password', summary: 'Change your password; signs out your other sessions', tags: ['auth'],
    access: 'user', permission: null,
    body: z.object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(12, 'must be at least 12 characters').max(1024) }),
    responses: { 204: { description: 'Changed; every other session of the account has ended' }, 422: { description: 'The current password is wrong' } },
    async handler({ body, deps, ctx, auth }) {
      const [user] = await deps.dataSource.query(`SELECT password_hash FROM users WHERE id = $1`, [auth.userId]);
      if (!user?.password_hash || !(await verifyPassword(user.password_hash, body.currentPassword))) {
        await audit(deps, ctx, 'auth.password.change_failed', auth.userId);
        throw problems.unprocessable('current-password-wrong', 'The current password is wrong', [{ field: 'body.currentPassword', message: 'does not match' }]);
      }
      await deps.dataSource.query(`UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, [auth.userId, await hashPassword(body.newPassword)]);
      await revokeOtherSessions(deps, auth.userId, auth.sessionId, 'password-change');
      await audit(deps, ctx, 'auth.password.changed', auth.userId);
      return {};
    },
  }),

  route({
    method: 'get', path: '/api/v1/auth/me', summary: 'The signed-in user and their memberships', tags: ['auth'],
    access: 'user', permission: null, allowDuringMfaEnrollment: true,
    responses: { 200: { description: 'The user', schema: userSchema } },
    async handler({ deps, auth }) {
      const user = await userView(deps, auth.userId);
      if (!user || user.status !== 'ACTIVE') throw problems.unauthorized('Account is not active');
      return { body: user };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/mfa/totp/enroll', summary: 'Start TOTP enrolment: a new secret for your authenticator app', tags: ['auth'],
    access: 'user', permission: null, allowDuringMfaEnrollment: true,
    responses: {
      200: { description: 'The secret (base32) and an otpauth:// URL to show as a QR code', schema: z.object({ secret: z.string(), otpauthUrl: z.string() }) },
      409: { description: 'TOTP is already active' },
    },
    async handler({ deps, ctx, auth }) {
      const result = await enrollTotp(deps, auth.userId);
      await audit(deps, ctx, 'auth.mfa.enroll', auth.userId);
      return { body: result };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/mfa/totp/activate', summary: 'Finish TOTP enrolment with a code from the app', tags: ['auth'],
    access: 'user', permission: null, allowDuringMfaEnrollment: true,
    body: z.object({ code: totpCode }),
    responses: {
      200: { description: 'TOTP is active; an enrolment-only session becomes a full one at its next refresh', schema: z.object({ mfaEnabled: z.literal(true) }) },
      422: { description: 'Wrong code, or no enrolment started' },
    },
    async handler({ body, deps, ctx, auth }) {
      if (!(await activateTotp(deps, auth.userId, auth.sessionId, body.code))) {
        await audit(deps, ctx, 'auth.mfa.activate_failed', auth.userId);
        throw problems.unprocessable('mfa-code-invalid', 'The code is wrong or expired', [{ field: 'body.code', message: 'does not match' }]);
      }
      await audit(deps, ctx, 'auth.mfa.activate', auth.userId);
      return { body: { mfaEnabled: true as const } };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/mfa/verify', summary: 'Second step of sign-in: the MFA token from login and a TOTP code', tags: ['auth'],
    access: 'public', permission: null,
    body: z.object({ mfaToken: z.string().min(1).max(2048), code: totpCode }),
    responses: {
      200: { description: 'Tokens and the user', schema: tokenPairSchema },
      401: { description: 'Wrong, reused or expired code, or an invalid, used or exhausted MFA token' },
      429: { description: 'Too many attempts from this address, or the account must wait after failed codes (Retry-After)' },
    },
    async handler({ body, deps, ctx }) {
      const result = await verifySecondFactor(deps, body.mfaToken, body.code);
      if (!result.ok || !result.userId) {
        await auditFailure(deps, ctx, 'auth.mfa.failed', result.userId);
        throw problems.unauthorized('The code or the MFA token is invalid or expired');
      }
      const tokens = await startSession(deps, result.userId, true, ctx.ip);
      await audit(deps, ctx, 'auth.mfa.verified', result.userId);
      return { body: tokens };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/otp/request', summary: 'Send a one-time sign-in code', tags: ['auth'],
    access: 'public', permission: null,
    body: z.object({ identifier, channel: z.enum(['email', 'sms', 'whatsapp']) }),
    responses: {
      202: { description: 'Accepted; the same answer whether or not the identifier has an account', schema: z.object({ accepted: z.literal(true), expiresIn: z.number() }) },
      429: { description: 'Too many requests for this identifier or from this address (Retry-After)' },
      503: { description: 'Rate limiting (Redis) is down: one-time codes fail closed; password sign-in still works' },
    },
    async handler({ body, deps, ctx }) {
      const { userId } = await requestOtp(deps, body, ctx.ip);
      await audit(deps, ctx, 'auth.otp.requested', userId);
      return { status: 202, body: { accepted: true as const, expiresIn: OTP_TTL_SECONDS } };
    },
  }),

  route({
    method: 'post', path: '/api/v1/auth/otp/verify', summary: 'Sign in with a one-time code', tags: ['auth'],
    access: 'public', permission: null,
    body: z.object({ identifier, code: z.string().regex(/^\d{6}$/, 'must be 6 digits') }),
    responses: {
      200: { description: 'Tokens and the user, or (TOTP active) an MFA token for POST /auth/mfa/verify', schema: signInResult },
      401: { description: 'Wrong or expired code, or too many attempts' },
      429: { description: 'Too many attempts from this address, or the account must wait after failed sign-ins (Retry-After)' },
    },
    async handler({ body, deps, ctx }) {
      const result = await verifyOtp(deps, body);
      if (!result.ok || !result.userId) {
        await auditFailure(deps, ctx, 'auth.otp.failed', result.userId);
        throw problems.unauthorized('The code is wrong or expired');
      }
      const tokens = await completeFirstFactor(deps, { id: result.userId, totpEnabled: await totpEnabled(deps, result.userId) }, ctx.ip);
      await audit(deps, ctx, 'auth.otp.verified', result.userId);
      return { body: tokens };
    },
  }),
];

async function totpEnabled(deps: ApiDeps, userId: string): Promise<boolean> {
  const [row] = await deps.dataSource.query(`SELECT totp_enabled_at FROM users WHERE id = $1`, [userId]);
  return Boolean(row?.totp_enabled_at);
}
