import jwt from 'jsonwebtoken';
import { MFA_ENROLLMENT_SCOPE, signAccessToken, signMfaToken, verifyAccessToken, verifyMfaToken } from './tokens';

const settings = { secret: 'unit-test-secret-unit-test-secret-0123', issuer: 'iss', audience: 'aud', ttlSeconds: 60 };

describe('access and MFA tokens', () => {
  it('round-trips access claims, including the enrolment-only scope', () => {
    const t = signAccessToken(settings, { sub: 'u1', sid: 's1', scope: MFA_ENROLLMENT_SCOPE });
    expect(verifyAccessToken(settings, t)).toEqual({ sub: 'u1', sid: 's1', clinic_id: undefined, scope: MFA_ENROLLMENT_SCOPE });
  });

  it('keeps MFA tokens and access tokens apart', () => {
    const mfa = signMfaToken(settings, 'u1', 'c1', 60);
    expect(verifyMfaToken(settings, mfa)).toEqual({ userId: 'u1', challengeId: 'c1' });
    expect(() => verifyAccessToken(settings, mfa)).toThrow();
    const access = signAccessToken(settings, { sub: 'u1', sid: 's1' });
    expect(() => verifyMfaToken(settings, access)).toThrow();
  });

  it('refuses an access-audience token that claims another type or an unknown scope', () => {
    const typed = jwt.sign({ sub: 'u', sid: 's', typ: 'mfa' }, settings.secret, { algorithm: 'HS256', issuer: 'iss', audience: 'aud', expiresIn: 60 });
    const scoped = jwt.sign({ sub: 'u', sid: 's', scope: 'admin' }, settings.secret, { algorithm: 'HS256', issuer: 'iss', audience: 'aud', expiresIn: 60 });
    expect(() => verifyAccessToken(settings, typed)).toThrow();
    expect(() => verifyAccessToken(settings, scoped)).toThrow();
  });
});
