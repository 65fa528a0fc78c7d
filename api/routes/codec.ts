import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { EncryptionCodec } from '../../shared/temporal/data-converter';
import { authenticate, enterClinic, requestedClinic } from '../http/authenticate';
import { authenticateCodecCaller, endCodecSession, startCodecSession } from '../http/codec-session';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { validate } from '../http/validate';
import { recordAudit } from '../commands/audit';
import { CodecReader, decodeForCaller, encodeForCaller } from '../commands/codec';
import { mountCodecSignIn } from './codec-sign-in';

/**
 * Remote payload codec for the Temporal Web UI (`temporal server start-dev --ui-codec-endpoint
 * <api>/codec`, or the UI's codec server setting) and the CLI (`--codec-endpoint`): POST
 * /codec/decode and /codec/encode take and return `{payloads: [{metadata: {k: base64}, data: base64}]}`
 * (proto3 JSON; `{}` is an empty list, as the CLI sends for a query without arguments).
 *
 * Payloads are sealed per clinic (shared/temporal/data-converter.ts), so decoding is decided per
 * payload: a clinic's payloads open for those who may read patients there, platform payloads for
 * platform roles; the rest come back unchanged, still sealed (api/commands/codec.ts). A caller who
 * may read nothing at all (no patient access anywhere, no platform role) gets 403. Every call is
 * audited in the chains of the clinics concerned.
 *
 * The caller is a bearer token (CLI) or the codec session cookie (Web UI, api/http/codec-session.ts):
 * POST /codec/session turns a staff member's access token into the cookie (the /codec/sign-in
 * page does it), GET /codec/session answers 204 while it is good (an authenticating proxy's
 * check, docker-compose.yml), DELETE /codec/session ends it.
 */
const b64 = z.string().max(4_000_000).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const codecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string().max(256), b64).optional(), data: b64.optional() })).max(1000).default([]),
}).strict();

type WirePayloads = z.infer<typeof codecBody>['payloads'];
const fromWire = (payloads: WirePayloads) => payloads.map((p) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
}));
const toWire = (payloads: { metadata?: Record<string, Uint8Array | null> | null; data?: Uint8Array | null }[]) => payloads.map((p) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
}));

export function mountCodecRoutes(router: Router<ApiState>, deps: ApiDeps): void {
  const codec = new EncryptionCodec(phiKeysFor(deps.config).ring);
  // CORS (the Web UI's origin only, preflight included) is answered by api/http/cors.ts.

  const handle = (op: 'encode' | 'decode'): Middleware<ApiState> => async (ctx) => {
    const auth = await authenticateCodecCaller(deps, ctx);
    const namespace = ctx.get('x-namespace');
    if (namespace && namespace !== deps.config.TEMPORAL_NAMESPACE) {
      throw problems.validation([{ field: 'header.X-Namespace', message: `this codec serves namespace ${deps.config.TEMPORAL_NAMESPACE}` }]);
    }
    const reader = new CodecReader(deps, auth.userId);
    if (!(await reader.mayUseCodec())) throw problems.forbidden('Decoding workflow payloads needs permission to read patient data');
    const payloads = fromWire(validate(codecBody, ctx.request.body ?? {}, 'body').payloads);
    if (op === 'decode') {
      ctx.body = { payloads: toWire(await decodeForCaller(deps, ctx, codec, reader, payloads)) };
      return;
    }
    const wanted = requestedClinic(deps, ctx, auth);
    const requestClinic = wanted ? (await enterClinic(deps, auth, wanted)).actor.clinicId : null;
    ctx.body = { payloads: toWire(await encodeForCaller(deps, ctx, codec, reader, payloads, requestClinic)) };
  };

  for (const op of ['encode', 'decode'] as const) {
    router.post(`/codec/${op}`, handle(op));
  }

  router.post('/codec/session', async (ctx) => {
    const auth = await authenticate(deps, ctx);
    if (!(await new CodecReader(deps, auth.userId).mayUseCodec())) throw problems.forbidden('Decoding workflow payloads needs permission to read patient data');
    ctx.body = startCodecSession(deps, ctx, auth);
    await recordAudit(deps, ctx, { action: 'auth.codec_session', resourceType: 'Session', resourceId: auth.sessionId, clinicId: null, actorUserId: auth.userId });
  });
  router.get('/codec/session', async (ctx) => {
    const auth = await authenticateCodecCaller(deps, ctx);
    if (!(await new CodecReader(deps, auth.userId).mayUseCodec())) throw problems.forbidden('Decoding workflow payloads needs permission to read patient data');
    ctx.status = 204;
  });
  router.delete('/codec/session', (ctx) => {
    endCodecSession(ctx);
    ctx.body = { ended: true };
  });
  mountCodecSignIn(router, deps);
}
