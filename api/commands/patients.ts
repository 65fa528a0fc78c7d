import { subject } from '@casl/ability';
import type { Context } from 'koa';
import { Patient } from '../../entities';
import { ClinicScope } from '../../shared/db/clinic-scope';
import { Actor, AppAbility, canReadClinicalNotes, redactPatient } from '../../shared/permissions';
import { decodeCursor, page } from '../http/pagination';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';

type Ctx = Context & { state: ApiState };
type PatientInput = Partial<Pick<Patient, 'firstName' | 'lastName' | 'dateOfBirth' | 'sex' | 'phone' | 'email' | 'address' | 'clinicalNotes'>>;

const audit = (deps: ApiDeps, ctx: Ctx, actor: Actor, action: string, id: string | null) =>
  recordAudit(deps, ctx, { action, resourceType: 'Patient', resourceId: id, clinicId: actor.clinicId, actorUserId: actor.userId });

const asSubject = (p: Pick<Patient, 'id' | 'clinicId' | 'userId'>) => subject('Patient', { id: p.id, clinicId: p.clinicId, userId: p.userId });

/** A write of clinical notes by a role that may not read them is refused, not silently dropped. */
function assertNotesWritable(ability: AppAbility, input: PatientInput, target: Pick<Patient, 'id' | 'clinicId' | 'userId'>) {
  if (input.clinicalNotes !== undefined && !ability.can('update', asSubject(target), 'clinicalNotes')) {
    throw problems.forbidden('You may not write clinical notes');
  }
}

export async function createPatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, input: PatientInput & Required<Pick<Patient, 'firstName' | 'lastName' | 'dateOfBirth' | 'sex'>>) {
  const clinicId = actor.clinicId!;
  assertNotesWritable(ability, input, { id: '', clinicId, userId: null });
  const patient = await deps.dataSource.transaction(async (tx) => {
    const [[{ mrn_seq: seq }]] = await tx.query(`UPDATE clinics SET mrn_seq = mrn_seq + 1 WHERE id = $1 RETURNING mrn_seq`, [clinicId]);
    return new ClinicScope(tx, clinicId).insert(Patient, {
      ...input, mrn: `MRN${String(seq).padStart(7, '0')}`,
      phone: input.phone ?? null, email: input.email ?? null, address: input.address ?? null, clinicalNotes: input.clinicalNotes ?? null,
    });
  });
  await audit(deps, ctx, actor, 'patient.create', patient.id);
  return redactPatient(ability, patient);
}

/** Whether the actor reads every patient of the clinic or only records linked to them (PATIENT). */
const readsAllPatients = (ability: AppAbility, clinicId: string) => ability.can('read', subject('Patient', { id: '', clinicId, userId: null }));

async function loadReadable(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string): Promise<Patient> {
  const patient = await new ClinicScope(deps.dataSource, actor.clinicId!).findOne(Patient, { id });
  // Not yours and not found look the same: no existence oracle.
  if (!patient || !ability.can('read', asSubject(patient))) throw problems.notFound('Patient');
  return patient;
}

export async function getPatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, id: string) {
  const patient = await loadReadable(deps, actor, ability, id);
  await audit(deps, ctx, actor, canReadClinicalNotes(ability, patient) ? 'patient.read.clinical' : 'patient.read', id);
  return redactPatient(ability, patient);
}

export async function listPatients(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, query: { q?: string; limit: number; cursor?: string }) {
  const clinicId = actor.clinicId!;
  const cursor = decodeCursor(query.cursor);
  const qb = deps.dataSource.getRepository(Patient).createQueryBuilder('p').where('p.clinicId = :clinicId', { clinicId });
  if (!readsAllPatients(ability, clinicId)) qb.andWhere('p.userId = :userId', { userId: actor.userId });
  if (query.q) qb.andWhere('p.mrn = :mrn', { mrn: query.q.toUpperCase() });
  // MRNs are unique per clinic and zero-padded, so they order the list and key the cursor exactly.
  if (cursor) qb.andWhere('p.mrn > :k', { k: cursor.k });
  const rows = await qb.orderBy('p.mrn', 'ASC').take(query.limit + 1).getMany();
  const result = page(rows, query.limit, (p) => ({ k: p.mrn, id: p.id }));
  await audit(deps, ctx, actor, 'patient.list', null);
  return { items: result.items.map((p) => redactPatient(ability, p)), nextCursor: result.nextCursor };
}

export async function updatePatient(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, id: string, input: PatientInput) {
  const current = await loadReadable(deps, actor, ability, id);
  if (!ability.can('update', asSubject(current))) throw problems.forbidden();
  assertNotesWritable(ability, input, current);
  const updated = await new ClinicScope(deps.dataSource, actor.clinicId!).update<Patient>(Patient, { id }, input);
  await audit(deps, ctx, actor, 'patient.update', id);
  return redactPatient(ability, updated!);
}
