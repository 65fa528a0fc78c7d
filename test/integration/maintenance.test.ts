import { randomBytes, randomUUID } from 'node:crypto';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { ensurePurgeSchedule } from '../../shared/temporal/maintenance-schedule';
import { MAINTENANCE_TASK_QUEUE, PURGE_SCHEDULE_ID } from '../../workflows/maintenance-api';
import { adminToken } from '../support/fixtures';
import { client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Issue 8 item 5: ended sessions, spent OTP challenges and old idempotency keys are purged by a
 * Temporal Schedule on the `maintenance` queue, which workers create idempotently at start.
 */
let stack: Stack;
let userId: string;

beforeAll(async () => {
  stack = await startStack({ queues: ['maintenance'] });
  const api = client(stack.baseUrl);
  userId = (await api.get('/api/v1/auth/me', await adminToken(api))).body.id;
});
afterAll(async () => {
  await stack?.deps.temporal.schedule.getHandle(PURGE_SCHEDULE_ID).delete().catch(() => undefined);
  await stack?.stop();
});

const db = () => stack.deps.dataSource;
const exists = async (table: string, where: string, params: unknown[]) =>
  (await db().query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params))[0].n > 0;

/** One row of each kind well past the grace period, one inside it, and one still live. */
async function seed(tag: string) {
  const ids = { oldSession: randomUUID(), recentSession: randomUUID(), liveSession: randomUUID(), oldOtp: randomUUID(), recentOtp: randomUUID(), liveOtp: randomUUID() };
  const session = (id: string, expiresAt: string) => db().query(
    `INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, now() - interval '60 days', now() - interval '60 days', ${expiresAt})`, [id, userId]);
  await session(ids.oldSession, `now() - interval '3 days'`);
  await session(ids.recentSession, `now() - interval '1 hour'`);
  await session(ids.liveSession, `now() + interval '1 hour'`);
  await db().query(`INSERT INTO refresh_tokens (session_id, token_hash) VALUES ($1, $2)`, [ids.oldSession, randomBytes(32)]);
  const otp = (id: string, expiresAt: string) => db().query(
    `INSERT INTO otp_challenges (id, user_id, purpose, channel, code_hash, code_sealed, created_at, expires_at)
     VALUES ($1, $2, 'login', 'email', $3, 'k:sealed', now() - interval '60 days', ${expiresAt})`, [id, userId, Buffer.alloc(32)]);
  await otp(ids.oldOtp, `now() - interval '3 days'`);
  await otp(ids.recentOtp, `now() - interval '1 minute'`);
  await otp(ids.liveOtp, `now() + interval '5 minutes'`);
  const key = (k: string, createdAt: string) => db().query(
    `INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, $2, 'h', ${createdAt})`, [userId, k]);
  await key(`${tag}-old`, `now() - interval '3 days'`);
  await key(`${tag}-recent`, `now() - interval '1 hour'`);
  return ids;
}

async function expectPurged(tag: string, ids: Awaited<ReturnType<typeof seed>>) {
  expect(await exists('sessions', 'id = $1', [ids.oldSession])).toBe(false);
  expect(await exists('refresh_tokens', 'session_id = $1', [ids.oldSession])).toBe(false);
  expect(await exists('sessions', 'id = ANY ($1)', [[ids.recentSession]])).toBe(true);
  expect(await exists('sessions', 'id = $1', [ids.liveSession])).toBe(true);
  expect(await exists('otp_challenges', 'id = $1', [ids.oldOtp])).toBe(false);
  // Kept within the grace period, but an expired challenge's code is wiped at once; a live one keeps it for its delivery.
  expect(await db().query(`SELECT code_sealed FROM otp_challenges WHERE id = $1`, [ids.recentOtp])).toEqual([{ code_sealed: null }]);
  expect(await db().query(`SELECT code_sealed FROM otp_challenges WHERE id = $1`, [ids.liveOtp])).toEqual([{ code_sealed: 'k:sealed' }]);
  expect(await exists('idempotency_keys', 'key = $1', [`${tag}-old`])).toBe(false);
  expect(await exists('idempotency_keys', 'key = $1', [`${tag}-recent`])).toBe(true);
}

describe('the purge activity', () => {
  it('removes rows past the grace period in batches, keeps the rest, and wipes expired OTP codes', async () => {
    const tag = `direct-${randomUUID().slice(0, 8)}`;
    const ids = await seed(tag);
    // Extra old keys so the batches loop: 7 rows in batches of 3.
    for (let i = 0; i < 6; i++) await db().query(`INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, $2, 'h', now() - interval '5 days')`, [userId, `${tag}-batch-${i}`]);
    const { purgeExpired } = createMaintenanceActivities({ dataSource: stack.appDataSource, purgeBatchSize: 3 });
    const result = await purgeExpired({ graceHours: 24 });
    expect(result.idempotencyKeys).toBeGreaterThanOrEqual(7);
    expect(result.sessions).toBeGreaterThanOrEqual(1);
    expect(result.otpChallenges).toBeGreaterThanOrEqual(1);
    expect(result.otpCodesWiped).toBeGreaterThanOrEqual(1);
    await expectPurged(tag, ids);
    expect(await exists('idempotency_keys', 'key LIKE $1', [`${tag}-batch-%`])).toBe(false);
  });

  it('refuses a nonsensical grace period rather than deleting everything', async () => {
    const { purgeExpired } = createMaintenanceActivities({ dataSource: stack.appDataSource });
    for (const graceHours of [0, -1, 1.5, Number.NaN]) await expect(purgeExpired({ graceHours })).rejects.toThrow(/graceHours/);
  });
});

describe('the maintenance schedule', () => {
  it('is created once, updated in place on the next start, and purges when it fires', async () => {
    const temporal = stack.deps.temporal;
    await temporal.schedule.getHandle(PURGE_SCHEDULE_ID).delete().catch(() => undefined);
    await ensurePurgeSchedule(temporal, { everyMinutes: 120, graceHours: 48 });
    // Concurrent starts of several workers: no error, one schedule.
    await Promise.all([1, 2].map(() => ensurePurgeSchedule(temporal, { everyMinutes: 60, graceHours: 24 })));
    const handle = temporal.schedule.getHandle(PURGE_SCHEDULE_ID);
    const described = await handle.describe();
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'purgeExpired', taskQueue: MAINTENANCE_TASK_QUEUE, args: [{ graceHours: 24 }] });
    expect(described.spec.intervals).toEqual([expect.objectContaining({ every: 3_600_000 })]);
    expect(described.policies.overlap).toBe('SKIP');

    const tag = `scheduled-${randomUUID().slice(0, 8)}`;
    const ids = await seed(tag);
    await handle.trigger();
    const deadline = Date.now() + 30_000;
    let run: { workflowId: string; firstExecutionRunId: string } | undefined;
    while (!run && Date.now() < deadline) {
      run = (await handle.describe()).info.recentActions.map((a) => a.action.workflow)[0];
      if (!run) await new Promise((r) => setTimeout(r, 200));
    }
    expect(run).toBeDefined();
    const result = await temporal.workflow.getHandle(run!.workflowId, run!.firstExecutionRunId).result();
    expect(result).toMatchObject({ sessions: expect.any(Number), otpChallenges: expect.any(Number), idempotencyKeys: expect.any(Number) });
    await expectPurged(tag, ids);
  });
});
