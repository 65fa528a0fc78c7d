import { createHash } from 'node:crypto';
import { Problem, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import type { HandlerResult } from '../http/route';

/** A key still "in progress" after this long belongs to a request that died; a retry may take it over. */
const ABANDONED_AFTER_SECONDS = 120;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A stable id for the journey a key creates, so a retry after a crash reaches the same workflow. */
export function idFromKey(userId: string, key: string): string {
  const h = sha256(`${userId}\u0000${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * SPEC §7: same key and body replays the first response; same key with another body is 422;
 * a retry while the first is still running is 409. Keys are scoped to the caller.
 */
export async function withIdempotency(
  deps: ApiDeps, userId: string, key: string | undefined, request: unknown, run: () => Promise<HandlerResult>,
): Promise<HandlerResult> {
  if (key === undefined) return run();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw problems.validation([{ field: 'header.Idempotency-Key', message: '1–255 visible ASCII characters' }]);
  const requestHash = sha256(JSON.stringify(request));
  const claimed = await deps.dataSource.query(
    `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now()
       WHERE idempotency_keys.response_status IS NULL
         AND idempotency_keys.request_hash = EXCLUDED.request_hash
         AND idempotency_keys.created_at < now() - make_interval(secs => $4)
     RETURNING 1`,
    [userId, key, requestHash, ABANDONED_AFTER_SECONDS],
  );
  if (!claimed.length) {
    const [prior] = await deps.dataSource.query(`SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2`, [userId, key]);
    if (prior.request_hash !== requestHash) throw problems.unprocessable('idempotency-key-reused', 'This Idempotency-Key was used with a different request');
    if (prior.response_status === null) throw problems.conflict('idempotency-key-in-progress', 'A request with this Idempotency-Key is still being processed');
    if (prior.response_status >= 400) throw Object.assign(new Problem(prior.response_status, prior.response_body.code, prior.response_body.title, prior.response_body.detail), {});
    return { status: prior.response_status, body: prior.response_body, headers: { 'Idempotent-Replayed': 'true' } };
  }
  const save = (status: number, body: unknown) =>
    deps.dataSource.query(`UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE user_id = $1 AND key = $2`, [userId, key, status, JSON.stringify(body)]);
  try {
    const result = await run();
    await save(result.status ?? 200, result.body ?? null);
    return result;
  } catch (err) {
    // Definitive client errors replay too; anything else frees the key for a retry.
    if (err instanceof Problem && err.status < 500 && err.status !== 429) {
      await save(err.status, { code: err.code, title: err.title, detail: err.detail });
    } else {
      await deps.dataSource.query(`DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND response_status IS NULL`, [userId, key]);
    }
    throw err;
  }
}
