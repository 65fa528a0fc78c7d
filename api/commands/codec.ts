import { subject } from '@casl/ability';
import type { Payload } from '@temporalio/common';
import type { Context } from 'koa';
import { loadAbility } from '../../shared/actor';
import { isPlatformRole } from '../../shared/permissions/roles';
import { clinicOfValue, EncryptionCodec, isEncrypted, openPayload, scopeOfSealed, sealPayload } from '../../shared/temporal/data-converter';
import type { PayloadScope } from '../../shared/temporal/payload-keys';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit, recordDenial } from './audit';

type Ctx = Context & { state: ApiState };

/**
 * What one caller may read through /codec, decided per payload scope and remembered for the
 * request: a clinic's payloads for those who may read patients there (CASL, the same rule as the
 * API), platform payloads for platform roles, legacy (pre-scoping, any clinic's) payloads for
 * those who may read every clinic's patients (SUPER_ADMIN).
 */
export class CodecReader {
  private readonly clinics = new Map<string, Promise<boolean>>();
  private platform?: Promise<{ platformRole: boolean; everyClinic: boolean }>;

  constructor(private readonly deps: ApiDeps, readonly userId: string) {}

  mayReadClinic(clinicId: string): Promise<boolean> {
    let verdict = this.clinics.get(clinicId);
    if (!verdict) {
      verdict = loadAbility(this.deps.dataSource, this.userId, clinicId)
        // A patient record of that clinic not linked to the caller: "reads patients", not "reads own record".
        .then(({ ability }) => ability.can('read', subject('Patient', { id: '', clinicId, userId: null })));
      this.clinics.set(clinicId, verdict);
    }
    return verdict;
  }

  private platformRights() {
    this.platform ??= loadAbility(this.deps.dataSource, this.userId, null).then(({ actor, ability }) => ({
      platformRole: actor.roles.some(isPlatformRole),
      everyClinic: ability.can('read', subject('Patient', { id: '', clinicId: '00000000-0000-4000-8000-000000000000', userId: null })),
    }));
    return this.platform;
  }

  async may(scope: PayloadScope): Promise<boolean> {
    if (scope.kind === 'clinic') return this.mayReadClinic(scope.clinicId);
    const rights = await this.platformRights();
    return scope.kind === 'platform' ? rights.platformRole : rights.everyClinic;
  }

  /** Whether any payload could ever be decoded for this caller: patient reader somewhere, or a platform role. */
  async mayUseCodec(): Promise<boolean> {
    if ((await this.platformRights()).platformRole) return true;
    const rows: { clinic_id: string }[] = await this.deps.dataSource.query(
      `SELECT DISTINCT clinic_id FROM user_memberships($1) WHERE clinic_id IS NOT NULL AND status = 'ACTIVE'`, [this.userId]);
    for (const { clinic_id: clinicId } of rows) if (await this.mayReadClinic(clinicId)) return true;
    return false;
  }
}

const chainOf = (scope: PayloadScope) => (scope.kind === 'clinic' ? scope.clinicId : null);

/**
 * Decodes the payloads the caller may read and leaves the others exactly as sent (still sealed):
 * the Web UI then shows those as encrypted while the rest of the page decodes, where a refusal of
 * the whole batch would blank it. Each clinic whose payloads were opened gets a
 * `temporal.payload.decode` row in its audit chain; each whose payloads were withheld, a
 * `permission.denied` row (its auditors see who asked).
 */
export async function decodeForCaller(deps: ApiDeps, ctx: Ctx, codec: EncryptionCodec, reader: CodecReader, payloads: Payload[]): Promise<Payload[]> {
  const opened = new Map<string, PayloadScope>();
  const withheld = new Map<string, PayloadScope>();
  const out: Payload[] = [];
  for (const payload of payloads) {
    if (!isEncrypted(payload)) {
      out.push(payload);
      continue;
    }
    const scope = scopeOfSealed(payload);
    if (!scope) throw problems.unprocessable('codec-failed', 'The payloads could not be decoded (unknown key id)');
    const key = chainOf(scope) ?? scope.kind;
    if (!(await reader.may(scope))) {
      withheld.set(key, scope);
      out.push(payload);
      continue;
    }
    try {
      out.push(openPayload(codec.keys, payload));
    } catch {
      throw problems.unprocessable('codec-failed', 'The payloads could not be decoded (unknown key or tampered data)');
    }
    opened.set(key, scope);
  }
  for (const scope of opened.values()) {
    await recordAudit(deps, ctx, { action: 'temporal.payload.decode', resourceType: 'TemporalPayload', resourceId: null, clinicId: chainOf(scope), actorUserId: reader.userId });
  }
  for (const scope of withheld.values()) {
    await recordDenial(deps, ctx, { actorUserId: reader.userId, clinicId: chainOf(scope), resourceType: 'TemporalPayload', resourceId: null });
  }
  return out;
}

/**
 * Seals payloads a staff tool built (a signal's input typed into the Web UI or the CLI) under the
 * clinic they belong to: the `clinicId` in the value, else the request's clinic (X-Clinic-ID,
 * `clinicId` query, the token's default clinic); platform roles may seal clinic-less payloads for
 * the platform. Refused, whole: what is not a Temporal payload, what is already sealed, what
 * names no clinic, and a clinic where the caller may not read patients.
 */
export async function encodeForCaller(
  deps: ApiDeps, ctx: Ctx, codec: EncryptionCodec, reader: CodecReader, payloads: Payload[], requestClinic: string | null,
): Promise<Payload[]> {
  const scopes: PayloadScope[] = [];
  for (const [i, payload] of payloads.entries()) {
    const field = `body.payloads.${i}`;
    if (!payload.metadata?.encoding?.length) throw problems.validation([{ field: `${field}.metadata.encoding`, message: 'is required: a Temporal payload names its encoding' }]);
    if (isEncrypted(payload)) throw problems.validation([{ field: `${field}.metadata.encoding`, message: 'is already binary/encrypted' }]);
    const own = clinicOfValue(payload);
    const clinicId = own === undefined ? requestClinic : own;
    if (clinicId) scopes.push({ kind: 'clinic', clinicId });
    else if (await reader.may({ kind: 'platform' })) scopes.push({ kind: 'platform' });
    else {
      throw problems.unprocessable('codec-no-clinic', 'Cannot tell which clinic this payload belongs to: put its clinicId in the value or send X-Clinic-ID',
        [{ field, message: 'names no clinic' }]);
    }
  }
  for (const scope of scopes) {
    if (!(await reader.may(scope))) {
      await recordDenial(deps, ctx, { actorUserId: reader.userId, clinicId: chainOf(scope), resourceType: 'TemporalPayload', resourceId: null });
      throw problems.forbidden('You may not seal payloads for this clinic');
    }
  }
  const sealed = payloads.map((p, i) => sealPayload(codec.keys, p, scopes[i] as Exclude<PayloadScope, { kind: 'legacy' }>));
  for (const chain of new Set(scopes.map(chainOf))) {
    await recordAudit(deps, ctx, { action: 'temporal.payload.encode', resourceType: 'TemporalPayload', resourceId: null, clinicId: chain, actorUserId: reader.userId });
  }
  return sealed;
}
