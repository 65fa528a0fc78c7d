import { randomUUID } from 'node:crypto';
import {
  channelOrder, deriveKey, generateOtpCode, hashOtpCode, Identifier, identifierDigest, normalizeIdentifier, otpCodeMatches,
} from '../../shared/auth/otp-code';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { emailIndex, phoneIndex } from '../../shared/crypto/user-pii';
import { sealOtpCode } from '../../shared/notify/message-secrets';
import {
  deliverMessageWorkflowId, NOTIFICATIONS_TASK_QUEUE, type Channel, type MessageRequest,
} from '../../workflows/notification-api';
import { Problem, problems } from '../http/problem';
import { decide, hitInRedis, ipBucket } from '../http/rate-limit';
import type { ApiDeps } from '../http/state';
import { updateReturning } from './sessions';
import { consumeChallenge } from './sign-in';

/**
 * Sign-in with a one-time code (SPEC §8): 6 digits, hashed at rest, 5 minutes, 5 attempts. The
 * code also waits sealed in its challenge row for its delivery, which reads and wipes it: it never
 * travels through Temporal (shared/notify/message-secrets.ts).
 * The request answers the same whether or not the identifier has an account, and costs about
 * the same: the code is generated and hashed either way, and delivery is started in the
 * background so a Temporal round trip does not tell accounts apart.
 */
export const OTP_TTL_SECONDS = 300;
/** Failed codes an account may try across its challenges before the lockout; the lockout's length. */
export const OTP_MAX_ATTEMPTS = 5;
export const OTP_LOCKOUT_SECONDS = 900;
const CODE_KEY_PURPOSE = 'otp-code-v1';
const RATE_KEY_PURPOSE = 'otp-rate-v1';

export const otpCodeKey = (deps: Pick<ApiDeps, 'config'>) => deriveKey(deps.config.JWT_SECRET, CODE_KEY_PURPOSE);

async function findUser(deps: ApiDeps, id: Identifier): Promise<string | null> {
  const key = phiKeysFor(deps.config).blindIndexKey;
  const token = id.kind === 'email' ? emailIndex(key, id.value) : phoneIndex(key, id.value);
  if (!token) return null;
  const [row] = await deps.dataSource.query(
    `SELECT id FROM users WHERE ${id.kind === 'email' ? 'email_index' : 'phone_index'} = $1 AND status = 'ACTIVE'`, [token]);
  return row?.id ?? null;
}

const rateLimited = (retryAfter: number) =>
  new Problem(429, 'rate-limited', 'Too many requests', 'Too many one-time codes requested; retry later', undefined, { 'Retry-After': String(retryAfter) });

/**
 * Per IP, then per identifier, in one round trip (a request refused by its IP does not spend the
 * identifier's budget). Without Redis the counters cannot be kept, and an unlimited code sender is
 * an SMS-cost and brute-force hazard, so OTP requests fail closed (503) while password sign-in
 * keeps working.
 */
async function enforceRateLimits(deps: ApiDeps, id: Identifier, ip: string): Promise<void> {
  const c = deps.config;
  const windowMs = c.OTP_RATE_LIMIT_WINDOW_SECONDS * 1000;
  const digest = identifierDigest(deriveKey(c.JWT_SECRET, RATE_KEY_PURPOSE), id);
  const counters = [
    { key: `ratelimit:otp:ip:${ipBucket(ip || 'unknown')}`, limit: c.OTP_RATE_LIMIT_PER_IP },
    { key: `ratelimit:otp:id:${digest}`, limit: c.OTP_RATE_LIMIT_PER_IDENTIFIER },
  ].map((x) => ({ ...x, scope: 'ip' as const, windowMs }));
  let windows: Array<[number, number]>;
  try {
    ({ windows } = await hitInRedis(deps.redis, counters, null, { stopAtFirstOver: true }));
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'OTP rate limiter unavailable; refusing OTP requests');
    throw problems.unavailable('One-time codes are unavailable right now; sign in with your password or retry shortly');
  }
  const decision = decide(counters, windows);
  if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds);
}

export async function requestOtp(
  deps: ApiDeps, input: { identifier: string; channel: Channel }, ip: string,
): Promise<{ userId: string | null; challengeId: string | null }> {
  const id = normalizeIdentifier(input.identifier);
  await enforceRateLimits(deps, id, ip);
  const userId = await findUser(deps, id);
  const challengeId = randomUUID();
  const code = generateOtpCode();
  const codeHash = hashOtpCode(otpCodeKey(deps), challengeId, code);
  if (!userId) return { userId: null, challengeId: null };
  await deps.dataSource.query(
    `INSERT INTO otp_challenges (id, user_id, purpose, channel, code_hash, code_sealed, max_attempts, expires_at, ip)
     VALUES ($1, $2, 'login', $3, $4, $5, $6, now() + make_interval(secs => $7), $8)`,
    [challengeId, userId, input.channel, codeHash, sealOtpCode(phiKeysFor(deps.config).ring, challengeId, code), OTP_MAX_ATTEMPTS, OTP_TTL_SECONDS, ip]);
  startDelivery(deps, { challengeId, userId, channel: input.channel });
  return { userId, challengeId };
}

/** The workflow gets the challenge id only; the activity reads the code from the challenge row. */
function startDelivery(deps: ApiDeps, m: { challengeId: string; userId: string; channel: Channel }): void {
  const request: MessageRequest = {
    idempotencyKey: `otp-${m.challengeId}`,
    clinicId: null,
    recipient: { kind: 'user', id: m.userId },
    template: 'otp-code',
    params: {},
    secretRef: { kind: 'otp-challenge', id: m.challengeId },
    channels: channelOrder(m.channel),
  };
  deps.temporal.workflow
    .start('deliverMessage', { taskQueue: NOTIFICATIONS_TASK_QUEUE, workflowId: deliverMessageWorkflowId(request.idempotencyKey), args: [request] })
    .catch((err: Error) => deps.log.error({ err: err.message, challengeId: m.challengeId }, 'OTP delivery could not be started'));
}

/**
 * Claims one attempt on a login challenge before the code is compared, so parallel guesses cannot
 * exceed the budget. The budget is the account's, not the challenge's (NIST 800-63B §5.2.2):
 * OTP_MAX_ATTEMPTS failed codes across every challenge of the last OTP_LOCKOUT_SECONDS, so asking
 * for a new code does not buy more guesses. A code that signed in starts the count over: attempts
 * on challenges from before the last success do not count.
 */
async function claimOtpAttempt(deps: ApiDeps, challengeId: string) {
  const [row] = await updateReturning<{ id: string; code_hash: Buffer | null }>(deps.dataSource,
    `UPDATE otp_challenges c SET attempts = c.attempts + 1
     WHERE c.id = $1 AND c.purpose = 'login' AND c.consumed_at IS NULL AND c.expires_at > now() AND c.attempts < c.max_attempts
       AND c.attempts + (
         SELECT COALESCE(sum(o.attempts), 0) FROM otp_challenges o
         WHERE o.user_id = c.user_id AND o.purpose = 'login' AND o.id <> c.id AND o.consumed_at IS NULL
           AND o.created_at > now() - make_interval(secs => $2)
           AND o.created_at > COALESCE((SELECT max(s.consumed_at) FROM otp_challenges s WHERE s.user_id = c.user_id AND s.purpose = 'login'), '-infinity')
       ) < $3
     RETURNING c.id, c.code_hash`, [challengeId, OTP_LOCKOUT_SECONDS, OTP_MAX_ATTEMPTS]);
  return row ?? null;
}

/**
 * Only the newest challenge of the account counts, so asking again retires earlier codes. The
 * attempt is claimed before the comparison, which makes the sixth try fail even with the right
 * code, on this challenge or a newer one, until the lockout ends.
 */
export async function verifyOtp(deps: ApiDeps, input: { identifier: string; code: string }): Promise<{ ok: boolean; userId: string | null }> {
  const userId = await findUser(deps, normalizeIdentifier(input.identifier));
  if (!userId) return { ok: false, userId: null };
  const [latest] = await deps.dataSource.query(
    `SELECT id FROM otp_challenges WHERE user_id = $1 AND purpose = 'login' ORDER BY created_at DESC LIMIT 1`, [userId]);
  const challenge = latest ? await claimOtpAttempt(deps, latest.id) : null;
  if (!challenge?.code_hash || !otpCodeMatches(otpCodeKey(deps), challenge.id, input.code, challenge.code_hash)) return { ok: false, userId };
  return { ok: await consumeChallenge(deps, challenge.id), userId };
}
