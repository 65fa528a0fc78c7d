import { createHash } from 'node:crypto';
import type { AuditRecord } from './appender';

/**
 * The audit log's hash chain (SPEC §8), pure logic. PostgreSQL computes each row's hash when the
 * row is sealed (migration 1764230000000, function audit_log_hash); this is the independent
 * implementation the verifier uses, so a bug in one is caught by the other.
 *
 * One chain per clinic, and one for events outside any clinic (auth events): verification is per
 * clinic (a clinic's auditors check their own chain, and a clinic's rows never depend on
 * another's), and appends to different clinics never wait for each other.
 */
export interface ChainedFields extends AuditRecord {
  /** UTC, microseconds: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (what PostgreSQL stores, exactly). */
  occurredAt: string;
  prevHash: string | null;
}

export interface ChainRow extends ChainedFields {
  id: string;
  hash: string | null;
}

/**
 * Canonical serialization, version-tagged: each field is `~` when NULL, else `<UTF-8 byte
 * length>:<value>`, joined by `|` in a fixed order. Length prefixes make it unambiguous whatever
 * the values contain, and the row id is left out so the chain does not depend on sequence values.
 */
export function canonicalize(f: ChainedFields): string {
  const field = (v: string | null) => (v === null ? '~' : `${Buffer.byteLength(v, 'utf8')}:${v}`);
  return ['v1', f.clinicId, f.actorUserId, f.action, f.resourceType, f.resourceId, f.requestId, f.ip, f.occurredAt, f.prevHash]
    .map((v, i) => (i === 0 ? v : field(v)))
    .join('|');
}

export function chainHash(f: ChainedFields): string {
  return createHash('sha256').update(canonicalize(f), 'utf8').digest('hex');
}

export type BreakReason = 'hash-mismatch' | 'prev-hash-mismatch';

export interface ChainState {
  checked: number;
  /** Hash of the last row checked: the next row's expected prev_hash (null before the first row). */
  lastHash: string | null;
  lastId: string | null;
  broken: { id: string; reason: BreakReason } | null;
}

export const emptyChain = (): ChainState => ({ checked: 0, lastHash: null, lastId: null, broken: null });

/**
 * Checks the next rows of one chain, in id order, continuing from `state` (so a long chain is
 * verified in pages). A row whose hash does not match its own fields was altered; a row whose
 * prev_hash is not the previous row's hash follows a deleted (or inserted, or reordered) row.
 * Stops at the first break.
 */
export function verifyRows(state: ChainState, rows: ChainRow[]): ChainState {
  let s = state;
  for (const row of rows) {
    if (s.broken) return s;
    if (row.prevHash !== s.lastHash) {
      s = { ...s, broken: { id: row.id, reason: 'prev-hash-mismatch' } };
    } else if (row.hash !== chainHash(row)) {
      s = { ...s, broken: { id: row.id, reason: 'hash-mismatch' } };
    } else {
      s = { checked: s.checked + 1, lastHash: row.hash, lastId: row.id, broken: null };
    }
  }
  return s;
}
