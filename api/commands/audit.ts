import type { Context } from 'koa';
import type { ApiDeps, ApiState } from '../http/state';

export interface AuditEntry {
  action: string;
  resourceType: string;
  resourceId: string | null;
  clinicId: string | null;
  actorUserId: string | null;
}

/**
 * Appends one audit row. Ids and action names only, never PHI.
 * (The hash chain and its verification arrive with the security issue.)
 */
export async function recordAudit(deps: Pick<ApiDeps, 'dataSource'>, ctx: Context & { state: ApiState }, e: AuditEntry): Promise<void> {
  await deps.dataSource.query(
    `INSERT INTO audit_logs (clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [e.clinicId, e.actorUserId, e.action, e.resourceType, e.resourceId, ctx.state.requestId, ctx.ip],
  );
}
