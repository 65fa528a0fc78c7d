import { subject } from '@casl/ability';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { loadAbility } from '../../shared/actor';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { EncryptionCodec } from '../../shared/temporal/data-converter';
import { authenticate } from '../http/authenticate';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { validate } from '../http/validate';
import { recordAudit } from '../commands/audit';

/**
 * Remote payload codec for the Temporal Web UI (`temporal server start-dev --ui-codec-endpoint
 * <api>/codec`, or the UI's codec server setting): POST /codec/decode and /codec/encode take and
 * return `{payloads: [{metadata: {k: base64}, data: base64}]}` (proto3 JSON).
 *
 * Decoding shows workflow payloads in clear, so it answers only to staff who may read patient
 * data in at least one clinic (or SUPER_ADMIN), authenticated by the API's bearer token, and every
 * call is audited. Temporal UI access is namespace-wide, not per clinic: payloads carry ids only
 * by design, and this endpoint is the gate for what little more they may hold.
 */
const b64 = z.string().max(4_000_000).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const codecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string().max(256), b64).optional(), data: b64.optional() })).max(1000),
}).strict();

async function mayReadPatientData(deps: ApiDeps, userId: string): Promise<boolean> {
  const memberships: { clinic_id: string | null }[] = await deps.dataSource.query(`SELECT DISTINCT clinic_id FROM user_memberships($1) WHERE status = 'ACTIVE'`, [userId]);
  for (const { clinic_id: clinicId } of memberships) {
    const { ability } = await loadAbility(deps.dataSource, userId, clinicId);
    // A patient record of that clinic not linked to the caller: "reads patients", not "reads own record".
    if (ability.can('read', subject('Patient', { id: '', clinicId: clinicId ?? '', userId: null }))) return true;
  }
  return false;
}

export function mountCodecRoutes(router: Router<ApiState>, deps: ApiDeps): void {
  const codec = new EncryptionCodec(phiKeysFor(deps.config).ring);
  // CORS (the Web UI's origin only, preflight included) is answered by api/http/cors.ts.

  const handle = (op: 'encode' | 'decode'): Middleware<ApiState> => async (ctx) => {
    const auth = await authenticate(deps, ctx);
    const namespace = ctx.get('x-namespace');
    if (namespace && namespace !== deps.config.TEMPORAL_NAMESPACE) {
      throw problems.validation([{ field: 'header.X-Namespace', message: `this codec serves namespace ${deps.config.TEMPORAL_NAMESPACE}` }]);
    }
    if (!(await mayReadPatientData(deps, auth.userId))) throw problems.forbidden('Decoding workflow payloads needs permission to read patient data');
    const body = validate(codecBody, ctx.request.body ?? {}, 'body');
    const input = body.payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
      data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
    }));
    let output;
    try {
      output = await codec[op](input);
    } catch {
      throw problems.unprocessable('codec-failed', `The payloads could not be ${op}d (unknown key or tampered data)`);
    }
    await recordAudit(deps, ctx, { action: `temporal.payload.${op}`, resourceType: 'TemporalPayload', resourceId: null, clinicId: null, actorUserId: auth.userId });
    ctx.body = {
      payloads: output.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
        data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
      })),
    };
  };

  for (const op of ['encode', 'decode'] as const) {
    router.post(`/codec/${op}`, handle(op));
  }
}
