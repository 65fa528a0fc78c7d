import { randomUUID } from 'node:crypto';
import {
  channelOrder, deriveKey, generateOtpCode, hashOtpCode, Identifier, identifierDigest, normalizeIdentifier, otpCodeMatches,
} from '../../shared/auth/otp-code';
import { hitWindow } from '../../shared/auth/rate-limit';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { emailIndex, phoneIndex } from '../../shared/crypto/user-pii';
import { sealOtpCode } from '../../shared/notify/message-secrets';
import {
  deliverMessageWorkflowId, NOTIFICATIONS_TASK_QUEUE, type Channel, type MessageRequest,
} from '../../workflows/notification-api';
import { Problem, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import { claimAttempt, consumeChallenge } from './sign-in';

/**
 * Sign-in with a one-time code (SPEC §8): 6 digits, hashed at rest, 5 minutes, 5 attempts. The
 * code also waits sealed in its challenge row for its delivery, which reads and wipes it: it never
 * travels through Temporal (shared/notify/message-secrets.ts).
 * The request answers the same whether or not the identifier has an account, and costs about
 * the same: the code is generated and hashed either way, and delivery is started in the
 * background so a Temporal round trip does not tell accounts apart.
 */
export const OTP_TTL_SECONDS = 300;
export const OTP_MAX_ATTEMPTS = 5;
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
 * Per IP, then per identifier. Without Redis the counters cannot be kept, and an unlimited code
 * sender is an SMS-cost and brute-force hazard, so OTP requests fail closed (503) while password
 * sign-in keeps working.
 */
async function enforceRateLimits(deps: ApiDeps, id: Identifier, ip: string): Promise<void> {
  const c = deps.config;
  try {
    const byIp = await hitWindow(deps.redis, `ratelimit:otp:ip:${ip}`, c.OTP_RATE_LIMIT_PER_IP, c.OTP_RATE_LIMIT_WINDOW_SECONDS);
    if (!byIp.allowed) throw rateLimited(byIp.retryAfterSeconds);
    const digest = identifierDigest(deriveKey(c.JWT_SECRET, RATE_KEY_PURPOSE), id);
    const byId = await hitWindow(deps.redis, `ratelimit:otp:id:${digest}`, c.OTP_RATE_LIMIT_PER_IDENTIFIER, c.OTP_RATE_LIMIT_WINDOW_SECONDS);
    if (!byId.allowed) throw rateLimited(byId.retryAfterSeconds);
  } catch (err) {
    if (err instanceof Problem) throw err;
    deps.log.warn({ err: (err as Error).message }, 'OTP rate limiter unavailable; refusing OTP requests');
    throw problems.unavailable('One-time codes are unavailable right now; sign in with your password or retry shortly');
  }
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
 * Only the newest challenge of the account counts, so asking again retires earlier codes. The
 * attempt is claimed before the comparison, which makes the sixth try fail even with the right code.
 */
export async function verifyOtp(deps: ApiDeps, input: { identifier: string; code: string }): Promise<{ ok: boolean; userId: string | null }> {
  const userId = await findUser(deps, normalizeIdentifier(input.identifier));
  if (!userId) return { ok: false, userId: null };
  const [latest] = await deps.dataSource.query(
    `SELECT id FROM otp_challenges WHERE user_id = $1 AND purpose = 'login' ORDER BY created_at DESC LIMIT 1`, [userId]);
  const challenge = latest ? await claimAttempt(deps, latest.id, 'login') : null;
  if (!challenge?.code_hash || !otpCodeMatches(otpCodeKey(deps), challenge.id, input.code, challenge.code_hash)) return { ok: false, userId };
  return { ok: await consumeChallenge(deps, challenge.id), userId };
}
