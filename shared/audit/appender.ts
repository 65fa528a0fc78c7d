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

export interface SealResult {
  sealed: number;
  head: { id: string; seq: string; hash: string } | null;
}

/** Rows one audit_seal call chains at most; a longer backlog takes several calls. */
const SEAL_BATCH = 1000;

/** Seals one chain (a clinic id, or null for the platform chain) in its own tenant context. */
export async function sealChain(dataSource: DataSource, clinicId: string | null, limit = SEAL_BATCH): Promise<SealResult> {
  const [row]: { sealed: number; head_id: string | null; head_seq: string | null; head_hash: string | null }[] = await runInClinic(clinicId, () =>
    dataSource.query('SELECT sealed, head_id::text AS head_id, head_seq::text AS head_seq, head_hash FROM audit_seal($1::uuid, $2)', [clinicId, limit]));
  return {
    sealed: row.sealed,
    head: row.head_id && row.head_seq && row.head_hash ? { id: row.head_id, seq: row.head_seq, hash: row.head_hash } : null,
  };
}

interface ChainState {
  running: Promise<void>;
  /** Appends landed while sealing ran: seal once more when it ends. */
  again: boolean;
}

/**
 * Appends audit rows and keeps their chains sealed (migration 1764230000000).
 *
 * An append is one INSERT with no lock, resolved once committed: a busy clinic's requests never
 * wait for each other. Sealing — giving the new rows their place and hash in the clinic's chain —
 * follows off the request path: one audit_seal call per chain at a time from this process, which
 * chains every row committed by then (from any process); appends that land meanwhile are sealed
 * by one more call when it ends. A row whose process dies before sealing it is sealed by the
 * chain's next append or verification, from any process.
 *
 * After each seal the chain head (id, position, hash) goes to the log stream as an `audit.head`
 * line: a copy outside the database, so cutting rows off the end of a chain is detectable by
 * comparing the table with the last logged head.
 */
export class AuditAppender {
  private readonly sealing = new Map<string, ChainState>();

  constructor(private readonly dataSource: DataSource, private readonly log?: Logger) {}

  async append(r: AuditRecord): Promise<void> {
    await runInClinic(r.clinicId, () => this.dataSource.query(
      `INSERT INTO audit_logs (clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [r.clinicId, r.actorUserId, r.action, r.resourceType, r.resourceId, r.requestId, r.ip],
    ));
    this.seal(r.clinicId);
  }

  /** Resolves when no sealing started by this appender is under way (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.sealing.size) await Promise.all([...this.sealing.values()].map((s) => s.running));
  }

  private seal(clinicId: string | null): void {
    const key = clinicId ?? '';
    const current = this.sealing.get(key);
    if (current) {
      current.again = true;
      return;
    }
    const state: ChainState = { running: Promise.resolve(), again: false };
    this.sealing.set(key, state);
    state.running = this.sealUntilDone(key, clinicId, state);
  }

  private async sealUntilDone(key: string, clinicId: string | null, state: ChainState): Promise<void> {
    try {
      for (;;) {
        state.again = false;
        const result = await sealChain(this.dataSource, clinicId);
        if (result.sealed && result.head) {
          this.log?.info({ chain: clinicId ?? 'platform', headId: result.head.id, headSeq: result.head.seq, headHash: result.head.hash, sealed: result.sealed }, 'audit.head');
        }
        if (!state.again && result.sealed < SEAL_BATCH) break;
      }
    } catch (err) {
      // The rows are committed; the chain's next append or verification seals them.
      this.log?.warn({ chain: clinicId ?? 'platform', err: (err as Error).message }, 'audit sealing failed');
    } finally {
      this.sealing.delete(key);
    }
  }
}

const appenders = new WeakMap<DataSource, AuditAppender>();

/** One appender per DataSource (per process and pool), so concurrent requests share sealing. */
export function auditAppender(dataSource: DataSource, log?: Logger): AuditAppender {
  let appender = appenders.get(dataSource);
  if (!appender) {
    appender = new AuditAppender(dataSource, log);
    appenders.set(dataSource, appender);
  }
  return appender;
}
