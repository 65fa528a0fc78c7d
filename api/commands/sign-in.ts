import { randomUUID } from 'node:crypto';
import { MFA_ENROLLMENT_SCOPE, signAccessToken, signMfaToken } from '../../shared/auth/tokens';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { openUserPii } from '../../shared/crypto/user-pii';
import { tokenSettings } from '../http/authenticate';
import type { ApiDeps } from '../http/state';
import { createSession, updateReturning } from './sessions';

/**
 * The end of every sign-in path (password, one-time code, second factor, refresh): either the
 * second factor is still owed, or a session with its token pair.
 */
export const MFA_CHALLENGE_SECONDS = 300;
export const MFA_MAX_ATTEMPTS = 5;

export interface Membership { clinicId: string | null; role: string }
export interface UserView { id: string; email: string; name: string; status: string; memberships: Membership[] }

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
  user: UserView;
  /** Present when MFA_REQUIRED_ROLES applies and TOTP is not set up: the token only reaches enrolment. */
  mfaEnrollmentRequired?: true;
}

export interface MfaPending { mfaRequired: true; mfaToken: string; expiresIn: number }

export async function membershipsOf(deps: Pick<ApiDeps, 'dataSource'>, userId: string): Promise<Membership[]> {
  const rows: { clinic_id: string | null; role: string }[] = await deps.dataSource.query(
    `SELECT clinic_id, role FROM user_memberships($1) WHERE status = 'ACTIVE' ORDER BY created_at, role`, [userId]);
  return rows.map((r) => ({ clinicId: r.clinic_id, role: r.role }));
}

export async function userView(deps: Pick<ApiDeps, 'dataSource' | 'config'>, userId: string): Promise<UserView | null> {
  const [user] = await deps.dataSource.query(`SELECT id, email, name, status FROM users WHERE id = $1`, [userId]);
  if (!user) return null;
  const { email, name } = openUserPii(phiKeysFor(deps.config).ring, userId, user, ['email', 'name'] as const);
  return { id: user.id, email: email!, name: name!, status: user.status, memberships: await membershipsOf(deps, userId) };
}

/** Access token for an existing session; the enrolment-only scope is decided afresh each time. */
export async function issueAccessToken(
  deps: ApiDeps, input: { userId: string; sessionId: string; refreshToken: string; mfaSatisfied: boolean },
): Promise<TokenPair> {
  const user = await userView(deps, input.userId);
  if (!user) throw new Error('session user vanished');
  const required = new Set<string>(deps.config.MFA_REQUIRED_ROLES);
  const enrollmentOnly = !input.mfaSatisfied && user.memberships.some((m) => required.has(m.role));
  const defaultClinic = user.memberships.find((m) => m.clinicId)?.clinicId ?? undefined;
  const accessToken = signAccessToken(tokenSettings(deps), {
    sub: user.id, sid: input.sessionId, clinic_id: defaultClinic, ...(enrollmentOnly ? { scope: MFA_ENROLLMENT_SCOPE } : {}),
  });
  return {
    accessToken,
    refreshToken: input.refreshToken,
    expiresIn: deps.config.JWT_ACCESS_TTL_SECONDS,
    tokenType: 'Bearer',
    user,
    ...(enrollmentOnly ? { mfaEnrollmentRequired: true as const } : {}),
  };
}

/** First factor passed. With TOTP active the caller gets an MFA challenge instead of a session. */
export async function completeFirstFactor(deps: ApiDeps, user: { id: string; totpEnabled: boolean }, ip: string | null): Promise<TokenPair | MfaPending> {
  if (user.totpEnabled) {
    const challengeId = randomUUID();
    await deps.dataSource.query(
      `INSERT INTO otp_challenges (id, user_id, purpose, max_attempts, expires_at, ip)
       VALUES ($1, $2, 'mfa', $3, now() + make_interval(secs => $4), $5)`,
      [challengeId, user.id, MFA_MAX_ATTEMPTS, MFA_CHALLENGE_SECONDS, ip]);
    return { mfaRequired: true, mfaToken: signMfaToken(tokenSettings(deps), user.id, challengeId, MFA_CHALLENGE_SECONDS), expiresIn: MFA_CHALLENGE_SECONDS };
  }
  return startSession(deps, user.id, false, ip);
}

export async function startSession(deps: ApiDeps, userId: string, mfaSatisfied: boolean, ip: string | null): Promise<TokenPair> {
  const { sessionId, refreshToken } = await createSession(deps, { userId, mfaSatisfied, ip });
  return issueAccessToken(deps, { userId, sessionId, refreshToken, mfaSatisfied });
}

/**
 * Claims one attempt on a challenge before the code is compared, so parallel guesses cannot
 * exceed the limit: the attempt that finds the limit reached is refused whatever its code.
 */
export async function claimAttempt(deps: Pick<ApiDeps, 'dataSource'>, challengeId: string, purpose: 'login' | 'mfa') {
  const [row] = await updateReturning<{ id: string; user_id: string; code_hash: Buffer | null }>(deps.dataSource,
    `UPDATE otp_challenges SET attempts = attempts + 1
     WHERE id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > now() AND attempts < max_attempts
     RETURNING id, user_id, code_hash`, [challengeId, purpose]);
  return row ?? null;
}

/** Single use: true only for the one caller that consumed it. */
export async function consumeChallenge(deps: Pick<ApiDeps, 'dataSource'>, challengeId: string): Promise<boolean> {
  const rows = await updateReturning(deps.dataSource, `UPDATE otp_challenges SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL RETURNING id`, [challengeId]);
  return rows.length > 0;
}
