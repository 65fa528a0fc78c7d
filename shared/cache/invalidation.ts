import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { appointmentTags, AppointmentRef, encodeInvalidation, generationKey, INVALIDATION_CHANNEL } from './tags';

/**
 * Generations must outlive every value written under them: were a counter to expire and restart
 * at 0 while a value from its first life were still stored, that value would be served again.
 * Values live at most MAX_VALUE_TTL_SECONDS; counters are refreshed on every bump.
 */
export const GENERATION_TTL_SECONDS = 7 * 24 * 3600;
export const MAX_VALUE_TTL_SECONDS = 3600;

/**
 * Retires every value derived from `tags` (bumps their generations) and tells every API process
 * to drop its L1 copies, in one MULTI. Failure is logged, not thrown: the write it follows has
 * already committed, and stale reads are then bounded by the L1 and Redis TTLs.
 */
export async function publishInvalidation(redis: Redis, tags: readonly string[], log: Logger): Promise<boolean> {
  if (tags.length === 0) return true;
  try {
    const tx = redis.multi();
    for (const tag of tags) tx.incr(generationKey(tag)).expire(generationKey(tag), GENERATION_TTL_SECONDS);
    tx.publish(INVALIDATION_CHANNEL, encodeInvalidation(tags));
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('transaction aborted');
    return true;
  } catch (err) {
    log.warn({ err: (err as Error).message, tags: tags.length }, 'cache invalidation not published');
    return false;
  }
}

/**
 * The `onAppointmentChanged` hook of the booking activities: runs inside the activity, after the
 * row changed and before the activity returns, so the invalidation is out before the HTTP answer.
 */
export function createAppointmentInvalidator(redis: Redis, log: Logger): (a: AppointmentRef) => Promise<void> {
  return async (a) => {
    await publishInvalidation(redis, appointmentTags(a), log);
  };
}
