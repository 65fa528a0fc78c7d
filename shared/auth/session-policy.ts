/**
 * When a session is usable (SPEC §8, sessions): not revoked, before its absolute end, and used
 * within the idle limit. Pure, so the Redis and PostgreSQL paths decide identically.
 */
export interface SessionState {
  userId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  lastSeenAt: number;
  revoked: boolean;
}

export interface SessionLimits {
  idleMs: number;
  /** last_seen_at is written at most this often, so busy sessions do not write on every request. */
  touchEveryMs: number;
  /** Upper bound on how stale a cached state may be; a missed revocation marker is noticed within it. */
  cacheMaxSeconds: number;
}

export const DEFAULT_TOUCH_MS = 60_000;
export const SESSION_CACHE_MAX_SECONDS = 60;

export type SessionVerdict = 'active' | 'revoked' | 'expired' | 'idle';

export function judgeSession(s: SessionState, now: number, limits: Pick<SessionLimits, 'idleMs'>): SessionVerdict {
  if (s.revoked) return 'revoked';
  if (now >= s.expiresAt) return 'expired';
  if (now - s.lastSeenAt > limits.idleMs) return 'idle';
  return 'active';
}

export const needsTouch = (s: SessionState, now: number, limits: Pick<SessionLimits, 'touchEveryMs'>): boolean =>
  now - s.lastSeenAt >= limits.touchEveryMs;

/** Cache no longer than the bound, nor past the session's own end. */
export const cacheSeconds = (s: SessionState, now: number, limits: Pick<SessionLimits, 'cacheMaxSeconds'>): number =>
  Math.max(1, Math.min(limits.cacheMaxSeconds, Math.floor((s.expiresAt - now) / 1000)));
