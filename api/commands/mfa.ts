import { openText, parseKeyring, sealText, type Keyring } from '../../shared/crypto/keyring';
import { base32Decode, generateTotpSecret, otpauthUrl, verifyTotp } from '../../shared/auth/totp';
import { verifyMfaToken } from '../../shared/auth/tokens';
import { openUserPii } from '../../shared/crypto/user-pii';
import type { Config } from '../../shared/config';
import { tokenSettings } from '../http/authenticate';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import { markSessionMfaSatisfied, updateReturning } from './sessions';
import { claimAttempt, consumeChallenge } from './sign-in';

/**
 * TOTP second factor. The secret is sealed with the PHI keyring, its AAD naming the user, so a
 * sealed secret copied onto another account does not open. Enrolment keeps the new secret
 * "pending" until a code from it proves the authenticator app has it.
 */
const rings = new WeakMap<Config, Keyring>();
const keyring = (config: Config): Keyring => {
  let ring = rings.get(config);
  if (!ring) rings.set(config, (ring = parseKeyring(config.PHI_ENCRYPTION_KEYS)));
  return ring;
};
const totpAad = (userId: string) => `users.totp_secret:${userId}`;
const openSecret = (config: Config, userId: string, sealed: string) => base32Decode(openText(keyring(config), sealed, totpAad(userId)));

export async function enrollTotp(deps: ApiDeps, userId: string): Promise<{ secret: string; otpauthUrl: string }> {
  const [user] = await deps.dataSource.query(`SELECT email, totp_enabled_at FROM users WHERE id = $1`, [userId]);
  if (!user) throw problems.unauthorized('Account is not active');
  if (user.totp_enabled_at) throw problems.conflict('mfa-already-enabled', 'TOTP is already active on this account');
  const secret = generateTotpSecret();
  await deps.dataSource.query(`UPDATE users SET totp_pending_secret = $2, updated_at = now() WHERE id = $1`,
    [userId, sealText(keyring(deps.config), secret, totpAad(userId))]);
  const { email } = openUserPii(keyring(deps.config), userId, user, ['email'] as const);
  return { secret, otpauthUrl: otpauthUrl({ secret, issuer: deps.config.JWT_ISSUER, account: email! }) };
}

/** True when the code proves the pending secret; the session that did it counts as MFA-verified. */
export async function activateTotp(deps: ApiDeps, userId: string, sessionId: string, code: string): Promise<boolean> {
  const [user] = await deps.dataSource.query(`SELECT totp_pending_secret, totp_enabled_at FROM users WHERE id = $1`, [userId]);
  if (user?.totp_enabled_at) throw problems.conflict('mfa-already-enabled', 'TOTP is already active on this account');
  if (!user?.totp_pending_secret) {
    throw problems.unprocessable('mfa-not-enrolled', 'Start with POST /api/v1/auth/mfa/totp/enroll', [{ field: 'body.code', message: 'no pending enrolment' }]);
  }
  const step = verifyTotp(openSecret(deps.config, userId, user.totp_pending_secret), code, Date.now());
  if (step === null) return false;
  // The activation code's step counts as used, so it cannot also complete a sign-in.
  const done = await updateReturning(deps.dataSource,
    `UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(), totp_last_step = $3, updated_at = now()
     WHERE id = $1 AND totp_pending_secret = $2 AND totp_enabled_at IS NULL RETURNING id`, [userId, user.totp_pending_secret, step]);
  if (done.length === 0) return false;
  await markSessionMfaSatisfied(deps, sessionId);
  return true;
}

/**
 * Second step of a sign-in: the MFA token names a single-use challenge with an attempt budget;
 * each TOTP step is good once (RFC 6238 §5.2), so a code seen over a shoulder cannot be replayed.
 */
export async function verifySecondFactor(deps: ApiDeps, mfaToken: string, code: string): Promise<{ ok: boolean; userId: string | null }> {
  let claims: { userId: string; challengeId: string };
  try {
    claims = verifyMfaToken(tokenSettings(deps), mfaToken);
  } catch {
    return { ok: false, userId: null };
  }
  const fail = { ok: false, userId: claims.userId };
  const challenge = await claimAttempt(deps, claims.challengeId, 'mfa');
  if (!challenge || challenge.user_id !== claims.userId) return fail;
  const [user] = await deps.dataSource.query(`SELECT totp_secret, status FROM users WHERE id = $1`, [claims.userId]);
  if (!user?.totp_secret || user.status !== 'ACTIVE') return fail;
  const step = verifyTotp(openSecret(deps.config, claims.userId, user.totp_secret), code, Date.now());
  if (step === null) return fail;
  const advanced = await updateReturning(deps.dataSource,
    `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`, [claims.userId, step]);
  if (advanced.length === 0) return fail;
  if (!(await consumeChallenge(deps, challenge.id))) return fail;
  return { ok: true, userId: claims.userId };
}
