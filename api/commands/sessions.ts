import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { hashRefreshToken, newRefreshToken } from '../../shared/auth/refresh-token';
import {
  cacheSeconds, DEFAULT_TOUCH_MS, judgeSession, needsTouch, SESSION_CACHE_MAX_SECONDS, SessionLimits, SessionState, SessionVerdict,
} from '../../shared/auth/session-policy';
import type { Config } from '../../shared/config';
import type { ApiDeps } from '../http/state';

/**
 * Server-side sessions behind the JWT `sid`. PostgreSQL is the record; Redis holds each session's
 * state for at most a minute and a revocation marker written the moment a session ends, so the
 * hot path is one Redis GET and a revoked token stops working at once (or within a minute when
 * Redis missed the marker). Without Redis every check reads PostgreSQL.
 */
type Deps = Pick<ApiDeps, 'config' | 'dataSource' | 'redis' | 'log'>;

export type RevokeReason = 'logout' | 'refresh-reuse' | 'password-change' | 'user-disabled';

type Db = Pick<EntityManager, 'query'>;

/** UPDATE … RETURNING rows: TypeORM answers UPDATE and DELETE with [rows, rowCount]. */
export async function updateReturning<T>(db: Db, sql: string, params: unknown[]): Promise<T[]> {
  const [rows] = (await db.query(sql, params)) as [T[], number];
  return rows;
}

const cacheKey = (sessionId: string) => `session:v1:${sessionId}`;
const REVOKED = 'revoked';

// Never overwrite a revocation marker with a cached "active" state read just before the revocation.
const SET_UNLESS_REVOKED = `if redis.call('GET', KEYS[1]) == '${REVOKED}' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1`;

export const sessionLimits = (config: Pick<Config, 'SESSION_IDLE_MINUTES'>): SessionLimits => ({
  idleMs: config.SESSION_IDLE_MINUTES * 60_000,
  touchEveryMs: DEFAULT_TOUCH_MS,
  cacheMaxSeconds: SESSION_CACHE_MAX_SECONDS,
});

interface SessionRow { user_id: string; expires_at: Date; last_seen_at: Date; revoked_at: Date | null }

const toState = (r: SessionRow): SessionState => ({
  userId: r.user_id, expiresAt: r.expires_at.getTime(), lastSeenAt: r.last_seen_at.getTime(), revoked: r.revoked_at !== null,
});

/** A new session and its first refresh token; `tx` keeps it in the caller's transaction when given. */
export async function createSession(
  deps: Deps, input: { userId: string; mfaSatisfied: boolean; ip: string | null }, tx?: EntityManager,
): Promise<{ sessionId: string; refreshToken: string }> {
  const sessionId = randomUUID();
  const refreshToken = newRefreshToken();
  const run = async (db: EntityManager) => {
    await db.query(
      `INSERT INTO sessions (id, user_id, expires_at, mfa_satisfied, ip) VALUES ($1, $2, now() + make_interval(hours => $3), $4, $5)`,
      [sessionId, input.userId, deps.config.SESSION_MAX_HOURS, input.mfaSatisfied, input.ip]);
    await db.query(`INSERT INTO refresh_tokens (session_id, token_hash) VALUES ($1, $2)`, [sessionId, hashRefreshToken(refreshToken)]);
  };
  await (tx ? run(tx) : deps.dataSource.transaction(run));
  return { sessionId, refreshToken };
}

/**
 * Is the session behind an access token still usable? Also records use (last_seen_at), at most
 * once a minute per session.
 */
export async function checkSession(deps: Deps, sessionId: string, userId: string): Promise<SessionVerdict> {
  const limits = sessionLimits(deps.config);
  const now = Date.now();
  let redisUp = true;
  let cached: string | null = null;
  try {
    cached = await deps.redis.get(cacheKey(sessionId));
  } catch {
    redisUp = false;
  }
  if (cached === REVOKED) return 'revoked';
  if (cached) {
    const state = parseCached(cached);
    if (state) {
      if (state.userId !== userId) return 'revoked';
      const verdict = judgeSession(state, now, limits);
      if (verdict !== 'active' || !needsTouch(state, now, limits)) return verdict;
    }
  }

  const [row]: SessionRow[] = await deps.dataSource.query(
    `SELECT user_id, expires_at, last_seen_at, revoked_at FROM sessions WHERE id = $1`, [sessionId]);
  if (!row || row.user_id !== userId) return 'revoked';
  const state = toState(row);
  const verdict = judgeSession(state, now, limits);
  if (verdict !== 'active') {
    if (redisUp) await writeMarkers(deps, [sessionId]);
    return verdict;
  }
  if (needsTouch(state, now, limits)) {
    const [touched] = await updateReturning<{ last_seen_at: Date }>(deps.dataSource,
      `UPDATE sessions SET last_seen_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING last_seen_at`, [sessionId]);
    if (!touched) return 'revoked';
    state.lastSeenAt = touched.last_seen_at.getTime();
  }
  if (redisUp) await cacheState(deps, sessionId, state, now);
  return 'active';
}

function parseCached(text: string): SessionState | null {
  try {
    const v = JSON.parse(text) as Partial<SessionState>;
    return typeof v.userId === 'string' && typeof v.expiresAt === 'number' && typeof v.lastSeenAt === 'number'
      ? { userId: v.userId, expiresAt: v.expiresAt, lastSeenAt: v.lastSeenAt, revoked: false }
      : null;
  } catch {
    return null;
  }
}

async function cacheState(deps: Deps, sessionId: string, state: SessionState, now: number): Promise<void> {
  const value = JSON.stringify({ userId: state.userId, expiresAt: state.expiresAt, lastSeenAt: state.lastSeenAt });
  try {
    await deps.redis.eval(SET_UNLESS_REVOKED, 1, cacheKey(sessionId), value, cacheSeconds(state, now, sessionLimits(deps.config)));
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'session cache write failed');
  }
}

/** Markers outlive any session (SESSION_MAX_HOURS), so a revoked session can never look cached-active. */
async function writeMarkers(deps: Deps, sessionIds: string[]): Promise<void> {
  if (sessionIds.length === 0) return;
  const ttl = deps.config.SESSION_MAX_HOURS * 3600;
  try {
    const pipeline = deps.redis.pipeline();
    for (const id of sessionIds) pipeline.set(cacheKey(id), REVOKED, 'EX', ttl);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  } catch (err) {
    // Bounded: cached states expire within a minute and PostgreSQL already says revoked.
    deps.log.warn({ err: (err as Error).message, sessions: sessionIds.length }, 'session revocation marker not written');
  }
}

export async function revokeSession(deps: Deps, sessionId: string, reason: RevokeReason): Promise<boolean> {
  const rows = await updateReturning(deps.dataSource,
    `UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`, [sessionId, reason]);
  await writeMarkers(deps, [sessionId]);
  return rows.length > 0;
}

/** Every live session of the user (the account was disabled). Returns how many ended. */
export async function revokeUserSessions(deps: Deps, userId: string, reason: RevokeReason): Promise<number> {
  const rows = await updateReturning<{ id: string }>(deps.dataSource,
    `UPDATE sessions SET revoked_at = now(), revoked_reason = $2
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING id`, [userId, reason]);
  await writeMarkers(deps, rows.map((r) => r.id));
  return rows.length;
}

/** Every live session of the user except `keep` (the one asking). Returns how many ended. */
export async function revokeOtherSessions(deps: Deps, userId: string, keep: string, reason: RevokeReason): Promise<number> {
  const rows = await updateReturning<{ id: string }>(deps.dataSource,
    `UPDATE sessions SET revoked_at = now(), revoked_reason = $3
     WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > now() RETURNING id`, [userId, keep, reason]);
  await writeMarkers(deps, rows.map((r) => r.id));
  return rows.length;
}

export type RefreshOutcome =
  | { kind: 'rotated'; sessionId: string; userId: string; refreshToken: string; mfaSatisfied: boolean }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'invalid'; sessionId?: string; userId?: string };

/**
 * Rotation with reuse detection (OAuth 2.0 Security BCP §4.14): the presented token is spent and
 * a child issued; a spent token presented again means it was copied, so the whole session ends.
 * The row lock makes two concurrent uses of one token a reuse, never two children.
 */
export async function rotateRefreshToken(deps: Deps, presented: string): Promise<RefreshOutcome> {
  const limits = sessionLimits(deps.config);
  const outcome = await deps.dataSource.transaction(async (tx): Promise<RefreshOutcome> => {
    const [row] = await tx.query(
      `SELECT rt.id, rt.used_at, s.id AS session_id, s.user_id, s.expires_at, s.last_seen_at, s.revoked_at, s.mfa_satisfied, u.status
       FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id
       WHERE rt.token_hash = $1 FOR UPDATE OF rt, s`, [hashRefreshToken(presented)]);
    if (!row) return { kind: 'invalid' };
    const ids = { sessionId: row.session_id as string, userId: row.user_id as string };
    if (row.revoked_at) return { kind: 'invalid', ...ids };
    if (row.used_at) {
      await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh-reuse' WHERE id = $1`, [ids.sessionId]);
      return { kind: 'reused', ...ids };
    }
    if (judgeSession(toState(row), Date.now(), limits) !== 'active') return { kind: 'invalid', ...ids };
    if (row.status !== 'ACTIVE') {
      await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'user-disabled' WHERE id = $1`, [ids.sessionId]);
      return { kind: 'invalid', ...ids };
    }
    const refreshToken = newRefreshToken();
    await tx.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [row.id]);
    await tx.query(`INSERT INTO refresh_tokens (session_id, token_hash, parent_id) VALUES ($1, $2, $3)`, [ids.sessionId, hashRefreshToken(refreshToken), row.id]);
    await tx.query(`UPDATE sessions SET last_seen_at = now() WHERE id = $1`, [ids.sessionId]);
    return { kind: 'rotated', ...ids, refreshToken, mfaSatisfied: row.mfa_satisfied };
  });
  if (outcome.kind === 'reused') await writeMarkers(deps, [outcome.sessionId]);
  // The next request reloads the fresh last_seen_at rather than judging idleness on a stale copy.
  if (outcome.kind === 'rotated') await dropCachedState(deps, outcome.sessionId);
  return outcome;
}

async function dropCachedState(deps: Deps, sessionId: string): Promise<void> {
  try {
    // Only an "active" copy: a revocation marker must stay.
    await deps.redis.eval(`if redis.call('GET', KEYS[1]) ~= '${REVOKED}' then redis.call('DEL', KEYS[1]) end return 1`, 1, cacheKey(sessionId));
  } catch {
    // The copy expires within a minute; until then idleness is judged on a slightly older time.
  }
}

/** The session a refresh token belongs to, spent or not (logout with any token of the family works). */
export async function sessionOfRefreshToken(deps: Deps, presented: string): Promise<{ sessionId: string; userId: string } | null> {
  const [row] = await deps.dataSource.query(
    `SELECT s.id, s.user_id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1`, [hashRefreshToken(presented)]);
  return row ? { sessionId: row.id, userId: row.user_id } : null;
}

export async function markSessionMfaSatisfied(deps: Deps, sessionId: string): Promise<void> {
  await deps.dataSource.query(`UPDATE sessions SET mfa_satisfied = true WHERE id = $1`, [sessionId]);
}
