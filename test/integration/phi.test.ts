import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, Server } from 'node:http';
import path from 'node:path';
import { MIGRATIONS } from '../../migrations';
import { EncryptPatientPhi1764220000000 } from '../../migrations/1764220000000-encrypt-patient-phi';
import { blindToken } from '../../shared/crypto/blind-index';
import { createDataSource } from '../../shared/db/data-source';
import { dropDatabase, ensureDatabase } from '../../shared/db/ensure-database';
import { loadConfig } from '../../shared/config';
import { parseKeyring } from '../../shared/crypto/keyring';
import { decryptPatient, phiKeysFor } from '../../shared/crypto/patient-phi';
import { rotatePatientKeys } from '../../shared/crypto/rotate-patient-keys';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';

/** SPEC §8: PHI encrypted at rest, exact search through blind indexes, key rotation. */
let stack: Stack;
let api: Api;
let su: string;
let a: ClinicFixture;
let b: ClinicFixture;

const ROTATE_CLI = path.resolve(__dirname, '../../dist/scripts/rotate-phi-keys.js');
// The run's keyring is "test1,test2" (global setup): test2 is current, test1 plays the old key.
const OLD_KEYS = process.env.PHI_ENCRYPTION_KEYS!.split(',')[0];

const person = {
  firstName: 'Lakshmi', lastName: 'Venkataraman', dateOfBirth: '1979-11-23', sex: 'female',
  phone: '+919876501234', email: 'Lakshmi.V@example.in', address: '44 Temple Street, Mylapore', clinicalNotes: 'Vata imbalance; avoid cold foods',
};
const PLAINTEXT = ['Lakshmi', 'Venkataraman', '1979-11-23', '9876501234', 'lakshmi.v@', 'Temple Street', 'Vata imbalance'];

const rawRow = async (id: string) => (await stack.deps.dataSource.query('SELECT * FROM patients WHERE id = $1', [id]))[0];
const ids = (res: { body: { items: { id: string }[] } }) => res.body.items.map((p) => p.id);

/** The same API (same database) under other settings, e.g. an older keyring. */
async function serveWith(env: Record<string, string>): Promise<{ api: Api; close(): Promise<void> }> {
  const server: Server = createServer(testApp(stack, { config: loadConfig({ ...process.env, ...env }) }).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    api: client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

beforeAll(async () => {
  stack = await startStack({ queues: [] }); // no workflows here
  api = client(stack.baseUrl);
  su = await adminToken(api);
  [a, b] = await Promise.all([createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']), createClinic(api, su, ['CLINIC_ADMIN'])]);
});
afterAll(() => stack?.stop());

describe('PHI at rest', () => {
  let id: string;

  beforeAll(async () => {
    const res = await api.post('/api/v1/patients', person, a.tokens.CLINIC_ADMIN, a.h);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ...person, clinicId: a.clinicId, userId: null, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(res.body).not.toHaveProperty('phiKeyId');
    id = res.body.id;
  });

  it('answers in clear through the API while SELECT * shows no plaintext in patients or search tokens', async () => {
    const got = await api.get(`/api/v1/patients/${id}`, a.tokens.CLINIC_ADMIN, a.h);
    expect(got.body).toMatchObject({ ...person, id, mrn: expect.stringMatching(/^MRN\d{7}$/) });
    expect(got.body).not.toHaveProperty('phiKeyId');

    const row = await rawRow(id);
    const dump = JSON.stringify(row).toLowerCase();
    for (const v of PLAINTEXT) expect(dump).not.toContain(v.toLowerCase());
    expect(row.first_name).toMatch(/^test2:[A-Za-z0-9+/=]+$/);
    expect(row.phi_key_id).toBe('test2');

    const tokens = await stack.deps.dataSource.query('SELECT * FROM patient_search_tokens WHERE patient_id = $1', [id]);
    expect(tokens.map((t: { kind: string }) => t.kind).sort()).toEqual(['dob', 'email', 'name', 'phone']);
    const tokenDump = tokens.map((t: { token: Buffer }) => `${t.token.toString('latin1')} ${t.token.toString('hex')}`).join(' ').toLowerCase();
    for (const v of PLAINTEXT) expect(tokenDump).not.toContain(v.toLowerCase());
    for (const t of tokens) expect(t.token).toHaveLength(16);
  });

  it('holds every patient row of the database as ciphertext (no write path left in clear)', async () => {
    const [{ n }] = await stack.deps.dataSource.query(
      `SELECT count(*)::int AS n FROM patients WHERE first_name !~ '^[A-Za-z0-9_-]+:' OR last_name !~ '^[A-Za-z0-9_-]+:' OR date_of_birth !~ '^[A-Za-z0-9_-]+:'`);
    expect(n).toBe(0);
  });

  it('refuses a ciphertext copied to another patient (AAD binds it to its row and column)', async () => {
    const other = await api.post('/api/v1/patients', { firstName: 'Ravi', lastName: 'Iyer', dateOfBirth: '1990-01-01', sex: 'male' }, a.tokens.RECEPTIONIST, a.h);
    const victim = await rawRow(other.body.id);
    const source = await rawRow(id);
    const { ring } = phiKeysFor(stack.deps.config);
    const asStored = (r: Record<string, string | null>) => ({
      id: r.id!, firstName: r.first_name!, lastName: r.last_name!, dateOfBirth: r.date_of_birth!, phone: r.phone, email: r.email,
      address: r.address, clinicalNotes: r.clinical_notes, phiKeyId: r.phi_key_id!,
    });
    expect(decryptPatient(ring, asStored(victim)).firstName).toBe('Ravi');
    expect(() => decryptPatient(ring, { ...asStored(victim), firstName: source.first_name })).toThrow();
    expect(() => decryptPatient(ring, { ...asStored(source), lastName: source.first_name })).toThrow();

    await stack.deps.dataSource.query('UPDATE patients SET first_name = $2 WHERE id = $1', [victim.id, source.first_name]);
    try {
      const res = await api.get(`/api/v1/patients/${victim.id}`, a.tokens.CLINIC_ADMIN, a.h);
      expect(res.status).toBe(500);
      expect(JSON.stringify(res.body)).not.toMatch(/Lakshmi|Ravi/);
    } finally {
      await stack.deps.dataSource.query('UPDATE patients SET first_name = $2 WHERE id = $1', [victim.id, victim.first_name]);
    }
  });
});

describe('exact search through blind indexes', () => {
  let mine: string;
  let twin: string;
  const twinPerson = { firstName: 'Farida', lastName: 'Sheikh', dateOfBirth: '1968-07-05', sex: 'female', phone: '+919811122233', email: 'farida.sheikh@example.in' };

  beforeAll(async () => {
    // The same person registered in two clinics.
    mine = (await api.post('/api/v1/patients', twinPerson, a.tokens.RECEPTIONIST, a.h)).body.id;
    twin = (await api.post('/api/v1/patients', twinPerson, b.tokens.CLINIC_ADMIN, b.h)).body.id;
  });

  const search = (q: string, c = a, token = a.tokens.RECEPTIONIST) => api.get(`/api/v1/patients?q=${encodeURIComponent(q)}`, token, c.h);

  it.each([
    ['phone, typed with spaces', '+91 98111 22233'],
    ['phone, E.164', '+919811122233'],
    ['email, other case', '  FARIDA.Sheikh@Example.IN '],
    ['date of birth', '1968-07-05'],
    ['full name, any case and spacing', 'farida   SHEIKH'],
  ])('finds the patient by %s, never the other clinic\'s identical patient', async (_kind, q) => {
    const res = await search(q);
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([mine]);
    expect(res.body.items[0]).toMatchObject({ firstName: 'Farida', phone: '+919811122233' });
    expect(ids(await search(q, b, b.tokens.CLINIC_ADMIN))).toEqual([twin]);
  });

  it('finds by MRN (kept in clear: an identifier, not PHI)', async () => {
    const { mrn } = (await api.get(`/api/v1/patients/${mine}`, a.tokens.RECEPTIONIST, a.h)).body;
    expect(ids(await search(mrn.toLowerCase()))).toEqual([mine]);
  });

  it('follows updates: the old phone no longer finds the patient, the new one does', async () => {
    const other = await api.post('/api/v1/patients', { firstName: 'Neel', lastName: 'Kapoor', dateOfBirth: '2002-03-04', sex: 'male', phone: '+919822233344' }, a.tokens.RECEPTIONIST, a.h);
    expect(ids(await search('+919822233344'))).toEqual([other.body.id]);
    const patched = await api.patch(`/api/v1/patients/${other.body.id}`, { phone: '+919822233355', lastName: 'Kapur' }, a.tokens.RECEPTIONIST, a.h);
    expect(patched.body).toMatchObject({ phone: '+919822233355', lastName: 'Kapur', firstName: 'Neel', dateOfBirth: '2002-03-04' });
    expect(ids(await search('+919822233344'))).toEqual([]);
    expect(ids(await search('+919822233355'))).toEqual([other.body.id]);
    expect(ids(await search('Neel Kapoor'))).toEqual([]);
    expect(ids(await search('Neel Kapur'))).toEqual([other.body.id]);
    expect(ids(await search('2002-03-04'))).toEqual([other.body.id]);
  });

  it('answers 400 naming query.q for a date or phone number that is not one', async () => {
    for (const q of ['1968-02-30', '0123 456 789']) {
      const res = await search(q);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'query.q', message: expect.any(String) }]);
    }
  });

  it('looks tokens up through the (clinic_id, token) index', async () => {
    // Tiny test tables favour sequential scans; forbidding them shows the index serves the lookup.
    const plan = await stack.deps.dataSource.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const rows = await tx.query(`EXPLAIN SELECT patient_id FROM patient_search_tokens WHERE clinic_id = $1 AND token = $2`, [a.clinicId, Buffer.alloc(16)]);
      return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/Index Only Scan using patient_search_tokens_lookup_idx/);
  });
});

describe('key rotation', () => {
  let r: ClinicFixture;
  let created: { id: string; firstName: string }[];
  const keyIds = async () => (await stack.deps.dataSource.query(
    'SELECT phi_key_id AS k, count(*)::int AS n FROM patients WHERE clinic_id = $1 GROUP BY 1 ORDER BY 1', [r.clinicId])) as { k: string; n: number }[];

  beforeAll(async () => {
    // Written by an API that only knows the old key (v1), as before the new key was added.
    const old = await serveWith({ PHI_ENCRYPTION_KEYS: OLD_KEYS });
    try {
      // The admin signs in where their account is readable (sealed under the current key); the token is good on both APIs.
      r = await createClinic(old.api, await adminToken(api), ['CLINIC_ADMIN']);
      created = [];
      for (let i = 0; i < 11; i++) {
        const res = await old.api.post('/api/v1/patients', { firstName: `Rota${i}`, lastName: 'Tion', dateOfBirth: '1970-01-01', sex: 'unknown', phone: `+9198000000${String(i).padStart(2, '0')}` }, r.tokens.CLINIC_ADMIN, r.h);
        created.push({ id: res.body.id, firstName: `Rota${i}` });
      }
    } finally {
      await old.close();
    }
  });

  it('re-encrypts rows under older keys in batches; an interrupted run resumes as a real process', async () => {
    expect(await keyIds()).toEqual([{ k: 'test1', n: 12 }]);
    const otherClinicBefore = await stack.deps.dataSource.query('SELECT id, first_name FROM patients WHERE clinic_id = $1 ORDER BY id', [a.clinicId]);

    // First run, stopped after its first batch (as Ctrl-C would), as the restricted app role under row-level security.
    expect((await stack.appDataSource.query('SELECT count(*)::int AS n FROM patients'))[0].n).toBe(0); // no clinic named, no rows
    const stop = new AbortController();
    const seen: [number, number][] = [];
    const first = await rotatePatientKeys(stack.appDataSource, parseKeyring(process.env.PHI_ENCRYPTION_KEYS!), {
      clinicId: r.clinicId, batchSize: 5, signal: stop.signal,
      onProgress: (done, total) => { seen.push([done, total]); if (done > 0) stop.abort(); },
    });
    expect(first).toEqual({ processed: 5, remaining: 7, interrupted: true });
    expect(seen).toEqual([[0, 12], [5, 12]]);
    expect(await keyIds()).toEqual([{ k: 'test1', n: 7 }, { k: 'test2', n: 5 }]);

    // Second run: the built CLI (dist/, made by `npm test`), continuing with what is left.
    expect(fs.existsSync(ROTATE_CLI)).toBe(true);
    const child = spawn(process.execPath, [ROTATE_CLI, '--clinic', r.clinicId, '--batch-size', '3'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += String(d); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringContaining('7/7 100.0%') });
    expect(stderr).toMatch(/done: 7 re-encrypted; every patient is under key test2/);
    expect(await keyIds()).toEqual([{ k: 'test2', n: 12 }]);

    // Still readable with the new keyring; other clinics untouched.
    for (const p of created) {
      const res = await api.get(`/api/v1/patients/${p.id}`, r.tokens.CLINIC_ADMIN, r.h);
      expect(res.body).toMatchObject({ id: p.id, firstName: p.firstName, lastName: 'Tion', dateOfBirth: '1970-01-01' });
    }
    expect(ids(await api.get(`/api/v1/patients?q=${encodeURIComponent('+919800000007')}`, r.tokens.CLINIC_ADMIN, r.h))).toEqual([created[7].id]);
    expect(await stack.deps.dataSource.query('SELECT id, first_name FROM patients WHERE clinic_id = $1 ORDER BY id', [a.clinicId])).toEqual(otherClinicBefore);

    // Nothing left: a further run is a no-op.
    expect(await rotatePatientKeys(stack.deps.dataSource, parseKeyring(process.env.PHI_ENCRYPTION_KEYS!), { clinicId: r.clinicId }))
      .toEqual({ processed: 0, remaining: 0, interrupted: false });
  });
});

describe('migration of existing plaintext rows', () => {
  it('seals existing patients and builds their search tokens; down restores them', async () => {
    const url = `${process.env.DATABASE_URL}_mig`;
    await ensureDatabase(url);
    const ds = await createDataSource({ url, poolSize: 1 }).initialize();
    const qr = ds.createQueryRunner();
    try {
      const at = MIGRATIONS.indexOf(EncryptPatientPhi1764220000000);
      for (const M of MIGRATIONS.slice(0, at)) await new M().up(qr);
      const [{ id: clinicId }] = await qr.query(`INSERT INTO clinics (name, slug, timezone) VALUES ('Old', 'old', 'UTC') RETURNING id`);
      const [{ id }] = await qr.query(
        `INSERT INTO patients (clinic_id, mrn, first_name, last_name, date_of_birth, sex, phone, email, address, clinical_notes)
         VALUES ($1, 'MRN0000001', 'Lakshmi', 'Venkataraman', '1979-11-23', 'female', '+919876501234', 'lakshmi.v@example.in', NULL, 'Vata imbalance') RETURNING id`,
        [clinicId]);

      await new EncryptPatientPhi1764220000000().up(qr);
      const [row] = await qr.query('SELECT * FROM patients');
      const dump = JSON.stringify(row);
      for (const v of PLAINTEXT) expect(dump.toLowerCase()).not.toContain(v.toLowerCase());
      const keys = phiKeysFor(stack.deps.config);
      expect(decryptPatient(keys.ring, {
        id, firstName: row.first_name, lastName: row.last_name, dateOfBirth: row.date_of_birth, phone: row.phone, email: row.email,
        address: row.address, clinicalNotes: row.clinical_notes, phiKeyId: row.phi_key_id,
      })).toMatchObject({ firstName: 'Lakshmi', dateOfBirth: '1979-11-23', phone: '+919876501234', address: null, clinicalNotes: 'Vata imbalance' });
      const [hit] = await qr.query('SELECT patient_id FROM patient_search_tokens WHERE clinic_id = $1 AND token = $2',
        [clinicId, blindToken(keys.blindIndexKey, clinicId, 'name', 'lakshmi venkataraman')]);
      expect(hit.patient_id).toBe(id);

      await new EncryptPatientPhi1764220000000().down(qr);
      const [back] = await qr.query(`SELECT first_name, to_char(date_of_birth, 'YYYY-MM-DD') AS dob, phone, clinical_notes FROM patients`);
      expect(back).toEqual({ first_name: 'Lakshmi', dob: '1979-11-23', phone: '+919876501234', clinical_notes: 'Vata imbalance' });
    } finally {
      await qr.release();
      await ds.destroy();
      await dropDatabase(url);
    }
  });
});
