import type { DataSource } from 'typeorm';
import type { Logger } from '../logger';
import { runInClinic } from '../db/tenant-context';

/** One audit event: ids and action names only, never PHI. */
export interface AuditRecord {
  clinicId: string | null;
  actorUserId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  requestId: string | null;
  ip: string | null;
}

interface Pending {
  record: AuditRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ChainQueue {
  pending: Pending[];
  flushing: boolean;
}

/** Rows per INSERT: bounds the statement's size and the time the chain's lock is held. */
const MAX_BATCH = 200;

/**
 * Appends audit rows, grouping concurrent appends to one chain into one INSERT (group commit).
 *
 * The database chains rows and serialises appends per chain with a lock held until commit
 * (migration 1764230000000), so each append to a busy clinic waits for the previous commit's
 * WAL flush. Sending one append per request would cap a clinic at one flush per audited request;
 * here an append goes out at once when its chain is idle, and the appends that arrive meanwhile go
 * out together in the next statement, each caller still resolved only after its row is committed.
 *
 * After each INSERT the chain head (last id and hash) goes to the log stream as an `audit.head`
 * line: a copy outside the database, so cutting rows off the end of a chain is detectable by
 * comparing the table with the last logged head.
 */
export class AuditAppender {
  private readonly chains = new Map<string, ChainQueue>();

  constructor(private readonly dataSource: DataSource, private readonly log?: Logger) {}

  append(record: AuditRecord): Promise<void> {
    const key = record.clinicId ?? '';
    let chain = this.chains.get(key);
    if (!chain) {
      chain = { pending: [], flushing: false };
      this.chains.set(key, chain);
    }
    const queued = new Promise<void>((resolve, reject) => chain.pending.push({ record, resolve, reject }));
    if (!chain.flushing) void this.flush(key, chain);
    return queued;
  }

  private async flush(key: string, chain: ChainQueue): Promise<void> {
    chain.flushing = true;
    try {
      while (chain.pending.length) {
        const batch = chain.pending.splice(0, MAX_BATCH);
        try {
          const head = await this.insert(key || null, batch.map((p) => p.record));
          this.log?.info({ chain: key || 'platform', headId: head.id, headHash: head.hash, appended: batch.length }, 'audit.head');
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      chain.flushing = false;
      this.chains.delete(key);
    }
  }

  /** The rows in order, in their clinic's context (the table's row-level security policy checks it). */
  private async insert(clinicId: string | null, records: AuditRecord[]): Promise<{ id: string; hash: string }> {
    const col = <K extends keyof AuditRecord>(k: K) => records.map((r) => r[k]);
    const rows: { id: string; hash: string }[] = await runInClinic(clinicId, () => this.dataSource.query(
      `INSERT INTO audit_logs (clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip)
       SELECT clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
            AS u(clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip, n)
       ORDER BY n
       RETURNING id::text AS id, hash`,
      [col('clinicId'), col('actorUserId'), col('action'), col('resourceType'), col('resourceId'), col('requestId'), col('ip')],
    ));
    // Ids are taken in chain order under the chain's lock: the largest is the head.
    return rows.reduce((a, b) => (BigInt(b.id) > BigInt(a.id) ? b : a));
  }
}

const appenders = new WeakMap<DataSource, AuditAppender>();

/** One appender per DataSource (per process and pool), so concurrent requests share batches. */
export function auditAppender(dataSource: DataSource, log?: Logger): AuditAppender {
  let appender = appenders.get(dataSource);
  if (!appender) {
    appender = new AuditAppender(dataSource, log);
    appenders.set(dataSource, appender);
  }
  return appender;
}
