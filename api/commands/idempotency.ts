import { createHash, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Actor } from '../../shared/permissions';
import { FieldError, Problem, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import type { HandlerResult } from '../http/route';
import { holdLease, isHolderRunning, LIVENESS_TTL_MS, PROCESS_ID } from './idempotency-liveness';

/** What a caller is told to wait while the first request with its key is still running. */
export const IN_PROGRESS_RETRY_AFTER_SECONDS = 1;
/** Claim attempts before answering 409: each lost round means another request with the key got there first. */
const MAX_ROUNDS = 4;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A stable id for the journey a key creates, so a retry after a crash reaches the same workflow. */
export function idFromKey(userId: string, key: string): string {
  const h = sha256(`${userId}\u0000${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * What a journey-creating POST declares to take an Idempotency-Key (`idempotent` on its route).
 * Its command must create the journey under `idFromKey(userId, key)`, so that a retry reaches the
 * same journey; `outcome` tells whether that journey already created what the POST creates.
 */
export interface IdempotentJourney {
  /**
   * The route's answer for what the journey `id` already created (e.g. 201 with the appointment),
   * or null when it has created nothing yet. Called when the request holding the key can no longer
   * finish; null lets the retry run the command again, which must then join the same journey.
   */
  outcome(deps: ApiDeps, actor: Actor, id: string): Promise<HandlerResult | null>;
}

const inProgress = () => new Problem(409, 'idempotency-key-in-progress', 'Conflict', 'A request with this Idempotency-Key is still being processed',
  undefined, { 'Retry-After': String(IN_PROGRESS_RETRY_AFTER_SECONDS) });

interface StoredProblem { code: string; title: string; detail?: string; errors?: FieldError[] }

interface ClaimRow {
  request_hash: string;
  response_status: number | null;
  response_body: unknown;
  holder: string | null;
  claim_token: string | null;
  heartbeat_fresh: boolean;
}

/** The statements on one caller's key. Writes to an open claim name its token, so a claim taken over meanwhile is left alone. */
function claimsOf(ds: DataSource, userId: string, key: string) {
  const where = `user_id = $1 AND key = $2 AND response_status IS NULL`;
  return {
    async insert(token: string, requestHash: string): Promise<boolean> {
      const rows = await ds.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, holder, claim_token) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, key) DO NOTHING RETURNING 1`, [userId, key, requestHash, PROCESS_ID, token]);
      return rows.length > 0;
    },
    async read(): Promise<ClaimRow | undefined> {
      const [row] = await ds.query(
        `SELECT request_hash, response_status, response_body, holder, claim_token,
                heartbeat_at > now() - make_interval(secs => $3) AS heartbeat_fresh
         FROM idempotency_keys WHERE user_id = $1 AND key = $2`, [userId, key, LIVENESS_TTL_MS / 1000]);
      return row;
    },
    async takeOver(from: string | null, token: string): Promise<boolean> {
      const rows = await ds.query(
        `UPDATE idempotency_keys SET holder = $3, claim_token = $4, heartbeat_at = now()
         WHERE ${where} AND claim_token IS NOT DISTINCT FROM $5 RETURNING 1`, [userId, key, PROCESS_ID, token, from]);
      return rows.length > 0;
    },
    record: (token: string | null, status: number, body: unknown) => ds.query(
      `UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE ${where} AND claim_token IS NOT DISTINCT FROM $5`,
      [userId, key, status, JSON.stringify(body), token]),
    free: (token: string) => ds.query(`DELETE FROM idempotency_keys WHERE ${where} AND claim_token = $3`, [userId, key, token]),
    beat: (token: string) => ds.query(`UPDATE idempotency_keys SET heartbeat_at = now() WHERE ${where} AND claim_token = $3`, [userId, key, token]),
  };
}
type Claims = ReturnType<typeof claimsOf>;

/**
 * SPEC §7: same key and body replays the first response; same key with another body is 422;
 * a retry while the first is still running is 409 with Retry-After. Keys are scoped to the caller.
 *
 * A claim whose request can no longer finish (its process died, or it ended without recording an
 * answer, e.g. PostgreSQL went away) is settled by the retry at once (issue 15): if the journey
 * already created its resource, that is the answer, recorded for later replays; otherwise the
 * retry takes the claim over and runs the command, which joins the same journey.
 */
export async function withIdempotency(
  deps: ApiDeps, actor: Actor, key: string | undefined, request: unknown, journey: IdempotentJourney,
  run: (key: string | undefined) => Promise<HandlerResult>,
): Promise<HandlerResult> {
  if (key === undefined) return run(undefined);
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw problems.validation([{ field: 'header.Idempotency-Key', message: '1–255 visible ASCII characters' }]);
  const requestHash = sha256(JSON.stringify(request));
  const claims = claimsOf(deps.dataSource, actor.userId, key);
  // The sign of life comes before the claim that names it, so no one sees this claim without it.
  const token = randomUUID();
  const lease = await holdLease(deps.redis, token, () => claims.beat(token));
  try {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (await claims.insert(token, requestHash)) return await runAsHolder(deps, claims, token, () => run(key));
      const prior = await claims.read();
      // Freed by its holder between the two statements: claim it again.
      if (!prior) continue;
      if (prior.request_hash !== requestHash) throw problems.unprocessable('idempotency-key-reused', 'This Idempotency-Key was used with a different request');
      if (prior.response_status !== null) return replay(prior.response_status, prior.response_body);
      const holder = { holder: prior.holder, claimToken: prior.claim_token, heartbeatFresh: prior.heartbeat_fresh };
      if (await isHolderRunning(deps.redis, holder)) throw inProgress();
      const outcome = await journey.outcome(deps, actor, idFromKey(actor.userId, key));
      if (outcome) {
        await claims.record(prior.claim_token, outcome.status ?? 200, outcome.body ?? null);
        return { ...outcome, headers: { ...outcome.headers, 'Idempotent-Replayed': 'true' } };
      }
      if (await claims.takeOver(prior.claim_token, token)) return await runAsHolder(deps, claims, token, () => run(key));
    }
    throw inProgress();
  } finally {
    lease.release();
  }
}

function replay(status: number, body: unknown): HandlerResult {
  if (status >= 400) {
    const p = body as StoredProblem;
    throw new Problem(status, p.code, p.title, p.detail, p.errors);
  }
  return { status, body, headers: { 'Idempotent-Replayed': 'true' } };
}

async function runAsHolder(deps: ApiDeps, claims: Claims, token: string, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
  // A record that cannot be written leaves the claim open: a retry then finds the outcome itself.
  const unrecorded = (err: unknown) => deps.log.warn({ err: (err as Error)?.message }, 'idempotency key: answer not recorded');
  let result: HandlerResult;
  try {
    result = await run();
  } catch (err) {
    // Definitive client errors replay too; anything else frees the key for a retry.
    if (err instanceof Problem && err.status < 500 && err.status !== 429) {
      const stored: StoredProblem = { code: err.code, title: err.title, detail: err.detail, errors: err.errors };
      await claims.record(token, err.status, stored).catch(unrecorded);
    } else {
      await claims.free(token).catch(unrecorded);
    }
    throw err;
  }
  // What was done is the answer, even when PostgreSQL went away before it could be recorded.
  await claims.record(token, result.status ?? 200, result.body ?? null).catch(unrecorded);
  return result;
}
