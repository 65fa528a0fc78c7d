import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface AccessClaims {
  sub: string;
  sid: string;
  /** The clinic used when a request names none (SPEC §4, last source). */
  clinic_id?: string;
}

const ALGORITHM = 'HS256' as const;

export function signAccessToken(settings: TokenSettings, claims: AccessClaims): string {
  return jwt.sign(claims, settings.secret, {
    algorithm: ALGORITHM,
    expiresIn: settings.ttlSeconds,
    issuer: settings.issuer,
    audience: settings.audience,
    jwtid: randomUUID(),
  });
}

/** Throws on any defect: algorithm other than the pinned one (incl. `none`), signature, iss, aud, exp. */
export function verifyAccessToken(settings: TokenSettings, token: string): AccessClaims {
  const payload = jwt.verify(token, settings.secret, {
    algorithms: [ALGORITHM],
    issuer: settings.issuer,
    audience: settings.audience,
  });
  if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
    throw new Error('token is missing sub or sid');
  }
  return { sub: payload.sub, sid: payload.sid, clinic_id: typeof payload.clinic_id === 'string' ? payload.clinic_id : undefined };
}
