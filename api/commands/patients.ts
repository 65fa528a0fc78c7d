import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import { permittedFieldsOf } from '@casl/ability/extra';
import type { Context } from 'koa';
import type { EntityManager } from 'typeorm';
import { Patient } from '../../entities';
import { blindToken, SearchQuery, tokensForPatient } from '../../shared/crypto/blind-index';
import { decryptPatient, encryptPatient, PatientPhi, phiKeysFor } from '../../shared/crypto/patient-phi';
import { ClinicScope } from '../../shared/db/clinic-scope';
import { Actor, AppAbility, canReadClinicalNotes, PATIENT_CLINICAL_FIELDS, PATIENT_DEMOGRAPHIC_FIELDS, redactPatient } from '../../shared/permissions';
import { decodeCursor, page } from '../http/pagination';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';
import { activeGrant } from './break-glass';

type Ctx = Context & { state: ApiState };
type PatientInput = Partial<PatientPhi & Pick<Patient, 'sex'>>;

const audit = (deps: ApiDeps, ctx: Ctx, actor: Actor, action: string, id: string | null) =>
  recordAudit(deps, ctx, { action, resourceType: 'Patient', resourceId: id, clinicId: actor.clinicId, actorUserId: actor.userId });

const asSubject = (p: Pick<Patient, 'id' | 'clinicId' | 'userId'>) => subject('Patient', { id: p.id, clinicId: p.clinicId, userId: p.userId });

/** Rules without a field list cover the whole record. */
const ALL_PATIENT_FIELDS: string[] = [...PATIENT_DEMOGRAPHIC_FIELDS, ...PATIENT_CLINICAL_FIELDS];

/**
 * The body reduced to the fields the caller may set (CASL permittedFieldsOf). A field outside them
 * is refused (403 naming it), not silently dropped: a clinical note the caller believes saved must
 * not vanish. Identity columns (clinicId, mrn, userId) are not in the route schemas at all (400).
 */
function writableInput<T extends PatientInput>(ability: AppAbility, action: 'create' | 'update', input: T, target: Pick<Patient, 'id' | 'clinicId' | 'userId'>): T {
  const permitted = new Set(permittedFieldsOf(ability, action, asSubject(target), { fieldsFrom: (rule) => rule.fields ?? ALL_PATIENT_FIELDS }));
  const refused = Object.keys(input).filter((field) => input[field as keyof T] !== undefined && !permitted.has(field));
  if (refused.includes('clinicalNotes')) throw problems.forbidden('You may not write clinical notes');
  if (refused.length) throw problems.forbidden(`You may not set ${refused.join(', ')}`);
  return Object.fromEntries(Object.entries(input).filter(([field]) => permitted.has(field))) as T;
}

const keys = (deps: ApiDeps) => phiKeysFor(deps.config);
const open = (deps: ApiDeps, row: Patient) => decryptPatient(keys(deps).ring, row);

/** The patient's blind-index tokens, replaced whole: they follow the current values only. */
async function writeSearchTokens(deps: ApiDeps, tx: EntityManager, clinicId: string, patientId: string, phi: PatientPhi) {
  const tokens = tokensForPatient(keys(deps).blindIndexKey, clinicId, phi);
  await tx.query(`DELETE FROM patient_search_tokens WHERE patient_id = $1`, [patientId]);
  await tx.query(
    `INSERT INTO patient_search_tokens (clinic_id, patient_id, kind, token) SELECT $1, $2, kind, token FROM unnest($3::text[], $4::bytea[]) AS t(kind, token)`,
    [clinicId, patientId, tokens.map((t) => t.kind), tokens.map((t) => t.token)],
  );
}

export async function createPatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, input: PatientInput & Required<Pick<PatientInput, 'firstName' | 'lastName' | 'dateOfBirth' | 'sex'>>) {
  const clinicId = actor.clinicId!;
  input = writableInput(ability, 'create', input, { id: '', clinicId, userId: null });
  // The id exists before the insert: it is part of every ciphertext's AAD.
  const id = randomUUID();
  const phi: PatientPhi = {
    firstName: input.firstName, lastName: input.lastName, dateOfBirth: input.dateOfBirth,
    phone: input.phone ?? null, email: input.email ?? null, address: input.address ?? null, clinicalNotes: input.clinicalNotes ?? null,
  };
  const patient = await deps.dataSource.transaction(async (tx) => {
    const [[{ mrn_seq: seq }]] = await tx.query(`UPDATE clinics SET mrn_seq = mrn_seq + 1 WHERE id = $1 RETURNING mrn_seq`, [clinicId]);
    const repo = tx.getRepository(Patient);
    const row = repo.create({
      id, clinicId, mrn: `MRN${String(seq).padStart(7, '0')}`, sex: input.sex, preferences: {}, userId: null, ...encryptPatient(keys(deps).ring, id, phi),
    });
    await repo.insert(row);
    await writeSearchTokens(deps, tx, clinicId, id, phi);
    return row;
  });
  await audit(deps, ctx, actor, 'patient.create', patient.id);
  return redactPatient(ability, open(deps, patient));
}

/** Whether the actor reads every patient of the clinic or only records linked to them (PATIENT). */
const readsAllPatients = (ability: AppAbility, clinicId: string) => ability.can('read', subject('Patient', { id: '', clinicId, userId: null }));

async function loadReadable(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, loaded?: Patient | null): Promise<Patient> {
  const patient = loaded !== undefined ? loaded : await new ClinicScope(deps.dataSource, actor.clinicId!).findOne(Patient, { id });
  // Not yours and not found look the same: no existence oracle.
  if (!patient || !ability.can('read', asSubject(patient))) throw problems.notFound('Patient');
  return patient;
}

export async function getPatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, id: string) {
  const row = await new ClinicScope(deps.dataSource, actor.clinicId!).findOne(Patient, { id });
  // Break-glass: a live grant of the actor opens the whole record; only roles that could hold one
  // and do not already read everything pay for the lookup.
  if (row && !canReadClinicalNotes(ability, row) && ability.can('breakGlass', asSubject(row)) && (await activeGrant(deps, actor, id))) {
    await audit(deps, ctx, actor, 'patient.read.break_glass', id);
    return open(deps, row);
  }
  const patient = await loadReadable(deps, actor, ability, id, row);
  await audit(deps, ctx, actor, canReadClinicalNotes(ability, patient) ? 'patient.read.clinical' : 'patient.read', id);
  return redactPatient(ability, open(deps, patient));
}

/**
 * Lists a clinic's patients, or finds them by exact match: MRN in clear, everything else through
 * the (clinic_id, token) blind index, so a search is an index lookup at any table size.
 */
export async function listPatients(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, query: { q?: SearchQuery; limit: number; cursor?: string }) {
  const clinicId = actor.clinicId!;
  const cursor = decodeCursor(query.cursor);
  const qb = deps.dataSource.getRepository(Patient).createQueryBuilder('p').where('p.clinicId = :clinicId', { clinicId });
  if (!readsAllPatients(ability, clinicId)) qb.andWhere('p.userId = :userId', { userId: actor.userId });
  const q = query.q;
  if (q?.kind === 'mrn') qb.andWhere('p.mrn = :mrn', { mrn: q.mrn });
  else if (q) {
    const token = blindToken(keys(deps).blindIndexKey, clinicId, q.kind, q.value);
    qb.andWhere('p.id IN (SELECT t.patient_id FROM patient_search_tokens t WHERE t.clinic_id = :clinicId AND t.token = :token)', { token });
  }
  // MRNs are unique per clinic and zero-padded, so they order the list and key the cursor exactly.
  if (cursor) qb.andWhere('p.mrn > :k', { k: cursor.k });
  const rows = await qb.orderBy('p.mrn', 'ASC').take(query.limit + 1).getMany();
  const result = page(rows, query.limit, (p) => ({ k: p.mrn, id: p.id }));
  await audit(deps, ctx, actor, q ? 'patient.search' : 'patient.list', null);
  return { items: result.items.map((p) => redactPatient(ability, open(deps, p))), nextCursor: result.nextCursor };
}

export async function updatePatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, id: string, input: PatientInput) {
  const clinicId = actor.clinicId!;
  const current = await loadReadable(deps, actor, ability, id);
  if (!ability.can('update', asSubject(current))) throw problems.forbidden();
  input = writableInput(ability, 'update', input, current);
  const updated = await deps.dataSource.transaction(async (tx) => {
    const repo = tx.getRepository(Patient);
    // Locked so a concurrent update or key rotation cannot write back stale values; NO KEY keeps
    // appointment inserts (foreign keys take KEY SHARE) flowing.
    const row = await repo.createQueryBuilder('p').setLock('for_no_key_update')
      .where('p.id = :id AND p.clinicId = :clinicId', { id, clinicId }).getOne();
    if (!row) throw problems.notFound('Patient');
    const { sex, ...changes } = input;
    const phi: PatientPhi = { ...pickPhi(open(deps, row)), ...changes };
    // Every field is re-sealed under the current key, so the row never mixes keys.
    await repo.update({ id, clinicId }, { ...encryptPatient(keys(deps).ring, id, phi), ...(sex ? { sex } : {}) });
    await writeSearchTokens(deps, tx, clinicId, id, phi);
    return repo.findOneByOrFail({ id, clinicId });
  });
  await audit(deps, ctx, actor, 'patient.update', id);
  return redactPatient(ability, open(deps, updated));
}

const pickPhi = (p: PatientPhi): PatientPhi => ({
  firstName: p.firstName, lastName: p.lastName, dateOfBirth: p.dateOfBirth, phone: p.phone, email: p.email, address: p.address, clinicalNotes: p.clinicalNotes,
});
