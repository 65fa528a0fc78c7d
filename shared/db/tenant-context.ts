import { AsyncLocalStorage } from 'node:async_hooks';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The clinic the current request or activity acts in, carried by AsyncLocalStorage so that every
 * query below it — however deep, through TypeORM or raw SQL — runs with PostgreSQL's
 * `app.clinic_id` set to it. Row-level security policies read that setting (SPEC §4: the second
 * wall behind the application's own clinic filter). No context means `app.clinic_id = ''`, which
 * the policies treat as "no clinic": clinic-scoped tables then show and accept no rows.
 */
interface TenantContext {
  clinicId: string | null;
}

const storage = new AsyncLocalStorage<TenantContext>();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs `fn` with `clinicId` as the tenant of every query it makes; null runs it explicitly outside any clinic. */
export function runInClinic<T>(clinicId: string | null, fn: () => T): T {
  // The policies cast the setting to uuid: anything else would make every query fail, so refuse it here.
  if (clinicId !== null && !UUID.test(clinicId)) throw new Error('runInClinic: clinicId must be a uuid');
  return storage.run({ clinicId: clinicId?.toLowerCase() ?? null }, fn);
}

/** The clinic of the current context, or null outside any clinic. */
export function currentClinicId(): string | null {
  return storage.getStore()?.clinicId ?? null;
}

/** The value last written to `app.clinic_id` on a pooled connection, so unchanged checkouts cost nothing. */
const APPLIED = Symbol('app.clinic_id');
type TrackedClient = PoolClient & { [APPLIED]?: string };

interface PostgresDriverLike {
  obtainMasterConnection(): Promise<[TrackedClient, (err?: unknown) => void]>;
}

/**
 * Makes every connection checkout of `ds` carry the context's clinic: when the pooled connection's
 * `app.clinic_id` differs from the context's, one `set_config` round trip fixes it before the
 * caller's first statement. A transaction checks its connection out once, so all its statements
 * share the clinic of the context it started in.
 *
 * Session-level setting (is_local = false) on purpose: it survives the caller's transactions and
 * is overwritten at the next checkout. It needs session pooling between the app and PostgreSQL
 * (a transaction-pooling proxy would hand the session to another client).
 */
export function installTenantHook(ds: DataSource): void {
  const driver = ds.driver as unknown as PostgresDriverLike;
  const obtain = driver.obtainMasterConnection.bind(driver);
  // obtainSlaveConnection falls back to this method on the instance, so replicas-less reads are covered too.
  driver.obtainMasterConnection = async () => {
    // Read before awaiting the pool: a waiter's callback may run in the releasing caller's async context.
    const wanted = currentClinicId() ?? '';
    const [client, release] = await obtain();
    // A fresh connection has no setting at all, which the policies read exactly like ''.
    if ((client[APPLIED] ?? '') !== wanted) {
      try {
        await client.query(`SELECT set_config('app.clinic_id', $1, false)`, [wanted]);
        client[APPLIED] = wanted;
      } catch (err) {
        release(err);
        throw err;
      }
    }
    return [client, release];
  };
}

type Activity = (...args: never[]) => Promise<unknown>;

/**
 * Runs each activity inside the clinic its input names (`input.clinicId`, a uuid or null), so the
 * activity's queries pass the row-level security policies of that clinic. Activities whose input
 * names no clinic run outside any clinic.
 */
export function inClinicOfInput<T extends Record<string, Activity>>(activities: T): T {
  const wrapped: Record<string, Activity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = ((...args: never[]) => {
      const clinicId = (args[0] as { clinicId?: unknown } | undefined)?.clinicId;
      if (typeof clinicId === 'string' && UUID.test(clinicId)) return runInClinic(clinicId, () => fn(...args));
      return runInClinic(null, () => fn(...args));
    }) as Activity;
  }
  return wrapped as T;
}
