import { cacheSeconds, judgeSession, needsTouch, SessionState } from './session-policy';

const now = 1_700_000_000_000;
const base: SessionState = { userId: 'u', expiresAt: now + 3_600_000, lastSeenAt: now - 1000, revoked: false };
const limits = { idleMs: 30 * 60_000, touchEveryMs: 60_000, cacheMaxSeconds: 60 };

describe('session policy', () => {
  it('is active when recent, unrevoked and before the absolute end', () => {
    expect(judgeSession(base, now, limits)).toBe('active');
  });

  it('ends on revocation, at the absolute end, and after the idle limit', () => {
    expect(judgeSession({ ...base, revoked: true }, now, limits)).toBe('revoked');
    expect(judgeSession({ ...base, expiresAt: now }, now, limits)).toBe('expired');
    expect(judgeSession({ ...base, lastSeenAt: now - limits.idleMs }, now, limits)).toBe('active');
    expect(judgeSession({ ...base, lastSeenAt: now - limits.idleMs - 1 }, now, limits)).toBe('idle');
  });

  it('touches last_seen_at at most once per interval', () => {
    expect(needsTouch(base, now, limits)).toBe(false);
    expect(needsTouch({ ...base, lastSeenAt: now - 60_000 }, now, limits)).toBe(true);
  });

  it('caches for at most the bound and never past the session end', () => {
    expect(cacheSeconds(base, now, limits)).toBe(60);
    expect(cacheSeconds({ ...base, expiresAt: now + 10_500 }, now, limits)).toBe(10);
    expect(cacheSeconds({ ...base, expiresAt: now + 100 }, now, limits)).toBe(1);
  });
});
