import { createSecretKey, KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** A token restricted to enrolling a second factor (MFA_REQUIRED_ROLES without TOTP yet). */
export const MFA_ENROLLMENT_SCOPE = 'mfa-enrollment';

export interface AccessClaims {
  sub: string;
  sid: string;
  /** The clinic used when a request names none (SPEC §4, last source). */
  clinic_id?: string;
  scope?: typeof MFA_ENROLLMENT_SCOPE;
}

const ALGORITHM = 'HS256' as const;

/**
 * Given a string, jsonwebtoken first tries to parse it as a public key on every call (about a fifth
 * of API CPU in bench/reads.ts); a KeyObject made once skips that.
 */
const keys = new Map<string, KeyObject>();
function key(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) keys.set(secret, (k = createSecretKey(Buffer.from(secret, 'utf8'))));
  return k;
}

export function signAccessToken(settings: TokenSettings, claims: AccessClaims): string {
  return jwt.sign(claims, key(settings.secret), {
    algorithm: ALGORITHM,
    expiresIn: settings.ttlSeconds,
    issuer: settings.issuer,
    audience: settings.audience,
    jwtid: randomUUID(),
  });
}

/** Throws on any defect: algorithm other than the pinned one (incl. `none`), signature, iss, aud, exp, token type. */
export function verifyAccessToken(settings: TokenSettings, token: string): AccessClaims {
  const payload = jwt.verify(token, key(settings.secret), {
    algorithms: [ALGORITHM],
    issuer: settings.issuer,
    audience: settings.audience,
  });
  if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
    throw new Error('token is missing sub or sid');
  }
  // Defence in depth: other token kinds carry `typ` and their own audience.
  if (payload.typ !== undefined) throw new Error('not an access token');
  if (payload.scope !== undefined && payload.scope !== MFA_ENROLLMENT_SCOPE) throw new Error('unknown scope');
  return {
    sub: payload.sub,
    sid: payload.sid,
    clinic_id: typeof payload.clinic_id === 'string' ? payload.clinic_id : undefined,
    scope: payload.scope,
  };
}

/**
 * The half-way token between a correct password and the second factor: its own audience and
 * `typ`, so no access-token check accepts it, and `jti` names the server-side challenge that
 * counts attempts and makes it single-use.
 */
const MFA_TYP = 'mfa';
export const mfaAudience = (settings: TokenSettings) => `${settings.audience}:mfa`;

export function signMfaToken(settings: TokenSettings, userId: string, challengeId: string, ttlSeconds: number): string {
  return jwt.sign({ typ: MFA_TYP }, key(settings.secret), {
    algorithm: ALGORITHM,
    expiresIn: ttlSeconds,
    issuer: settings.issuer,
    audience: mfaAudience(settings),
    subject: userId,
    jwtid: challengeId,
  });
}

export function verifyMfaToken(settings: TokenSettings, token: string): { userId: string; challengeId: string } {
  const payload = jwt.verify(token, key(settings.secret), { algorithms: [ALGORITHM], issuer: settings.issuer, audience: mfaAudience(settings) });
  if (typeof payload !== 'object' || payload.typ !== MFA_TYP || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
    throw new Error('not an MFA token');
  }
  return { userId: payload.sub, challengeId: payload.jti };
}
