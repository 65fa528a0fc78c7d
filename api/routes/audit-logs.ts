import { z } from 'zod';
import { listAuditLogs, verifyAuditLog } from '../commands/audit';
import { paginationQuery } from '../http/pagination';
import { route } from '../http/route';
import { isoInstant, listOf } from './schemas';

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const instantMicros = z.string().describe('UTC with microseconds, as hashed: YYYY-MM-DDTHH:MM:SS.ffffffZ');

const auditLogSchema = z.object({
  id: z.string().describe('Row id (bigint as a string); the list is ordered by it'),
  chainSeq: z.string().nullable().describe('Position in the clinic\'s chain (bigint as a string); null for a row appended a moment ago and not sealed yet'),
  clinicId: z.uuid().nullable(),
  actorUserId: z.uuid().nullable(),
  action: z.string().describe('e.g. patient.read, patient.update, auth.login, permission.denied'),
  resourceType: z.string(),
  resourceId: z.string().nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  occurredAt: instantMicros,
  prevHash: hash.nullable().describe('The previous row\'s hash in this clinic\'s chain; null for the first row (and until sealed)'),
  hash: hash.nullable().describe('SHA-256 of the canonical serialization of this row\'s fields and prevHash; null until sealed'),
});

const reportSchema = z.object({
  valid: z.boolean(),
  checked: z.number().int().describe('Rows verified before the first break (all of them when valid)'),
  firstBrokenId: z.string().optional().describe('The first row that does not verify'),
  reason: z.enum(['hash-mismatch', 'prev-hash-mismatch', 'anchor-mismatch']).optional()
    .describe('hash-mismatch: the row was altered; prev-hash-mismatch: a row before it is missing (or the chain was rewritten); '
      + 'anchor-mismatch: a chain head recorded in the append-only anchors is missing or different, so rows were cut off the end (firstBrokenId is that head)'),
  head: z.object({ id: z.string(), seq: z.string(), hash, occurredAt: instantMicros }).nullable()
    .describe('The last sealed row (checked against the anchored heads; the `audit.head` log lines are a further copy outside the database)'),
  unsealed: z.number().int().describe('Rows appended during the verification, chained by the next seal'),
});

const listQuery = z.object({
  from: isoInstant.optional(),
  to: isoInstant.optional(),
  actorUserId: z.uuid().optional(),
  action: z.string().trim().min(1).max(100).optional(),
  resourceType: z.string().trim().min(1).max(100).optional(),
  resourceId: z.string().trim().min(1).max(200).optional(),
  ...paginationQuery,
}).refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { path: ['to'], message: 'must not be before from' });

export const auditLogRoutes = [
  route({
    method: 'get', path: '/api/v1/audit-logs', summary: "The clinic's audit log, newest first", tags: ['audit'],
    access: 'clinic', permission: ['read', 'AuditLog'],
    query: listQuery,
    responses: { 200: { description: 'A page of audit rows (ids and actions only, no patient data)', schema: listOf(auditLogSchema) } },
    handler: async ({ query, deps, ctx, actor }) => ({ body: await listAuditLogs(deps, ctx, actor, query) }),
  }),
  route({
    method: 'get', path: '/api/v1/audit-logs/verify', summary: "Seal and verify the clinic's audit hash chain", tags: ['audit'],
    access: 'clinic', permission: ['read', 'AuditLog'],
    responses: { 200: { description: 'Whether every row matches its hash and follows the previous one', schema: reportSchema } },
    handler: async ({ deps, ctx, actor }) => ({ body: await verifyAuditLog(deps, ctx, actor) }),
  }),
];
