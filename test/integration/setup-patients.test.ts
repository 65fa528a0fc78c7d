import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su);
});
afterAll(() => stack?.stop());

const count = async (table: string) => (await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('clinic setup', () => {
  it('creates a clinic and refuses a duplicate slug with 409 and a bad time zone with 400', async () => {
    const dup = await api.post('/api/v1/clinics', { name: 'Again', slug: c.slug, timezone: 'Asia/Kolkata' }, su);
    expect(dup.status).toBe(409);
    const badTz = await api.post('/api/v1/clinics', { name: 'X', slug: 'x-tz', timezone: 'Mars/Olympus' }, su);
    expect(badTz.status).toBe(400);
    expect(badTz.body.errors).toEqual([{ field: 'body.timezone', message: expect.stringContaining('IANA') }]);
    expect((await api.post('/api/v1/clinics', { name: 'X', slug: 'x-1', timezone: 'UTC' }, c.tokens.CLINIC_ADMIN)).status).toBe(403);
  });

  it('patches clinic policies, merging settings', async () => {
    const res = await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { minNoticeMinutes: 120 } }, c.tokens.CLINIC_ADMIN);
    expect(res.status).toBe(200);
    const again = await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { noShowGraceMinutes: 10 } }, c.tokens.CLINIC_ADMIN);
    expect(again.body.settings).toEqual({ minNoticeMinutes: 120, noShowGraceMinutes: 10 });
    expect((await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { bogus: 1 } }, c.tokens.CLINIC_ADMIN)).status).toBe(400);
  });

  it('validates schedules: field paths for bad rules, 422 for locations the practitioner is not at', async () => {
    const bad = await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, {
      rules: [{ weekday: 1, start: '10:00', end: '09:00', locationId: c.locationId }, { weekday: 9, start: '25:00', end: '10:00', locationId: c.locationId }],
      exceptions: [],
    }, c.tokens.CLINIC_ADMIN, c.h);
    expect(bad.status).toBe(400);
    const fields = bad.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.rules.1.weekday', 'body.rules.1.start']));
    const endBeforeStart = await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, {
      rules: [{ weekday: 1, start: '10:00', end: '09:00', locationId: c.locationId }], exceptions: [],
    }, c.tokens.CLINIC_ADMIN, c.h);
    expect(endBeforeStart.status).toBe(400);
    expect(endBeforeStart.body.errors).toEqual([{ field: 'body.rules.0.end', message: expect.any(String) }]);
    const other = await api.post('/api/v1/locations', { name: 'Annex' }, c.tokens.CLINIC_ADMIN, c.h);
    const elsewhere = await api.put(`/api/v1/practitioners/${c.practitionerId}/schedule`, {
      rules: [{ weekday: 1, start: '09:00', end: '10:00', locationId: other.body.id }], exceptions: [],
    }, c.tokens.CLINIC_ADMIN, c.h);
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.errors[0].field).toBe('body.rules.0.locationId');
  });

  it('lets a doctor manage their own schedule only', async () => {
    const other = await api.post('/api/v1/users', { email: `doc2-${c.slug}@test.local`, name: 'Doc Two', role: 'DOCTOR' }, c.tokens.CLINIC_ADMIN, c.h);
    const p2 = await api.post('/api/v1/practitioners', { userId: other.body.id, locationIds: [c.locationId] }, c.tokens.CLINIC_ADMIN, c.h);
    expect(p2.status).toBe(201);
    const rules = [{ weekday: 2, start: '09:00', end: '13:00', locationId: c.locationId }];
    expect((await api.put(`/api/v1/practitioners/${p2.body.id}/schedule`, { rules, exceptions: [] }, c.tokens.DOCTOR, c.h)).status).toBe(403);
    const dup = await api.post('/api/v1/practitioners', { userId: other.body.id, locationIds: [c.locationId] }, c.tokens.CLINIC_ADMIN, c.h);
    expect(dup.status).toBe(409);
  });

  it('serves the service list from Redis and invalidates it on write', async () => {
    const key = `clinic:${c.clinicId}:services:v1`;
    await stack.deps.redis.del(key);
    const first = await api.get('/api/v1/services', c.tokens.RECEPTIONIST, c.h);
    expect(await stack.deps.redis.exists(key)).toBe(1);
    // A change made behind the API's back stays invisible while cached: proof the read came from Redis.
    await stack.deps.dataSource.query(`UPDATE services SET name = 'Renamed' WHERE clinic_id = $1`, [c.clinicId]);
    expect((await api.get('/api/v1/services', c.tokens.RECEPTIONIST, c.h)).body).toEqual(first.body);
    const created = await api.post('/api/v1/services', { code: 'ABH', name: 'Abhyanga', kind: 'AYURVEDA_THERAPY', durationMinutes: 60, needsRoom: true, therapistsRequired: 2 }, c.tokens.CLINIC_ADMIN, c.h);
    expect(created.status).toBe(201);
    expect(await stack.deps.redis.exists(key)).toBe(0);
    const after = await api.get('/api/v1/services', c.tokens.RECEPTIONIST, c.h);
    expect(after.body.items.map((s: { name: string }) => s.name).sort()).toEqual(['Abhyanga', 'Renamed']);
  });

  it('refuses invalid setup bodies with 400 field errors and writes nothing', async () => {
    const before = await count('services');
    const res = await api.post('/api/v1/services', { code: '', kind: 'MASSAGE', durationMinutes: 2, clinicId: c.clinicId }, c.tokens.CLINIC_ADMIN, c.h);
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.code', 'body.name', 'body.kind', 'body.durationMinutes', 'body']));
    expect(await count('services')).toBe(before);
  });
});

describe('patients', () => {
  it('creates with a sequential MRN, gets, updates, and searches by MRN', async () => {
    const one = await api.post('/api/v1/patients', { firstName: 'Meera', lastName: 'Nair', dateOfBirth: '1990-02-03', sex: 'female', email: 'meera@example.com' }, c.tokens.RECEPTIONIST, c.h);
    expect(one.status).toBe(201);
    expect(one.body.mrn).toMatch(/^MRN\d{7}$/);
    const two = await api.post('/api/v1/patients', { firstName: 'Arjun', lastName: 'Das', dateOfBirth: '2001-12-30', sex: 'male' }, c.tokens.RECEPTIONIST, c.h);
    expect(Number(two.body.mrn.slice(3))).toBe(Number(one.body.mrn.slice(3)) + 1);
    const patched = await api.patch(`/api/v1/patients/${one.body.id}`, { phone: '+919900112233' }, c.tokens.RECEPTIONIST, c.h);
    expect(patched.body.phone).toBe('+919900112233');
    const found = await api.get(`/api/v1/patients?q=${one.body.mrn.toLowerCase()}`, c.tokens.RECEPTIONIST, c.h);
    expect(found.body.items.map((p: { id: string }) => p.id)).toEqual([one.body.id]);
    const [{ n }] = await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM audit_logs WHERE resource_type = 'Patient' AND resource_id = $1`, [one.body.id]);
    expect(n).toBeGreaterThanOrEqual(2);
  });

  it('pages through patients with a cursor, each exactly once', async () => {
    for (let i = 0; i < 5; i++) {
      await api.post('/api/v1/patients', { firstName: `P${i}`, lastName: 'Page', dateOfBirth: '1980-01-01', sex: 'unknown' }, c.tokens.RECEPTIONIST, c.h);
    }
    const total = (await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1', [c.clinicId]))[0].n;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await api.get(`/api/v1/patients?limit=2${cursor ? `&cursor=${cursor}` : ''}`, c.tokens.RECEPTIONIST, c.h);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((p) => p.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect((await api.get('/api/v1/patients?limit=101', c.tokens.RECEPTIONIST, c.h)).status).toBe(400);
    expect((await api.get('/api/v1/patients?cursor=garbage', c.tokens.RECEPTIONIST, c.h)).status).toBe(400);
  });

  it('rejects bad patient bodies with field errors and never lets a body set clinicId or mrn', async () => {
    const before = await count('patients');
    const bad = await api.post('/api/v1/patients', { firstName: '', lastName: 'X', dateOfBirth: '2999-01-01', sex: 'x', phone: '12345', email: 'no' }, c.tokens.RECEPTIONIST, c.h);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['body.dateOfBirth', 'body.email', 'body.firstName', 'body.phone', 'body.sex']);
    const sneaky = await api.post('/api/v1/patients', { firstName: 'A', lastName: 'B', dateOfBirth: '1999-01-01', sex: 'male', clinicId: '00000000-0000-4000-8000-000000000000', mrn: 'MINE' }, c.tokens.RECEPTIONIST, c.h);
    expect(sneaky.status).toBe(400);
    expect(await count('patients')).toBe(before);
  });

  it('shows a PATIENT user only their own record', async () => {
    const res = await api.post('/api/v1/users', { email: `pt-${c.slug}@test.local`, name: 'Portal Patient', role: 'PATIENT', password: 'patient-password-1' }, c.tokens.CLINIC_ADMIN, c.h);
    await stack.deps.dataSource.query('UPDATE patients SET user_id = $1 WHERE id = $2', [res.body.id, c.patientId]);
    const { login } = await import('../support/fixtures');
    const token = await login(api, `pt-${c.slug}@test.local`, 'patient-password-1');
    const list = await api.get('/api/v1/patients', token, c.h);
    expect(list.body.items.map((p: { id: string }) => p.id)).toEqual([c.patientId]);
    const others = await stack.deps.dataSource.query('SELECT id FROM patients WHERE clinic_id = $1 AND id <> $2 LIMIT 1', [c.clinicId, c.patientId]);
    expect((await api.get(`/api/v1/patients/${others[0].id}`, token, c.h)).status).toBe(404);
    expect((await api.get(`/api/v1/patients/${c.patientId}`, token, c.h)).status).toBe(200);
  });
});
