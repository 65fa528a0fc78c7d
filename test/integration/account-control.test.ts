import { randomUUID } from 'node:crypto';
import { adminToken, ClinicFixture, createClinic, login } from '../support/fixtures';
import { Api, client } from '../support/http';
import { ADMIN, Stack, startStack } from '../support/stack';
import { insertPlatformUser, storedUser } from '../support/users';

/**
 * Issue 8 item 1: a clinic admin controls memberships in their clinic, never accounts. Accounts
 * (global status, platform roles) belong to SUPER_ADMIN and SYSTEM_ADMIN.
 */
let stack: Stack;
let api: Api;
let su: string;
let suId: string;
let sysAdmin: { id: string; token: string };
let a: ClinicFixture;
let b: ClinicFixture;

const db = () => stack.deps.dataSource;
const patientsIn = (f: ClinicFixture, token: string) => api.get('/api/v1/patients', token, f.h);
const accountStatus = async (id: string) => (await db().query(`SELECT status FROM users WHERE id = $1`, [id]))[0].status;
const unique = () => randomUUID().slice(0, 8);

/** A member of B, created by B's admin with a name and phone clinic A has never been told. */
async function bMember(role = 'DOCTOR') {
  const email = `bm-${unique()}@test.local`;
  const password = `pw-${randomUUID()}`;
  const phone = `+9198${String(Date.now()).slice(-8)}`;
  const res = await api.post('/api/v1/users', { email, name: 'Dr Secret Name', phone, role, password }, b.tokens.CLINIC_ADMIN, b.h);
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email, password, phone, token: await login(api, email, password) };
}

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  suId = (await api.get('/api/v1/auth/me', su)).body.id;
  a = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
  b = await createClinic(api, su, ['CLINIC_ADMIN', 'DOCTOR']);
  const email = `sys-${unique()}@test.local`;
  const password = `pw-${randomUUID()}`;
  const id = await insertPlatformUser(db(), { email, name: 'Sys Admin', password, role: 'SYSTEM_ADMIN' });
  sysAdmin = { id, token: await login(api, email, password) };
}, 120_000);
afterAll(() => stack?.stop());

describe("a clinic admin and another clinic's accounts", () => {
  it("cannot disable a clinic-B doctor's account: attaching and disabling touches only A's membership", async () => {
    const doctor = await bMember();
    const added = await api.post('/api/v1/users', { email: doctor.email, name: 'Attached', role: 'NURSE' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(added.status).toBe(201);
    const disabled = await api.patch(`/api/v1/users/${doctor.id}`, { status: 'DISABLED' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: doctor.id, status: 'DISABLED', roles: ['NURSE'] });

    expect(await accountStatus(doctor.id)).toBe('ACTIVE');
    expect(await db().query(`SELECT clinic_id, status FROM memberships WHERE user_id = $1 ORDER BY status`, [doctor.id]))
      .toEqual([{ clinic_id: b.clinicId, status: 'ACTIVE' }, { clinic_id: a.clinicId, status: 'DISABLED' }]);
    // B goes on as before: the same session works there, and the doctor still signs in.
    expect((await patientsIn(b, doctor.token)).status).toBe(200);
    expect((await api.post('/api/v1/auth/login', { email: doctor.email, password: doctor.password })).status).toBe(200);
    // A is closed to them.
    expect((await patientsIn(a, doctor.token)).status).toBe(403);
  });

  it('cannot disable the SUPER_ADMIN, nor change their platform role', async () => {
    const added = await api.post('/api/v1/users', { email: ADMIN.email, name: 'Root?', role: 'RECEPTIONIST' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(added.status).toBe(201);
    expect((await api.patch(`/api/v1/users/${suId}`, { status: 'DISABLED' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(200);
    expect((await api.patch(`/api/v1/users/${suId}`, { role: 'SYSTEM_ADMIN' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
    expect((await api.patch(`/api/v1/accounts/${suId}`, { status: 'DISABLED' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(403);

    expect(await accountStatus(suId)).toBe('ACTIVE');
    expect(await db().query(`SELECT role, status FROM memberships WHERE user_id = $1 AND clinic_id IS NULL`, [suId])).toEqual([{ role: 'SUPER_ADMIN', status: 'ACTIVE' }]);
    // Still everything, everywhere: the token in hand, a fresh sign-in, clinic A and clinic B.
    expect((await patientsIn(a, su)).status).toBe(200);
    expect((await patientsIn(b, su)).status).toBe(200);
    const fresh = await login(api, ADMIN.email, ADMIN.password);
    expect((await api.post('/api/v1/clinics', { name: 'Still root', slug: `r-${unique()}`, timezone: 'Asia/Kolkata' }, fresh)).status).toBe(201);
  });

  it('learns nothing from POST /users about an existing account: the answer echoes what was sent', async () => {
    const doctor = await bMember();
    // The platform disabled the account: the clinic is not told that either.
    expect((await api.patch(`/api/v1/accounts/${doctor.id}`, { status: 'DISABLED' }, su)).status).toBe(200);
    const sent = { email: doctor.email.toUpperCase(), name: 'Guessed Name', role: 'NURSE' };
    const existing = await api.post('/api/v1/users', sent, a.tokens.CLINIC_ADMIN, a.h);
    const fresh = await api.post('/api/v1/users', { ...sent, email: `new-${unique()}@test.local` }, a.tokens.CLINIC_ADMIN, a.h);
    expect(existing.status).toBe(201);
    expect(existing.body).toEqual({ id: doctor.id, email: sent.email, name: 'Guessed Name', phone: null, status: 'ACTIVE', roles: ['NURSE'] });
    // Same shape and values as for an account made just now from the same input.
    expect({ ...fresh.body, id: doctor.id, email: sent.email }).toEqual(existing.body);
    const text = JSON.stringify(existing.body);
    for (const secret of ['Dr Secret Name', doctor.phone, 'DISABLED', 'DOCTOR', b.clinicId]) expect(text).not.toContain(secret);
    // Nothing the admin sent reached the account either.
    expect(await storedUser(db(), doctor.id)).toEqual({ name: 'Dr Secret Name', email: doctor.email, phone: doctor.phone, status: 'DISABLED' });
    expect((await api.patch(`/api/v1/accounts/${doctor.id}`, { status: 'ACTIVE' }, su)).status).toBe(200);
  });

  it('cannot grant a platform role, by POST or PATCH, to a new or an existing account', async () => {
    const doctor = await bMember();
    const fresh: string[] = [];
    for (const role of ['SUPER_ADMIN', 'SYSTEM_ADMIN']) {
      fresh.push(`p-${unique()}@test.local`);
      for (const email of [doctor.email, fresh[fresh.length - 1]]) {
        const res = await api.post('/api/v1/users', { email, name: 'Escalate', role, password: 'long-enough-password' }, a.tokens.CLINIC_ADMIN, a.h);
        expect(res.status).toBe(422);
        expect(res.body.errors[0].field).toBe('body.role');
      }
      expect((await api.patch(`/api/v1/users/${a.userIds.RECEPTIONIST}`, { role }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
    }
    expect(await db().query(`SELECT role FROM memberships WHERE user_id = ANY ($1) AND role IN ('SUPER_ADMIN', 'SYSTEM_ADMIN')`, [[doctor.id, a.userIds.RECEPTIONIST]])).toEqual([]);
    // No account was made for the new addresses either.
    for (const email of fresh) expect((await api.post('/api/v1/auth/login', { email, password: 'long-enough-password' })).status).toBe(401);
  });
});

describe('a membership disabled by its clinic', () => {
  it('stops the member\'s session in that clinic at once, hides the clinic from them, and comes back when enabled', async () => {
    const email = `m-${unique()}@test.local`;
    const member = await api.post('/api/v1/users', { email, name: 'Two Clinics', role: 'RECEPTIONIST', password: 'long-enough-password' }, a.tokens.CLINIC_ADMIN, a.h);
    expect((await api.post('/api/v1/users', { email, name: 'Two Clinics', role: 'DOCTOR' }, b.tokens.CLINIC_ADMIN, b.h)).status).toBe(201);
    const token = await login(api, email, 'long-enough-password');
    expect((await patientsIn(a, token)).status).toBe(200);

    expect((await api.patch(`/api/v1/users/${member.body.id}`, { status: 'DISABLED' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(200);
    expect((await patientsIn(a, token)).status).toBe(403);
    expect((await patientsIn(b, token)).status).toBe(200);
    expect((await api.get('/api/v1/auth/me', token)).body.memberships).toEqual([{ clinicId: b.clinicId, role: 'DOCTOR' }]);
    expect((await api.get('/api/v1/clinics', token)).body.items.map((c: { id: string }) => c.id)).toEqual([b.clinicId]);
    // A fresh sign-in defaults to the clinic still open to them.
    expect((await api.get('/api/v1/services', await login(api, email, 'long-enough-password'))).body.items[0].clinicId).toBe(b.clinicId);

    // A new role does not re-open the membership; only the status does.
    const moved = await api.patch(`/api/v1/users/${member.body.id}`, { role: 'NURSE' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(moved.body).toMatchObject({ status: 'DISABLED', roles: ['NURSE'] });
    const readded = await api.post('/api/v1/users', { email, name: 'Two Clinics', role: 'MEDICAL_ASSISTANT' }, a.tokens.CLINIC_ADMIN, a.h);
    expect(readded.body).toMatchObject({ status: 'DISABLED', roles: ['MEDICAL_ASSISTANT', 'NURSE'] });
    expect((await patientsIn(a, token)).status).toBe(403);
    const listed = (await api.get('/api/v1/users', a.tokens.CLINIC_ADMIN, a.h)).body.items.find((u: { id: string }) => u.id === member.body.id);
    expect(listed).toMatchObject({ status: 'DISABLED' });

    expect((await api.patch(`/api/v1/users/${member.body.id}`, { status: 'ACTIVE' }, a.tokens.CLINIC_ADMIN, a.h)).body.status).toBe('ACTIVE');
    expect((await patientsIn(a, token)).status).toBe(200);
    const actions = await db().query(
      `SELECT action FROM audit_logs WHERE clinic_id = $1 AND resource_type = 'Membership' AND resource_id = $2 ORDER BY id`, [a.clinicId, member.body.id]);
    expect(actions.map((r: { action: string }) => r.action)).toEqual(['membership.created', 'membership.disabled', 'membership.updated', 'membership.created', 'membership.enabled']);
  });
});

describe('accounts: platform admins only', () => {
  it('SUPER_ADMIN disables an account everywhere and ends its sessions; SYSTEM_ADMIN may too, clinic roles may not', async () => {
    const doctor = await bMember();
    for (const token of [a.tokens.CLINIC_ADMIN, b.tokens.CLINIC_ADMIN, a.tokens.RECEPTIONIST]) {
      expect((await api.patch(`/api/v1/accounts/${doctor.id}`, { status: 'DISABLED' }, token, b.h)).status).toBe(403);
    }
    expect(await accountStatus(doctor.id)).toBe('ACTIVE');

    const res = await api.patch(`/api/v1/accounts/${doctor.id}`, { status: 'DISABLED' }, su);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: doctor.id, status: 'DISABLED' });
    expect((await api.get('/api/v1/auth/me', doctor.token)).status).toBe(401);
    expect((await api.post('/api/v1/auth/login', { email: doctor.email, password: doctor.password })).status).toBe(401);
    expect(await db().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [doctor.id])).toEqual([{ n: 0 }]);

    expect((await api.patch(`/api/v1/accounts/${doctor.id}`, { status: 'ACTIVE' }, sysAdmin.token)).status).toBe(200);
    expect((await api.post('/api/v1/auth/login', { email: doctor.email, password: doctor.password })).status).toBe(200);
  });

  it('a SYSTEM_ADMIN cannot change a SUPER_ADMIN account, and nobody their own; unknown ids are 404', async () => {
    expect((await api.patch(`/api/v1/accounts/${suId}`, { status: 'DISABLED' }, sysAdmin.token)).status).toBe(403);
    expect((await api.patch(`/api/v1/accounts/${suId}`, { status: 'DISABLED' }, su)).status).toBe(422);
    expect((await api.patch(`/api/v1/accounts/${sysAdmin.id}`, { status: 'DISABLED' }, sysAdmin.token)).status).toBe(422);
    expect((await api.patch(`/api/v1/accounts/${randomUUID()}`, { status: 'DISABLED' }, su)).status).toBe(404);
    const bad = await api.patch(`/api/v1/accounts/${sysAdmin.id}`, { status: 'GONE' }, su);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.status');
    expect(await accountStatus(suId)).toBe('ACTIVE');
    expect(await accountStatus(sysAdmin.id)).toBe('ACTIVE');
  });
});
