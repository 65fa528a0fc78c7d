import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { RLS_TABLES } from '../../migrations/1764230000000-audit-chain-app-role-rls';
import { createAppDataSource } from '../../shared/db/data-source';
import { currentClinicId, inClinicOfInput, runInClinic } from '../../shared/db/tenant-context';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;
let a: ClinicFixture;
let b: ClinicFixture;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  a = await createClinic(api, su, ['RECEPTIONIST']);
  b = await createClinic(api, su, ['RECEPTIONIST']);
  // A second patient in A, so "only A's rows" is more than one row.
  expect((await api.post('/api/v1/patients', { firstName: 'Ravi', lastName: 'Nair', dateOfBirth: '1990-01-02', sex: 'male' }, a.tokens.RECEPTIONIST, a.h)).status).toBe(201);
});
afterAll(() => stack?.stop());

const owner = () => stack.deps.dataSource;
const app = () => stack.appDataSource;
const clinicsOf = async (db: DataSource, table: string): Promise<string[]> =>
  (await db.query(`SELECT DISTINCT clinic_id::text AS c FROM ${table}`)).map((r: { c: string }) => r.c);
const ownerCount = async (table: string, clinicId: string): Promise<number> =>
  (await owner().query(`SELECT count(*)::int AS n FROM ${table} WHERE clinic_id = $1`, [clinicId]))[0].n;

/** Clinic-id columns on tables that deliberately have no row-level security, and why. */
const UNSCOPED: Record<string, string> = {};
/**
 * Scoped tables whose owner is deliberately not under the policy (ENABLE without FORCE), and why. The
 * application's role always is.
 */
const OWNER_EXEMPT: Record<string, string> = {
  memberships: "user_memberships() (SECURITY DEFINER, the owner's) reads one signed-in user's memberships across clinics",
};

describe('row-level security (app role)', () => {
  it('shows no clinic rows without a clinic context', async () => {
    expect(await ownerCount('patients', a.clinicId)).toBe(2);
    for (const table of RLS_TABLES) {
      const [{ n }] = await app().query(`SELECT count(*)::int AS n FROM ${table}`);
      expect({ table, n }).toEqual({ table, n: 0 });
    }
  });

  it("shows only the context's clinic, even to a query without a clinic filter", async () => {
    const seen = await runInClinic(a.clinicId, () => app().query('SELECT id, clinic_id FROM patients'));
    expect(seen).toHaveLength(2);
    expect(new Set(seen.map((r: { clinic_id: string }) => r.clinic_id))).toEqual(new Set([a.clinicId]));
    for (const table of ['locations', 'rooms', 'services', 'practitioners', 'schedules', 'patients']) {
      expect(await runInClinic(b.clinicId, () => clinicsOf(app(), table))).toEqual([b.clinicId]);
    }
    // B's patient through A's context: not there.
    expect(await runInClinic(a.clinicId, () => app().query('SELECT 1 FROM patients WHERE id = $1', [b.patientId]))).toEqual([]);
  });

  it("refuses to write another clinic's rows: WITH CHECK on insert and update, nothing to update or delete", async () => {
    const insert = () => app().query(
      `INSERT INTO services (clinic_id, code, name, kind, duration_minutes) VALUES ($1, $2, 'Sneaky', 'CONSULTATION', 30)`, [b.clinicId, `X${Date.now()}`]);
    await expect(runInClinic(a.clinicId, insert)).rejects.toMatchObject({
      driverError: expect.objectContaining({ code: '42501', message: expect.stringMatching(/row-level security/) }),
    });
    await expect(insert()).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    await expect(runInClinic(a.clinicId, () => app().query('UPDATE services SET clinic_id = $1 WHERE clinic_id = $2', [b.clinicId, a.clinicId])))
      .rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    const [, updated] = await runInClinic(a.clinicId, () => app().query(`UPDATE patients SET preferences = '{}' WHERE id = $1`, [b.patientId]));
    expect(updated).toBe(0);
    const [, deleted] = await runInClinic(a.clinicId, () => app().query('DELETE FROM services WHERE clinic_id = $1', [b.clinicId]));
    expect(deleted).toBe(0);
    expect(await ownerCount('services', b.clinicId)).toBe(1);
    expect(await ownerCount('services', a.clinicId)).toBe(1);
  });

  it('keeps one pooled connection right while contexts alternate, inside and outside transactions', async () => {
    const ds = await createAppDataSource({ url: stack.deps.config.DATABASE_URL, poolSize: 1, appRole: stack.deps.config.DATABASE_APP_ROLE }).initialize();
    try {
      const patients = () => ds.query('SELECT clinic_id::text AS c FROM patients').then((rows: { c: string }[]) => [...new Set(rows.map((r) => r.c))]);
      const jobs = Array.from({ length: 30 }, (_, i) => {
        const clinic = [a.clinicId, b.clinicId, null][i % 3];
        const expected = clinic ? [clinic] : [];
        const job = i % 2
          ? () => ds.transaction(async (tx) => {
            const first = await tx.query('SELECT DISTINCT clinic_id::text AS c FROM patients');
            const second = await tx.query('SELECT DISTINCT clinic_id::text AS c FROM locations');
            return [...new Set([...first, ...second].map((r: { c: string }) => r.c))];
          })
          : patients;
        return runInClinic(clinic, job).then((seen) => expect(seen).toEqual(expected));
      });
      await Promise.all(jobs);
    } finally {
      await ds.destroy();
    }
  });

  it('runs activities in the clinic their input names', async () => {
    const seen: (string | null)[] = [];
    const acts = inClinicOfInput({
      probe: async (_input: { clinicId?: string | null }) => { seen.push(currentClinicId()); return null; },
    });
    await acts.probe({ clinicId: a.clinicId });
    await acts.probe({ clinicId: null });
    await runInClinic(b.clinicId, () => acts.probe({}));
    expect(seen).toEqual([a.clinicId, null, null]);
    expect(() => runInClinic('not-a-uuid', () => 1)).toThrow(/uuid/);
  });

  it('enables and forces row-level security on every table with a clinic_id, unless listed as deliberately unscoped', async () => {
    const rows: { table: string; rls: boolean; forced: boolean; policies: number }[] = await owner().query(`
      SELECT c.relname AS table, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
             (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'clinic_id' AND NOT a.attisdropped)`);
    const scoped = rows.filter((r) => !(r.table in UNSCOPED));
    expect(scoped.map((r) => r.table)).toEqual(expect.arrayContaining([...RLS_TABLES, 'audit_logs']));
    expect(scoped.map((r) => r.table)).toEqual(expect.arrayContaining(['memberships', 'notifications']));
    for (const r of scoped) expect(r).toEqual({ table: r.table, rls: true, forced: !(r.table in OWNER_EXEMPT), policies: 1 });
  });

  it('memberships: a clinic sees its own, outside any clinic only the platform ones; user_memberships() gives one user all of theirs', async () => {
    const [{ count: total }] = await owner().query(`SELECT count(*)::int AS count FROM memberships`);
    expect(total).toBeGreaterThan(3);
    expect(await runInClinic(a.clinicId, () => clinicsOf(app(), 'memberships'))).toEqual([a.clinicId]);
    expect(await clinicsOf(app(), 'memberships')).toEqual([null]);
    // B's member through A's context: nothing to read, update or delete; a B row cannot be written from A.
    const bUser = b.userIds.RECEPTIONIST;
    expect(await runInClinic(a.clinicId, () => app().query('SELECT 1 FROM memberships WHERE user_id = $1', [bUser]))).toEqual([]);
    const [, updated] = await runInClinic(a.clinicId, () => app().query(`UPDATE memberships SET status = 'DISABLED' WHERE user_id = $1`, [bUser]));
    expect(updated).toBe(0);
    await expect(runInClinic(a.clinicId, () => app().query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, $2, 'NURSE')`, [bUser, b.clinicId])))
      .rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    expect(await owner().query(`SELECT status FROM memberships WHERE user_id = $1`, [bUser])).toEqual([{ status: 'ACTIVE' }]);
    // One user's own memberships, whatever the context, and nobody else's.
    expect(await runInClinic(a.clinicId, () => app().query(`SELECT clinic_id, role FROM user_memberships($1)`, [bUser])))
      .toEqual([{ clinic_id: b.clinicId, role: 'RECEPTIONIST' }]);
  });

  it('notifications: a clinic sees its own outbox rows, outside any clinic only the clinic-less ones (OTP)', async () => {
    const insert = (clinicId: string | null, key: string) => owner().query(
      `INSERT INTO notifications (clinic_id, recipient_kind, recipient_id, template, idempotency_key) VALUES ($1, 'user', $2, 'otp-code', $3)`,
      [clinicId, randomUUID(), key]);
    const tag = randomUUID().slice(0, 8);
    await insert(a.clinicId, `rls-a-${tag}`);
    await insert(b.clinicId, `rls-b-${tag}`);
    await insert(null, `rls-none-${tag}`);
    const keys = (clinicId: string | null) => runInClinic(clinicId, () => app().query(`SELECT idempotency_key AS k FROM notifications WHERE idempotency_key LIKE $1 ORDER BY 1`, [`rls-%-${tag}`]))
      .then((rows: { k: string }[]) => rows.map((r) => r.k));
    expect(await keys(a.clinicId)).toEqual([`rls-a-${tag}`]);
    expect(await keys(b.clinicId)).toEqual([`rls-b-${tag}`]);
    expect(await keys(null)).toEqual([`rls-none-${tag}`]);
  });
});

describe('row-level security through the API', () => {
  it('serves a clinic to its members and to SUPER_ADMIN acting in it, and 404s foreign ids', async () => {
    expect((await api.get(`/api/v1/patients/${a.patientId}`, a.tokens.RECEPTIONIST, a.h)).status).toBe(200);
    expect((await api.get(`/api/v1/patients/${b.patientId}`, a.tokens.RECEPTIONIST, a.h)).status).toBe(404);
    const asSuper = await api.get('/api/v1/patients', su, b.h);
    expect(asSuper.status).toBe(200);
    expect(asSuper.body.items.map((p: { id: string }) => p.id)).toEqual([b.patientId]);
    expect((await api.get(`/api/v1/practitioners`, su, a.h)).body.items).toHaveLength(1);
  });

  it('creates rows in the request clinic (WITH CHECK passes) and reads clinic lists that span tables', async () => {
    const code = `S${randomUUID().slice(0, 6)}`;
    const created = await api.post('/api/v1/services', { code, name: 'Abhyanga', kind: 'AYURVEDA_THERAPY', durationMinutes: 60 }, su, a.h);
    expect(created.status).toBe(201);
    expect(await runInClinic(a.clinicId, () => app().query('SELECT code FROM services WHERE code = $1', [code]))).toEqual([{ code }]);
    const rooms = await api.get(`/api/v1/rooms?locationId=${a.locationId}`, su, a.h);
    expect(rooms.body.items).toHaveLength(1);
  });
});
