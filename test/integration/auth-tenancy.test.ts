import jwt from 'jsonwebtoken';
import { adminToken, ClinicFixture, createClinic, login, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { ADMIN, Stack, startStack } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;
let a: ClinicFixture;
let b: ClinicFixture;
let bAppointmentId: string;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  a = await createClinic(api, su);
  b = await createClinic(api, su);
  const booked = await api.post('/api/v1/appointments', { patientId: b.patientId, practitionerId: b.practitionerId, serviceId: b.serviceId, locationId: b.locationId, startsAt: nextSlot() }, b.tokens.RECEPTIONIST, b.h);
  expect(booked.status).toBe(201);
  bAppointmentId = booked.body.id;
});
afterAll(() => stack?.stop());

describe('login and tokens', () => {
  it('logs in with the right password and returns the user with memberships', async () => {
    const res = await api.post('/api/v1/auth/login', { email: ADMIN.email, password: ADMIN.password });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { email: ADMIN.email, memberships: [{ clinicId: null, role: 'SUPER_ADMIN' }] } });
    const claims = jwt.decode(res.body.accessToken, { complete: true })!;
    expect(claims.header.alg).toBe('HS256');
    expect(claims.payload).toMatchObject({ iss: 'clinic-backend', aud: 'clinic-api', sub: res.body.user.id, sid: expect.any(String) });
  });

  it('refuses a wrong password or unknown email with the same 401', async () => {
    const wrong = await api.post('/api/v1/auth/login', { email: ADMIN.email, password: 'nope-nope-nope' });
    const unknown = await api.post('/api/v1/auth/login', { email: 'nobody@test.local', password: 'nope-nope-nope' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body.detail).toBe(wrong.body.detail);
    const [{ n }] = await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'auth.login.failed'`);
    expect(n).toBeGreaterThanOrEqual(2);
  });

  it('rejects forged, unsigned, expired and wrong-audience tokens', async () => {
    const secret = stack.deps.config.JWT_SECRET;
    const me = (await api.get('/api/v1/auth/me', su)).body;
    const base = { sub: me.id, sid: 's' };
    const forged = jwt.sign(base, 'another-secret-another-secret-another', { algorithm: 'HS256', issuer: 'clinic-backend', audience: 'clinic-api', expiresIn: 60 });
    const none = jwt.sign(base, '', { algorithm: 'none', issuer: 'clinic-backend', audience: 'clinic-api' } as jwt.SignOptions);
    const expired = jwt.sign({ ...base, exp: Math.floor(Date.now() / 1000) - 10 }, secret, { algorithm: 'HS256', issuer: 'clinic-backend', audience: 'clinic-api' });
    const audience = jwt.sign(base, secret, { algorithm: 'HS256', issuer: 'clinic-backend', audience: 'other', expiresIn: 60 });
    const hs512 = jwt.sign(base, secret, { algorithm: 'HS512', issuer: 'clinic-backend', audience: 'clinic-api', expiresIn: 60 });
    for (const token of [forged, none, expired, audience, hs512, 'garbage']) {
      const res = await api.get('/api/v1/auth/me', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await api.get('/api/v1/auth/me')).status).toBe(401);
    expect((await api.get('/api/v1/auth/me', su)).status).toBe(200);
  });

  it('GET /auth/me lists the memberships of a clinic user', async () => {
    const res = await api.get('/api/v1/auth/me', a.tokens.RECEPTIONIST);
    expect(res.body.memberships).toEqual([{ clinicId: a.clinicId, role: 'RECEPTIONIST' }]);
  });
});

describe('clinic context (SPEC §4: header, query, subdomain, token default)', () => {
  const services = (token: string, opts: { headers?: Record<string, string>; query?: string } = {}) =>
    api.get(`/api/v1/services${opts.query ?? ''}`, token, opts.headers);

  it('takes the clinic from X-Clinic-ID (id or slug)', async () => {
    const res = await services(a.tokens.RECEPTIONIST, { headers: { 'x-clinic-id': a.clinicId } });
    expect(res.status).toBe(200);
    expect(res.body.items.map((s: { clinicId: string }) => s.clinicId)).toEqual([a.clinicId]);
    expect((await services(a.tokens.RECEPTIONIST, { headers: { 'x-clinic-id': a.slug } })).status).toBe(200);
  });

  it('takes the clinic from the clinicId query parameter', async () => {
    const res = await services(a.tokens.RECEPTIONIST, { query: `?clinicId=${a.clinicId}` });
    expect(res.status).toBe(200);
    expect(res.body.items[0].clinicId).toBe(a.clinicId);
  });

  it('takes the clinic from the {slug}.<host> subdomain', async () => {
    const res = await services(a.tokens.RECEPTIONIST, { headers: { 'x-forwarded-host': `${a.slug}.localhost` } });
    expect(res.status).toBe(200);
    expect(res.body.items[0].clinicId).toBe(a.clinicId);
  });

  it("falls back to the token's default clinic", async () => {
    const res = await services(a.tokens.RECEPTIONIST);
    expect(res.status).toBe(200);
    expect(res.body.items[0].clinicId).toBe(a.clinicId);
  });

  it('header wins over query, query over subdomain', async () => {
    const res = await services(a.tokens.RECEPTIONIST, { headers: { 'x-clinic-id': b.clinicId }, query: `?clinicId=${a.clinicId}` });
    expect(res.status).toBe(403); // the header (clinic B) was used, and the user is not a member there
    const q = await services(a.tokens.RECEPTIONIST, { headers: { 'x-forwarded-host': `${b.slug}.localhost` }, query: `?clinicId=${a.clinicId}` });
    expect(q.status).toBe(200);
  });

  it('is 403 for a foreign clinic by any source, and for an unknown clinic', async () => {
    expect((await services(a.tokens.RECEPTIONIST, { headers: { 'x-clinic-id': b.clinicId } })).status).toBe(403);
    expect((await services(a.tokens.RECEPTIONIST, { query: `?clinicId=${b.slug}` })).status).toBe(403);
    expect((await services(a.tokens.RECEPTIONIST, { headers: { 'x-forwarded-host': `${b.slug}.localhost` } })).status).toBe(403);
    expect((await services(a.tokens.RECEPTIONIST, { headers: { 'x-clinic-id': '00000000-0000-4000-8000-000000000000' } })).status).toBe(403);
  });

  it('lets SUPER_ADMIN act in any clinic without a membership', async () => {
    expect((await services(su, { headers: { 'x-clinic-id': b.clinicId } })).status).toBe(200);
  });
});

describe('a clinic-A user never reaches clinic-B resources', () => {
  it('gets 403 when naming clinic B as context, on every clinic route', async () => {
    const h = { 'x-clinic-id': b.clinicId };
    const token = a.tokens.CLINIC_ADMIN;
    const reads = ['/api/v1/services', '/api/v1/locations', '/api/v1/rooms', '/api/v1/users', '/api/v1/practitioners', '/api/v1/patients', '/api/v1/appointments',
      `/api/v1/patients/${b.patientId}`, `/api/v1/appointments/${bAppointmentId}`];
    for (const path of reads) expect([path, (await api.get(path, token, h)).status]).toEqual([path, 403]);
    expect((await api.get(`/api/v1/clinics/${b.clinicId}`, token)).status).toBe(403);
    expect((await api.patch(`/api/v1/clinics/${b.clinicId}`, { name: 'hijacked' }, token)).status).toBe(403);
    expect((await api.post(`/api/v1/appointments/${bAppointmentId}/cancel`, { reason: 'x' }, token, h)).status).toBe(403);
  });

  it("gets 404 for clinic-B ids used inside clinic A, and B's data is unchanged", async () => {
    const token = a.tokens.CLINIC_ADMIN;
    expect((await api.get(`/api/v1/patients/${b.patientId}`, token, a.h)).status).toBe(404);
    expect((await api.patch(`/api/v1/patients/${b.patientId}`, { firstName: 'X' }, token, a.h)).status).toBe(404);
    expect((await api.get(`/api/v1/appointments/${bAppointmentId}`, token, a.h)).status).toBe(404);
    expect((await api.post(`/api/v1/appointments/${bAppointmentId}/cancel`, { reason: 'x' }, token, a.h)).status).toBe(404);
    expect((await api.put(`/api/v1/practitioners/${b.practitionerId}/schedule`, { rules: [], exceptions: [] }, token, a.h)).status).toBe(404);
    expect((await api.post('/api/v1/rooms', { locationId: b.locationId, name: 'X' }, token, a.h)).status).toBe(422);
    const crossBooking = await api.post('/api/v1/appointments', { patientId: b.patientId, practitionerId: a.practitionerId, serviceId: a.serviceId, locationId: a.locationId, startsAt: nextSlot() }, a.tokens.RECEPTIONIST, a.h);
    expect(crossBooking.status).toBe(422);
    expect(crossBooking.body.errors).toEqual([{ field: 'body.patientId', message: 'unknown patient' }]);
    const list = await api.get('/api/v1/appointments', token, a.h);
    expect(list.body.items.every((x: { clinicId: string }) => x.clinicId === a.clinicId)).toBe(true);
    expect((await api.get(`/api/v1/patients/${b.patientId}`, b.tokens.CLINIC_ADMIN, b.h)).body.firstName).toBe('Asha');
    expect((await api.get(`/api/v1/appointments/${bAppointmentId}`, b.tokens.CLINIC_ADMIN, b.h)).body.status).toBe('CONFIRMED');
  });

  it('lists only clinics the user belongs to', async () => {
    const res = await api.get('/api/v1/clinics', a.tokens.RECEPTIONIST);
    expect(res.body.items.map((c: { id: string }) => c.id)).toEqual([a.clinicId]);
  });
});

describe('roles on the first endpoints', () => {
  it('a RECEPTIONIST cannot create services or users; a CLINIC_ADMIN can', async () => {
    expect((await api.post('/api/v1/services', { code: 'X1', name: 'X', kind: 'CONSULTATION', durationMinutes: 15 }, a.tokens.RECEPTIONIST, a.h)).status).toBe(403);
    expect((await api.post('/api/v1/users', { email: 'x@test.local', name: 'X', role: 'NURSE' }, a.tokens.RECEPTIONIST, a.h)).status).toBe(403);
    expect((await api.post('/api/v1/services', { code: 'X1', name: 'X', kind: 'CONSULTATION', durationMinutes: 15 }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(201);
  });

  it('a CLINIC_ADMIN cannot grant platform roles, and a new member can log in', async () => {
    const platform = await api.post('/api/v1/users', { email: 'evil@test.local', name: 'Evil', role: 'SUPER_ADMIN', password: 'long-enough-password' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(platform.status).toBe(422);
    expect(platform.body.errors[0].field).toBe('body.role');
    const nurse = await api.post('/api/v1/users', { email: `nurse-${a.slug}@test.local`, name: 'Nurse', role: 'NURSE', password: 'long-enough-password' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(nurse.status).toBe(201);
    expect(nurse.body.roles).toEqual(['NURSE']);
    const token = await login(api, `nurse-${a.slug}@test.local`, 'long-enough-password');
    expect((await api.get(`/api/v1/patients/${a.patientId}`, token, a.h)).status).toBe(200);
    // A disabled member loses access at once.
    expect((await api.patch(`/api/v1/users/${nurse.body.id}`, { status: 'DISABLED' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(200);
    expect((await api.get(`/api/v1/patients/${a.patientId}`, token, a.h)).status).toBe(403);
  });

  it('hides clinicalNotes from roles that may not read them and refuses their writes', async () => {
    const created = await api.post('/api/v1/patients', { firstName: 'Ravi', lastName: 'K', dateOfBirth: '1970-01-01', sex: 'male', clinicalNotes: 'vata imbalance' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(created.status).toBe(201);
    expect(created.body.clinicalNotes).toBe('vata imbalance');
    expect((await api.get(`/api/v1/patients/${created.body.id}`, a.tokens.DOCTOR, a.h)).body.clinicalNotes).toBe('vata imbalance');
    expect((await api.post('/api/v1/patients', { firstName: 'N', lastName: 'N', dateOfBirth: '1970-01-01', sex: 'male', clinicalNotes: 'x' }, a.tokens.RECEPTIONIST, a.h)).status).toBe(403);
    const asReception = await api.get(`/api/v1/patients/${created.body.id}`, a.tokens.RECEPTIONIST, a.h);
    expect(asReception.status).toBe(200);
    expect(asReception.body).not.toHaveProperty('clinicalNotes');
    const write = await api.patch(`/api/v1/patients/${created.body.id}`, { clinicalNotes: 'overwrite' }, a.tokens.RECEPTIONIST, a.h);
    expect(write.status).toBe(403);
    expect((await api.get(`/api/v1/patients/${created.body.id}`, a.tokens.DOCTOR, a.h)).body.clinicalNotes).toBe('vata imbalance');
  });
});
