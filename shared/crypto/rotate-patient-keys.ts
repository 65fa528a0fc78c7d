import type { DataSource, EntityManager } from 'typeorm';
import type { Keyring } from './keyring';
import { decryptPatient, encryptPatient, PHI_COLUMNS, PHI_FIELDS, SealedPhi } from './patient-phi';

/**
 * Re-encrypts patient PHI still under an older key (SPEC §8 rotation): append a key to
 * PHI_ENCRYPTION_KEYS, deploy, run this, then drop the old key once nothing is left under it.
 *
 * Clinic by clinic, batches walk (clinic_id, id) (keyset, never OFFSET); each is one short
 * transaction that names its clinic for the row-level security policies (`app.clinic_id`, local
 * to the transaction, so it works under the restricted app role as well as the owner) and locks
 * its rows FOR NO KEY UPDATE, so a concurrent PATCH waits instead of being overwritten while
 * appointment inserts (KEY SHARE through foreign keys) are not blocked. Progress is the data
 * itself: an interrupted run loses at most its open batch, and the next run simply picks up the
 * rows still under an old key. Blind-index tokens do not change (BLIND_INDEX_KEY is not rotated here).
 */
export interface RotationOptions {
  batchSize?: number;
  /** Only this clinic's patients (staged rollouts; tests sharing a database). */
  clinicId?: string;
  /** Stops after the batch in flight. */
  signal?: AbortSignal;
  onProgress?: (processed: number, total: number) => void;
}

export interface RotationResult {
  processed: number;
  /** Rows still under another key when the run ended (0 unless interrupted or rows were added under old keys meanwhile). */
  remaining: number;
  interrupted: boolean;
}

const COLUMNS = PHI_FIELDS.map((f) => PHI_COLUMNS[f]);
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** One transaction acting in one clinic. */
function inClinic<T>(ds: DataSource, clinicId: string, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  return ds.transaction(async (tx) => {
    await tx.query(`SELECT set_config('app.clinic_id', $1, true)`, [clinicId]);
    return fn(tx);
  });
}

const countStale = (ds: DataSource, currentKeyId: string, clinicId: string): Promise<number> =>
  inClinic(ds, clinicId, async (tx) =>
    (await tx.query(`SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1 AND phi_key_id <> $2`, [clinicId, currentKeyId]))[0].n);

async function rotateBatch(tx: EntityManager, ring: Keyring, clinicId: string, after: string, batchSize: number): Promise<{ last: string; count: number } | null> {
  const rows: Record<string, string | null>[] = await tx.query(
    `SELECT id, phi_key_id, ${COLUMNS.join(', ')} FROM patients
     WHERE clinic_id = $1 AND id > $2 AND phi_key_id <> $3
     ORDER BY id LIMIT $4 FOR NO KEY UPDATE`,
    [clinicId, after, ring.currentId, batchSize],
  );
  if (!rows.length) return null;
  const resealed = rows.map((r) => {
    const stored = { id: r.id!, phiKeyId: r.phi_key_id! } as { id: string } & SealedPhi;
    for (const f of PHI_FIELDS) (stored as Record<string, string | null>)[f] = r[PHI_COLUMNS[f]];
    let open;
    try {
      open = decryptPatient(ring, stored);
    } catch (err) {
      // Ids and key ids only: the message must not carry PHI.
      throw new Error(`patient ${r.id} (key ${r.phi_key_id}) cannot be decrypted: ${(err as Error).message}`);
    }
    return { id: r.id!, ...encryptPatient(ring, r.id!, open) };
  });
  await tx.query(
    `UPDATE patients p SET ${COLUMNS.map((c) => `${c} = u.${c}`).join(', ')}, phi_key_id = $${COLUMNS.length + 2}
     FROM unnest($1::uuid[], ${COLUMNS.map((_, i) => `$${i + 2}::text[]`).join(', ')}) AS u(id, ${COLUMNS.join(', ')})
     WHERE p.id = u.id AND p.clinic_id = $${COLUMNS.length + 3}`,
    [resealed.map((r) => r.id), ...PHI_FIELDS.map((f) => resealed.map((r) => r[f])), ring.currentId, clinicId],
  );
  return { last: rows[rows.length - 1].id!, count: rows.length };
}

export async function rotatePatientKeys(ds: DataSource, ring: Keyring, opts: RotationOptions = {}): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 500;
  // clinics is not clinic-scoped: readable without a tenant.
  const clinics: string[] = opts.clinicId ? [opts.clinicId] : (await ds.query(`SELECT id FROM clinics ORDER BY id`)).map((r: { id: string }) => r.id);
  const stale = new Map<string, number>();
  for (const c of clinics) stale.set(c, await countStale(ds, ring.currentId, c));
  const total = [...stale.values()].reduce((a, b) => a + b, 0);
  let processed = 0;
  opts.onProgress?.(0, total);
  for (const clinicId of clinics) {
    if (!stale.get(clinicId)) continue;
    let after = NIL_UUID;
    while (!opts.signal?.aborted) {
      const batch = await inClinic(ds, clinicId, (tx) => rotateBatch(tx, ring, clinicId, after, batchSize));
      if (!batch) break;
      processed += batch.count;
      after = batch.last;
      // Rows written under an old key by a process not yet given the new key can push past the first count.
      opts.onProgress?.(processed, Math.max(total, processed));
    }
    if (opts.signal?.aborted) break;
  }
  let remaining = 0;
  for (const c of clinics) remaining += await countStale(ds, ring.currentId, c);
  return { processed, remaining, interrupted: !!opts.signal?.aborted && remaining > 0 };
}
