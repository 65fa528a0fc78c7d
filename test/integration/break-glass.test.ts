import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { ApiDeps } from '../../api/http/state';
import { loadConfig } from '../../shared/config';
import { createDataConverter } from '../../shared/temporal/data-converter';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { SmtpStandIn, startSmtpServer } from '../support/smtp-server';
import { Stack, startStack, testApp } from '../support/stack';
import { storedUser } from '../support/users';
import { tcpProxy } from '../support/tcp-proxy';

/**
 * Break-glass (SPEC §7 POST /patients/:id/break-glass, §8): clinical staff outside their normal
 * rights read one patient in full for a limited time; every grant and every read under it is
 * audited, and the clinic's compliance officers get a report through the notification journey
 * (real SMTP stand-in, real notifications worker).
 */
let smtp: SmtpStandIn;
let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
let other: ClinicFixture;
let patientId: string;

const NOTES = 'Known penicillin allergy; on warfarin';
const REASON = 'Unconscious in the ER, need allergy history now';

beforeAll(async () => {
  smtp = await startSmtpServer();
  stack = await startStack({ queues: ['notifications'], env: { SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>', NOTIFY_PROVIDER_TIMEOUT_MS: '3000' } });
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, [
    'CLINIC_ADMIN', 'DOCTOR', 'NURSE', 'PHARMACIST', 'LAB_TECHNICIAN', 'RADIOLOGIST', 'MEDICAL_ASSISTANT',
    'RECEPTIONIST', 'BILLING_SPECIALIST', 'SUPPORT', 'AUDITOR', 'COMPLIANCE_OFFICER', 'DATA_ANALYST', 'PATIENT',
  ]);
  other = await createClinic(api, su, ['CLINIC_ADMIN', 'DOCTOR']);
  patientId = await newPatient();
});
afterAll(async () => {
  await stack?.stop();
  await smtp?.stop();
});

const db = () => stack.deps.dataSource;

async function newPatient(f: ClinicFixture = c): Promise<string> {
  const res = await api.post('/api/v1/patients', { firstName: 'Kamala', lastName: 'Iyer', dateOfBirth: '1950-02-03', sex: 'female', clinicalNotes: NOTES }, f.tokens.CLINIC_ADMIN, f.h);
  expect(res.status).toBe(201);
  return res.body.id;
}

const breakGlass = (role: string, id = patientId, reason = REASON, f: ClinicFixture = c) =>
  api.post(`/api/v1/patients/${id}/break-glass`, { reason }, f.tokens[role], f.h);
const read = (role: string, id = patientId, f: ClinicFixture = c) => api.get(`/api/v1/patients/${id}`, f.tokens[role], f.h);

async function auditActions(resourceId: string, actor: string): Promise<string[]> {
  const rows = await db().query(`SELECT action FROM audit_logs WHERE clinic_id = $1 AND resource_id = $2 AND actor_user_id = $3 ORDER BY id`, [c.clinicId, resourceId, actor]);
  return rows.map((r: { action: string }) => r.action);
}

describe('granting', () => {
  it('lets a pharmacist read clinical notes of that patient after stating a reason; every step audited', async () => {
    expect((await read('PHARMACIST')).body).not.toHaveProperty('clinicalNotes');
    const before = Date.now();
    const res = await breakGlass('PHARMACIST');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), patientId, userId: c.userIds.PHARMACIST, reportedTo: 1 });
    const minutes = (Date.parse(res.body.expiresAt) - Date.parse(res.body.grantedAt)) / 60_000;
    expect(minutes).toBe(60);
    expect(Date.parse(res.body.grantedAt)).toBeGreaterThanOrEqual(before - 2000);

    const full = await read('PHARMACIST');
    expect(full.status).toBe(200);
    expect(full.body).toMatchObject({ id: patientId, firstName: 'Kamala', clinicalNotes: NOTES });
    await read('PHARMACIST');
    expect(await auditActions(patientId, c.userIds.PHARMACIST)).toEqual(['patient.read', 'patient.break_glass', 'patient.read.break_glass', 'patient.read.break_glass']);
  });

  it('is that user\'s and that patient\'s only', async () => {
    const second = await newPatient();
    expect((await breakGlass('LAB_TECHNICIAN')).status).toBe(201);
    expect((await read('LAB_TECHNICIAN')).body.clinicalNotes).toBe(NOTES);
    expect((await read('LAB_TECHNICIAN', second)).body).not.toHaveProperty('clinicalNotes');
    expect((await read('RADIOLOGIST')).body).not.toHaveProperty('clinicalNotes');
    expect((await read('MEDICAL_ASSISTANT')).body).not.toHaveProperty('clinicalNotes');
  });

  it('ends when the grant expires', async () => {
    const target = await newPatient();
    const res = await breakGlass('RADIOLOGIST', target);
    expect((await read('RADIOLOGIST', target)).body.clinicalNotes).toBe(NOTES);
    // The application's role cannot change a grant (append-only); the owner can, to make time pass.
    await db().query(`UPDATE break_glass_grants SET granted_at = now() - interval '2 hours', expires_at = now() - interval '1 minute' WHERE id = $1`, [res.body.id]);
    const after = await read('RADIOLOGIST', target);
    expect(after.status).toBe(200);
    expect(after.body).not.toHaveProperty('clinicalNotes');
    expect((await auditActions(target, c.userIds.RADIOLOGIST)).at(-1)).toBe('patient.read');
  });

  it.each(['DOCTOR', 'NURSE', 'MEDICAL_ASSISTANT', 'CLINIC_ADMIN'])('%s may break glass', async (role) => {
    expect((await breakGlass(role)).status).toBe(201);
  });

  it.each(['RECEPTIONIST', 'BILLING_SPECIALIST', 'SUPPORT', 'AUDITOR', 'COMPLIANCE_OFFICER', 'DATA_ANALYST', 'PATIENT'])('%s may not: 403, audited as a denial', async (role) => {
    const res = await breakGlass(role);
    expect(res.status).toBe(403);
    expect(await auditActions(patientId, c.userIds[role])).toContain('permission.denied');
    expect((await db().query(`SELECT count(*)::int AS n FROM break_glass_grants WHERE user_id = $1`, [c.userIds[role]]))[0].n).toBe(0);
  });

  it('wants a reason of at least 10 characters and nothing else in the body', async () => {
    const short = await breakGlass('PHARMACIST', patientId, '  urgent  ');
    expect(short.status).toBe(400);
    expect(short.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.reason']);
    const extra = await api.post(`/api/v1/patients/${patientId}/break-glass`, { reason: REASON, minutes: 600 }, c.tokens.PHARMACIST, c.h);
    expect(extra.status).toBe(400);
    expect(extra.body.errors.map((e: { field: string }) => e.field)).toEqual(['body']);
  });

  it('finds no patient of another clinic or an unknown id (404), and grants nothing', async () => {
    const foreign = await newPatient(other);
    expect((await breakGlass('PHARMACIST', foreign)).status).toBe(404);
    expect((await breakGlass('PHARMACIST', randomUUID())).status).toBe(404);
    expect((await db().query(`SELECT count(*)::int AS n FROM break_glass_grants WHERE patient_id = $1`, [foreign]))[0].n).toBe(0);
    // A grant in one clinic opens nothing in another, even for a member of both.
    expect((await read('DOCTOR', foreign, other)).status).toBe(200);
  });
});

/** Reports of earlier grants may still be arriving: find this grant's report by its reference. */
async function reportOf(grantId: string) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const mail = smtp.messages.find((m) => m.text.includes(grantId));
    if (mail) return mail;
  }
  throw new Error(`no break-glass report for grant ${grantId} arrived`);
}

describe('reporting and oversight', () => {
  it('reports each grant to the compliance officer by email: who, which record, when; no reason, no patient data', async () => {
    const res = await breakGlass('NURSE');
    expect(res.status).toBe(201);
    const mail = await reportOf(res.body.id);
    const officer = await storedUser(db(), c.userIds.COMPLIANCE_OFFICER);
    const [{ mrn }] = await db().query('SELECT mrn FROM patients WHERE id = $1', [patientId]);
    expect(mail.to).toEqual([officer.email]);
    expect(mail.subject).toBe(`Break-glass access at Clinic ${c.slug}`);
    expect(mail.text).toContain(`NURSE of ${c.slug}`);
    expect(mail.text).toContain(mrn);
    expect(mail.text).toContain(res.body.id);
    for (const secret of [REASON, 'Kamala', 'Iyer', 'penicillin', '1950']) expect([secret, mail.text.includes(secret)]).toEqual([secret, false]);
    const outbox = await db().query(`SELECT template, status, recipient_id FROM notifications WHERE clinic_id = $1 AND template = 'break-glass-report' AND status = 'SENT'`, [c.clinicId]);
    expect(outbox.map((r: { recipient_id: string }) => r.recipient_id)).toContain(c.userIds.COMPLIANCE_OFFICER);
  });

  it('reports to the clinic admins when the clinic has no compliance officer', async () => {
    const small = await createClinic(api, su, ['CLINIC_ADMIN', 'PHARMACIST']);
    const target = await newPatient(small);
    const res = await breakGlass('PHARMACIST', target, REASON, small);
    expect(res.status).toBe(201);
    expect(res.body.reportedTo).toBe(1);
    const mail = await reportOf(res.body.id);
    const admin = await storedUser(db(), small.userIds.CLINIC_ADMIN);
    expect(mail.to).toEqual([admin.email]);
  });

  it('keeps the reason sealed at rest and shows it to oversight roles only', async () => {
    const res = await breakGlass('PHARMACIST', patientId, 'Sealed reason: suspected overdose in ward 4');
    const [raw] = await db().query('SELECT reason FROM break_glass_grants WHERE id = $1', [res.body.id]);
    expect(raw.reason).toMatch(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+$/);
    expect(raw.reason).not.toContain('overdose');

    for (const role of ['COMPLIANCE_OFFICER', 'AUDITOR', 'CLINIC_ADMIN']) {
      const log = await api.get(`/api/v1/break-glass-grants?patientId=${patientId}&limit=100`, c.tokens[role], c.h);
      expect([role, log.status]).toEqual([role, 200]);
      expect(log.body.items.find((g: { id: string }) => g.id === res.body.id))
        .toMatchObject({ patientId, userId: c.userIds.PHARMACIST, reason: 'Sealed reason: suspected overdose in ward 4', active: true });
    }
    for (const role of ['PHARMACIST', 'DOCTOR', 'RECEPTIONIST']) {
      expect([role, (await api.get('/api/v1/break-glass-grants', c.tokens[role], c.h)).status]).toEqual([role, 403]);
    }
    // Another clinic's oversight sees none of these.
    const foreign = await api.get('/api/v1/break-glass-grants?limit=100', other.tokens.CLINIC_ADMIN, other.h);
    expect(foreign.body.items).toEqual([]);
  });

  it('pages the log newest first without repeating or losing grants', async () => {
    const target = await newPatient();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await breakGlass('NURSE', target)).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; nextCursor: string | null } } =
        await api.get(`/api/v1/break-glass-grants?patientId=${target}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, c.tokens.COMPLIANCE_OFFICER, c.h);
      seen.push(...res.body.items.map((g) => g.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('the application role may add grants but never change or remove them', async () => {
    const app = stack.appDataSource;
    const { runInClinic } = await import('../../shared/db/tenant-context');
    await expect(runInClinic(c.clinicId, () => app.query(`UPDATE break_glass_grants SET expires_at = expires_at + interval '1 day'`))).rejects.toThrow(/permission denied/);
    await expect(runInClinic(c.clinicId, () => app.query(`DELETE FROM break_glass_grants`))).rejects.toThrow(/permission denied/);
    // Row-level security: outside the clinic no grant is visible.
    expect(await runInClinic(other.clinicId, () => app.query(`SELECT id FROM break_glass_grants WHERE clinic_id = $1`, [c.clinicId]))).toEqual([]);
  });
});

describe('when the report cannot be sent or reads are not audited', () => {
  async function withApi(deps: Partial<ApiDeps>, fn: (api: Api) => Promise<void>) {
    const server: Server = createServer(testApp(stack, deps).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await fn(client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    } finally {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    }
  }

  it('grants nothing (503) while Temporal is unreachable, though the attempt is audited', async () => {
    const proxy = await tcpProxy(Number(process.env.TEMPORAL_ADDRESS!.split(':')[1]));
    const connection = await Connection.connect({ address: `127.0.0.1:${proxy.port}` });
    const temporal = new Client({ connection, namespace: stack.deps.config.TEMPORAL_NAMESPACE, dataConverter: createDataConverter(stack.deps.config.PHI_ENCRYPTION_KEYS) });
    const target = await newPatient();
    try {
      await proxy.cut();
      await withApi({ temporal }, async (cut) => {
        const res = await cut.post(`/api/v1/patients/${target}/break-glass`, { reason: REASON }, c.tokens.PHARMACIST, c.h);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBeTruthy();
        expect((await cut.get(`/api/v1/patients/${target}`, c.tokens.PHARMACIST, c.h)).body).not.toHaveProperty('clinicalNotes');
      });
      expect((await db().query(`SELECT count(*)::int AS n FROM break_glass_grants WHERE patient_id = $1`, [target]))[0].n).toBe(0);
      expect(await auditActions(target, c.userIds.PHARMACIST)).toEqual(['patient.break_glass', 'patient.read']);
    } finally {
      await connection.close();
    }
  });

  it('audits break-glass reads even where ordinary patient reads are not (AUDIT_READS=false)', async () => {
    const target = await newPatient();
    expect((await breakGlass('PHARMACIST', target)).status).toBe(201);
    const config = loadConfig({ ...process.env, AUDIT_READS: 'false' });
    await withApi({ config }, async (quiet) => {
      expect((await quiet.get(`/api/v1/patients/${target}`, c.tokens.PHARMACIST, c.h)).body.clinicalNotes).toBe(NOTES);
      expect((await quiet.get(`/api/v1/patients/${target}`, c.tokens.LAB_TECHNICIAN, c.h)).status).toBe(200);
    });
    expect(await auditActions(target, c.userIds.PHARMACIST)).toEqual(['patient.break_glass', 'patient.read.break_glass']);
    expect(await auditActions(target, c.userIds.LAB_TECHNICIAN)).toEqual([]);
  });
});
