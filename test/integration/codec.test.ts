import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { idFromKey } from '../../api/commands/idempotency';
import { bookingWorkflowId } from '../../workflows/booking-api';
import { SA } from '../../workflows/search-attributes';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * SPEC §8: Temporal payloads pass through the AES-256-GCM codec, so the server's history holds no
 * clear payloads; the /codec endpoint lets authorized staff (Web UI, CLI) decode them.
 * Histories are read with the Temporal CLI, as staff export them.
 */
let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
/** Another clinic: its staff must not read clinic c's payloads. */
let other: ClinicFixture;

const REASON = 'Fake patient Zubeida Hakimuddin phoned: fever';
const ENCRYPTED = Buffer.from('binary/encrypted').toString('base64');
const JSON_PLAIN = Buffer.from('json/plain').toString('base64');
const UI_ORIGIN = new URL(process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233').origin;

interface WirePayload { metadata?: Record<string, string>; data?: string }
const text = (b64?: string) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

function temporal(args: string[]): string {
  return execFileSync(process.env.TEMPORAL_CLI_PATH!, [...args, '--address', process.env.TEMPORAL_ADDRESS!], { encoding: 'utf8', timeout: 30_000 });
}
const history = (workflowId: string) => JSON.parse(temporal(['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']));

type Where = 'payload' | 'sa' | 'marker';
/**
 * Every Payload in a proto3-JSON history, and where it sits: search attributes (never through
 * codecs), the bookkeeping Temporal's core writes itself into markers (local activity `data`: seq,
 * attempt, activity type, times; `patch-data`: the patch id), or an ordinary payload.
 */
type Found = { p: WirePayload; where: Where; path: string };
function payloadsOf(node: unknown, where: Where = 'payload', out: Found[] = [], path: string[] = []): Found[] {
  if (Array.isArray(node)) node.forEach((n, i) => payloadsOf(n, where, out, [...path, String(i)]));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push({ p: o as WirePayload, where, path: path.join('.') });
    else {
      for (const [k, v] of Object.entries(o)) {
        const bookkeeping = path[path.length - 1] === 'details' && path[path.length - 2] === 'markerRecordedEventAttributes' && k !== 'result';
        const next: Where = where !== 'payload' ? where : k === 'searchAttributes' ? 'sa' : bookkeeping ? 'marker' : 'payload';
        payloadsOf(v, next, out, [...path, k]);
      }
    }
  }
  return out;
}
const ordinary = (h: unknown) => payloadsOf(h).filter((x) => x.where === 'payload').map((x) => x.p);

const book = (startsAt: string, headers: Record<string, string> = {}) => api.post('/api/v1/appointments', {
  patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt,
}, c.tokens.RECEPTIONIST, { ...c.h, ...headers });

const decode = (payloads: WirePayload[], token?: string, headers: Record<string, string> = {}) =>
  api.call('POST', '/codec/decode', { token, body: { payloads }, headers: { 'x-namespace': 'default', ...headers } });

let workflowId: string;
let appointmentId: string;
let refusedWorkflowId: string;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'AUDITOR', 'DATA_ANALYST']);
  other = await createClinic(api, su, ['CLINIC_ADMIN', 'DOCTOR']);
  const booked = await book(nextSlot());
  expect(booked.status).toBe(201);
  ({ workflowId, id: appointmentId } = booked.body);
  expect((await api.post(`/api/v1/appointments/${appointmentId}/cancel`, { reason: REASON }, c.tokens.RECEPTIONIST, c.h)).status).toBe(200);
  await stack.deps.temporal.workflow.getHandle(workflowId).result();

  // A refused reschedule: the journey's failure travels as an encoded (so encrypted) payload. (A
  // taken slot at booking is refused by the API before any journey starts.)
  const taken = nextSlot();
  expect((await book(taken)).status).toBe(201);
  const moved = await book(nextSlot(), { 'idempotency-key': 'codec-refused' });
  expect(moved.status).toBe(201);
  refusedWorkflowId = bookingWorkflowId(idFromKey(c.userIds.RECEPTIONIST, 'codec-refused'));
  expect((await api.post(`/api/v1/appointments/${moved.body.id}/reschedule`, { startsAt: taken }, c.tokens.RECEPTIONIST, c.h)).status).toBe(409);
});
afterAll(() => stack?.stop());

describe('payload codec on the wire', () => {
  it('stores every payload encrypted: no ids, patient or reason in clear', () => {
    const h = history(workflowId);
    const found = payloadsOf(h.events).filter((x) => x.where === 'payload');
    const payloads = found.map((x) => x.p);
    // Start input, book and cancel update arguments and results, local activity markers, the result.
    expect(payloads.length).toBeGreaterThanOrEqual(6);
    expect(found.filter((x) => x.p.metadata!.encoding !== ENCRYPTED).map((x) => `${x.path}: ${text(x.p.metadata!.encoding)} ${text(x.p.data)}`)).toEqual([]);
    for (const p of payloads) {
      // Every payload under the clinic's own key (issue 8.12): input, update arguments and results, activities, failure-free result.
      expect(text(p.metadata!['encryption-key-id'])).toBe(`clinic:${c.clinicId}:test2`);
      for (const clear of [appointmentId, c.patientId, c.clinicId, 'Zubeida', 'CANCELLED']) expect(text(p.data)).not.toContain(clear);
    }
    const markers = payloadsOf(h.events).filter((x) => x.where === 'marker');
    expect(markers.length).toBeGreaterThanOrEqual(2); // book and cancel local activities
    for (const { p } of markers) {
      for (const clear of [appointmentId, c.patientId, c.clinicId, 'Zubeida']) expect(text(p.data)).not.toContain(clear);
    }
    const raw = JSON.stringify(h);
    expect(raw).not.toContain('Zubeida');
    expect(raw).not.toContain(Buffer.from(REASON).toString('base64').slice(0, 20));
  });

  it('keeps search attributes readable (ids only)', async () => {
    const sa = payloadsOf(history(workflowId).events).filter((x) => x.where === 'sa').map((x) => x.p);
    expect(sa.length).toBeGreaterThan(0);
    for (const p of sa) expect(p.metadata!.encoding).toBe(JSON_PLAIN);
    const described = await stack.deps.temporal.workflow.getHandle(workflowId).describe();
    expect(described.typedSearchAttributes.get(SA.AppointmentId)).toBe(appointmentId);
    expect(described.typedSearchAttributes.get(SA.PatientId)).toBe(c.patientId);
    expect(temporal(['workflow', 'list', '--query', `AppointmentId = '${appointmentId}'`, '--output', 'json'])).toContain(workflowId);
  });

  it('encodes failure messages too', () => {
    const failures: { message?: string; encodedAttributes?: WirePayload }[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') {
        for (const [k, v] of Object.entries(n)) {
          if (k === 'failure') failures.push(v as never);
          else walk(v);
        }
      }
    };
    walk(history(refusedWorkflowId).events);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.message).toBe('Encoded failure');
      expect(f.encodedAttributes!.metadata!.encoding).toBe(ENCRYPTED);
      expect(text(f.encodedAttributes!.metadata!['encryption-key-id'])).toBe(`clinic:${c.clinicId}:test2`);
    }
    expect(JSON.stringify(history(refusedWorkflowId))).not.toMatch(/slot is already taken/i);
  });
});

describe('codec endpoint for the Web UI', () => {
  let encrypted: WirePayload[];
  beforeAll(() => {
    encrypted = ordinary(history(workflowId).events);
  });

  it('decodes for staff who may read patient data', async () => {
    for (const token of [c.tokens.CLINIC_ADMIN, c.tokens.RECEPTIONIST, c.tokens.DOCTOR, su]) {
      const res = await decode(encrypted, token);
      expect(res.status).toBe(200);
      expect(res.body.payloads).toHaveLength(encrypted.length);
      const clear = res.body.payloads.map((p: WirePayload) => text(p.data)).join('\n');
      expect(clear).toContain(REASON);
      expect(clear).toContain(appointmentId);
      expect(res.body.payloads.every((p: WirePayload) => p.metadata!.encoding === JSON_PLAIN)).toBe(true);
    }
    const audited = await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'temporal.payload.decode' AND actor_user_id = $1`, [c.userIds.CLINIC_ADMIN]);
    expect(audited[0].n).toBeGreaterThanOrEqual(1);
  });

  it("leaves another clinic's payloads sealed for staff of a clinic, and audits the refusal in the owner's chain", async () => {
    for (const token of [other.tokens.CLINIC_ADMIN, other.tokens.DOCTOR]) {
      const res = await decode(encrypted, token);
      expect(res.status).toBe(200);
      expect(res.body.payloads).toEqual(encrypted);
      expect(JSON.stringify(res.body)).not.toContain(Buffer.from(REASON).toString('base64').slice(0, 20));
    }
    const denied = await stack.deps.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_logs WHERE action = 'permission.denied' AND resource_type = 'TemporalPayload' AND clinic_id = $1 AND actor_user_id = $2`,
      [c.clinicId, other.userIds.CLINIC_ADMIN]);
    expect(denied[0].n).toBeGreaterThanOrEqual(1);
    // A batch mixing both clinics' payloads: each opens only for its own staff.
    const plainB = [{ metadata: { encoding: JSON_PLAIN }, data: Buffer.from(JSON.stringify({ clinicId: other.clinicId, n: 1 })).toString('base64') }];
    const sealedB = (await api.call('POST', '/codec/encode', { token: other.tokens.CLINIC_ADMIN, body: { payloads: plainB }, headers: other.h })).body.payloads;
    const mixed = await decode([encrypted[0], ...sealedB], other.tokens.DOCTOR);
    expect(mixed.body.payloads).toEqual([encrypted[0], ...plainB]);
  });

  it('refuses roles without patient access (403) and anonymous callers (401)', async () => {
    for (const role of ['AUDITOR', 'DATA_ANALYST']) {
      const res = await decode(encrypted, c.tokens[role]);
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('Zubeida');
    }
    expect((await decode(encrypted)).status).toBe(401);
    expect((await decode(encrypted, 'not-a-token')).status).toBe(401);
  });

  it('encodes under the clinic named by the value or the request, and round-trips through decode', async () => {
    const plain = [{ metadata: { encoding: JSON_PLAIN }, data: Buffer.from(JSON.stringify({ reason: REASON })).toString('base64') }];
    const enc = await api.call('POST', '/codec/encode', { token: c.tokens.CLINIC_ADMIN, body: { payloads: plain }, headers: c.h });
    expect(enc.status).toBe(200);
    expect(enc.body.payloads[0].metadata.encoding).toBe(ENCRYPTED);
    expect(text(enc.body.payloads[0].metadata['encryption-key-id'])).toBe(`clinic:${c.clinicId}:test2`);
    expect(text(enc.body.payloads[0].data)).not.toContain('Zubeida');
    expect((await decode(enc.body.payloads, c.tokens.CLINIC_ADMIN)).body).toEqual({ payloads: plain });
    // The other clinic's staff get it back still sealed.
    expect((await decode(enc.body.payloads, other.tokens.CLINIC_ADMIN)).body).toEqual({ payloads: enc.body.payloads });
  });

  it('refuses to encode what it cannot seal (no encoding, already sealed, a foreign clinic); platform payloads for platform roles only', async () => {
    const enc = (payloads: unknown[], token: string, headers: Record<string, string> = {}) => api.call('POST', '/codec/encode', { token, body: { payloads }, headers });
    const noEncoding = await enc([{ data: Buffer.from('{}').toString('base64') }], c.tokens.CLINIC_ADMIN, c.h);
    expect(noEncoding.status).toBe(400);
    expect(noEncoding.body.errors[0].field).toBe('body.payloads.0.metadata.encoding');
    const sealed = await enc([encrypted[0]], c.tokens.CLINIC_ADMIN, c.h);
    expect(sealed.status).toBe(400);
    expect(sealed.body.errors[0].field).toBe('body.payloads.0.metadata.encoding');
    const foreignValue = [{ metadata: { encoding: JSON_PLAIN }, data: Buffer.from(JSON.stringify({ clinicId: other.clinicId, startsAt: 'x' })).toString('base64') }];
    expect((await enc(foreignValue, c.tokens.CLINIC_ADMIN, c.h)).status).toBe(403);
    expect((await enc(foreignValue, c.tokens.CLINIC_ADMIN, other.h)).status).toBe(403);
    // A platform admin with no clinic named seals for the platform; only platform roles read it back.
    const clinicless = [{ metadata: { encoding: JSON_PLAIN }, data: Buffer.from(JSON.stringify({ note: 'platform' })).toString('base64') }];
    const platform = await enc(clinicless, su);
    expect(platform.status).toBe(200);
    expect(text(platform.body.payloads[0].metadata['encryption-key-id'])).toBe('platform:test2');
    expect((await decode(platform.body.payloads, su)).body).toEqual({ payloads: clinicless });
    expect((await decode(platform.body.payloads, c.tokens.CLINIC_ADMIN)).body).toEqual({ payloads: platform.body.payloads });
  });

  it('accepts an absent or empty payload list (the CLI sends {} for a query without arguments)', async () => {
    for (const body of [{}, { payloads: [] }]) {
      const res = await api.call('POST', '/codec/decode', { token: c.tokens.CLINIC_ADMIN, body, headers: { 'x-namespace': 'default' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ payloads: [] });
    }
  });

  it('rejects bad bodies, another namespace and undecryptable payloads with problems', async () => {
    const bad = await api.call('POST', '/codec/decode', { token: c.tokens.CLINIC_ADMIN, body: { payloads: [{ data: '%%%' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.payloads.0.data');
    expect((await decode(encrypted, c.tokens.CLINIC_ADMIN, { 'x-namespace': 'elsewhere' })).status).toBe(400);
    const tampered = [{ ...encrypted[0], data: Buffer.from(Buffer.from(encrypted[0].data!, 'base64').map((b, i) => (i === 20 ? b ^ 1 : b))).toString('base64') }];
    expect((await decode(tampered, c.tokens.CLINIC_ADMIN)).status).toBe(422);
  });

  it('answers the UI origin\'s CORS preflight with Authorization allowed, and only that origin', async () => {
    const preflight = await api.call('OPTIONS', '/codec/decode', { headers: {
      origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace',
    } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-namespace']));
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    const denied = await decode(encrypted, c.tokens.AUDITOR, { origin: UI_ORIGIN });
    expect(denied.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN); // the UI can read the 403
    const foreign = await api.call('OPTIONS', '/codec/decode', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('works as a remote codec for the Temporal CLI with the staff bearer token', async () => {
    // Asynchronously: the codec endpoint answers from this very process.
    const show = async (token: string) => (await promisify(execFile)(process.env.TEMPORAL_CLI_PATH!, ['workflow', 'show', '--workflow-id', workflowId,
      '--output', 'json', '--codec-endpoint', `${stack.baseUrl}/codec`, '--codec-auth', `Bearer ${token}`, '--address', process.env.TEMPORAL_ADDRESS!],
    { timeout: 30_000 })).stdout;
    const decoded = ordinary(JSON.parse(await show(c.tokens.CLINIC_ADMIN)).events);
    expect(decoded.every((p) => p.metadata!.encoding === JSON_PLAIN)).toBe(true);
    expect(decoded.map((p) => text(p.data)).join('\n')).toContain(REASON);
  });

  describe('codec session cookie for the Web UI', () => {
    const cookieOf = (res: { headers: Headers }) => /clinic_codec_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    const withCookie = (cookie: string, headers: Record<string, string> = {}) =>
      api.call('POST', '/codec/decode', { body: { payloads: encrypted }, headers: { cookie: `clinic_codec_session=${cookie}`, 'x-namespace': 'default', ...headers } });

    it('turns a staff sign-in into an HttpOnly, SameSite=Strict cookie that decodes, dies with the session, and answers the UI origin only', async () => {
      const email = `doctor-${c.slug}@test.local`;
      const signIn = await api.post('/api/v1/auth/login', { email, password: `pw-${c.slug}-DOCTOR-long` });
      expect(signIn.status).toBe(200);
      const started = await api.call('POST', '/codec/session', { token: signIn.body.accessToken });
      expect(started.status).toBe(200);
      const setCookie = started.headers.get('set-cookie')!;
      expect(setCookie).toMatch(/httponly/i);
      expect(setCookie).toMatch(/samesite=strict/i);
      const cookie = cookieOf(started)!;
      expect(cookie).toEqual(expect.any(String));

      const viaCookie = await withCookie(cookie, { origin: UI_ORIGIN });
      expect(viaCookie.status).toBe(200);
      expect(viaCookie.body.payloads.map((p: WirePayload) => text(p.data)).join('\n')).toContain(REASON);
      expect((await api.call('GET', '/codec/session', { headers: { cookie: `clinic_codec_session=${cookie}` } })).status).toBe(204);
      // Another site's page cannot ride the cookie; the cookie is no bearer token.
      expect((await withCookie(cookie, { origin: 'https://evil.example' })).status).toBe(403);
      expect((await api.get('/api/v1/auth/me', cookie)).status).toBe(401);

      expect((await api.post('/api/v1/auth/logout', { refreshToken: signIn.body.refreshToken })).status).toBeLessThan(300);
      expect((await withCookie(cookie, { origin: UI_ORIGIN })).status).toBe(401);
      expect((await api.call('GET', '/codec/session', { headers: { cookie: `clinic_codec_session=${cookie}` } })).status).toBe(401);
    });

    it('refuses the cookie to roles that may decode nothing, and a forged cookie', async () => {
      expect((await api.call('POST', '/codec/session', { token: c.tokens.AUDITOR })).status).toBe(403);
      expect((await withCookie('not.a.jwt')).status).toBe(401);
      expect((await withCookie(c.tokens.DOCTOR)).status).toBe(401); // an access token is not a codec session
    });

    it('serves the sign-in page with a strict CSP, returning only to the Web UI', async () => {
      const page = await api.get('/codec/sign-in?return=https://evil.example/x');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.body).toContain('/codec/sign-in.js');
      expect(page.body).not.toContain('evil.example');
      const back = await api.get(`/codec/sign-in?return=${encodeURIComponent(`${UI_ORIGIN}/namespaces/default/workflows/x`)}`);
      expect(back.body).toContain(`${UI_ORIGIN}/namespaces/default/workflows/x`);
    });
  });
});
