import { Writable } from 'node:stream';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { verifyChain } from '../../api/commands/audit';
import { MIGRATIONS } from '../../migrations';
import { InitialSchema1764144000000 } from '../../migrations/1764144000000-initial-schema';
import { AuditAppender, AuditRecord } from '../../shared/audit/appender';
import { createAppDataSource, createDataSource } from '../../shared/db/data-source';
import { dropDatabase, ensureDatabase } from '../../shared/db/ensure-database';
import { runInClinic } from '../../shared/db/tenant-context';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;

const ROLES = ['CLINIC_ADMIN', 'AUDITOR', 'COMPLIANCE_OFFICER', 'RECEPTIONIST', 'DOCTOR'];

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ROLES);
});
afterAll(() => stack?.stop());

const owner = () => stack.deps.dataSource;
const app = () => stack.appDataSource;
const verify = (f: ClinicFixture, role = 'AUDITOR') => api.get('/api/v1/audit-logs/verify', f.tokens[role], f.h);
const readPatient = (f: ClinicFixture) => api.get(`/api/v1/patients/${f.patientId}`, f.tokens.DOCTOR, f.h);

/** Changes audit rows the way an attacker with the owner's rights would: append-only trigger off, in one transaction. */
async function tamper(sql: string, args: unknown[]) {
  await owner().transaction(async (tx) => {
    await tx.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete');
    await tx.query(sql, args);
    await tx.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete');
  });
}

/** Seals the clinic's chain (the API seals in the background) and returns its row ids in chain order. */
async function chainIds(clinicId: string): Promise<string[]> {
  await owner().query('SELECT * FROM audit_seal($1, 100000)', [clinicId]);
  const rows = await owner().query('SELECT id::text AS id FROM audit_logs WHERE clinic_id = $1 ORDER BY audit_logs.chain_seq', [clinicId]);
  return rows.map((r: { id: string }) => r.id);
}

describe('append-only audit table', () => {
  it('runs the app as clinic_app: no superuser, no BYPASSRLS', async () => {
    const [me] = await app().query(
      'SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user');
    expect(me).toEqual({ name: 'clinic_app', rolsuper: false, rolbypassrls: false });
  });

  it('refuses UPDATE, DELETE and TRUNCATE to the app role (no privilege) and to the owner (trigger)', async () => {
    expect((await readPatient(c)).status).toBe(200);
    const asApp = (sql: string) => runInClinic(c.clinicId, () => app().query(sql, sql.includes('$1') ? [c.clinicId] : []));
    for (const sql of [`UPDATE audit_logs SET action = 'x' WHERE clinic_id = $1`, `DELETE FROM audit_logs WHERE clinic_id = $1`, 'TRUNCATE audit_logs']) {
      await expect(asApp(sql)).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501', message: expect.stringMatching(/permission denied/) }) });
      await expect(owner().query(sql, sql.includes('$1') ? [c.clinicId] : [])).rejects.toMatchObject({ message: 'audit_logs is append-only' });
    }
    expect((await verify(c)).body.valid).toBe(true);
  });

  it('lets an UPDATE through only to seal an unsealed row, changing nothing else', async () => {
    const [{ id }] = await runInClinic(c.clinicId, () => app().query(
      `INSERT INTO audit_logs (clinic_id, action, resource_type) VALUES ($1, 'test.unsealed', 'Test') RETURNING id::text AS id`, [c.clinicId]));
    const asSealer = (sql: string) => owner().transaction(async (tx) => {
      await tx.query(`SELECT set_config('audit.sealing', 'on', true)`);
      return tx.query(sql, [id]);
    });
    // Even with the sealing flag, the owner can neither rewrite the row nor seal it with other content.
    await expect(asSealer(`UPDATE audit_logs SET action = 'x', chain_seq = 999999, hash = 'h' WHERE id = $1`)).rejects.toMatchObject({ message: 'audit_logs is append-only' });
    const [sealed] = await owner().query('SELECT * FROM audit_seal($1)', [c.clinicId]);
    expect(sealed.sealed).toBeGreaterThanOrEqual(1);
    // A sealed row stays as sealed.
    await expect(asSealer(`UPDATE audit_logs SET chain_seq = chain_seq + 1000000 WHERE id = $1`)).rejects.toMatchObject({ message: 'audit_logs is append-only' });
    expect((await verify(c)).body).toMatchObject({ valid: true, unsealed: 0 });
  });

  it('takes time and chain fields from the database, not the writer', async () => {
    const [row] = await runInClinic(c.clinicId, () => app().query(
      `INSERT INTO audit_logs (clinic_id, action, resource_type, occurred_at, chain_seq, prev_hash, hash)
       VALUES ($1, 'test.forged', 'Test', '2000-01-01T00:00:00Z', 1, 'f00', 'bar') RETURNING id::text AS id, occurred_at, chain_seq, prev_hash, hash`, [c.clinicId]));
    expect(row).toMatchObject({ chain_seq: null, prev_hash: null, hash: null });
    expect(Date.now() - new Date(row.occurred_at).getTime()).toBeLessThan(60_000);
    const res = await verify(c);
    expect(res.body).toMatchObject({ valid: true, unsealed: 0 });
    const [after] = await owner().query('SELECT chain_seq, hash FROM audit_logs WHERE id = $1', [row.id]);
    expect(after.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(after.chain_seq)).toBeGreaterThan(1);
  });

  it('seals only in READ COMMITTED, where each sealer sees the previous one\'s commit', async () => {
    await expect(runInClinic(c.clinicId, () => app().transaction('REPEATABLE READ', (tx) =>
      tx.query('SELECT * FROM audit_seal($1)', [c.clinicId]))))
      .rejects.toMatchObject({ message: expect.stringContaining('READ COMMITTED') });
  });
});

describe('GET /audit-logs', () => {
  it("lists the clinic's rows only, newest first, filtered and paginated by id, without PHI", async () => {
    const other = await createClinic(api, su, ['DOCTOR']);
    for (let i = 0; i < 3; i++) expect((await readPatient(c)).status).toBe(200);
    expect((await readPatient(other)).status).toBe(200);
    await chainIds(c.clinicId);

    const q = `resourceType=Patient&resourceId=${c.patientId}&actorUserId=${c.userIds.DOCTOR}&action=patient.read.clinical`;
    const first = await api.get(`/api/v1/audit-logs?${q}&limit=2`, c.tokens.AUDITOR, c.h);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api.get(`/api/v1/audit-logs?${q}&limit=2&cursor=${first.body.nextCursor}`, c.tokens.AUDITOR, c.h);
    expect(second.status).toBe(200);
    const items = [...first.body.items, ...second.body.items];
    expect(items.length).toBeGreaterThanOrEqual(3);
    const ids = items.map((i: { id: string }) => BigInt(i.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(new Set(ids).size).toBe(ids.length);
    for (const item of items) {
      expect(item).toMatchObject({
        clinicId: c.clinicId, actorUserId: c.userIds.DOCTOR, action: 'patient.read.clinical', resourceType: 'Patient', resourceId: c.patientId,
        requestId: expect.any(String), occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        chainSeq: expect.stringMatching(/^\d+$/), hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    }
    expect(JSON.stringify(items)).not.toMatch(/Asha|Rao|1985-04-12|\+919812345678/);

    // Another clinic's rows never show, whatever the filters say.
    const foreign = await api.get(`/api/v1/audit-logs?resourceId=${other.patientId}`, c.tokens.AUDITOR, c.h);
    expect(foreign.body.items).toEqual([]);
    const future = await api.get(`/api/v1/audit-logs?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`, c.tokens.AUDITOR, c.h);
    expect(future.body).toEqual({ items: [], nextCursor: null });
    const window = await api.get(`/api/v1/audit-logs?from=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&limit=100`, c.tokens.COMPLIANCE_OFFICER, c.h);
    expect(window.body.items.length).toBeGreaterThanOrEqual(3);
  });

  it('answers AUDITOR, COMPLIANCE_OFFICER and CLINIC_ADMIN; refuses others with 403 and audits the refusal', async () => {
    for (const role of ['AUDITOR', 'COMPLIANCE_OFFICER', 'CLINIC_ADMIN']) {
      expect((await api.get('/api/v1/audit-logs', c.tokens[role], c.h)).status).toBe(200);
      expect((await verify(c, role)).status).toBe(200);
    }
    for (const role of ['RECEPTIONIST', 'DOCTOR']) {
      expect((await api.get('/api/v1/audit-logs', c.tokens[role], c.h)).status).toBe(403);
      expect((await verify(c, role)).status).toBe(403);
    }
    const denied = await api.get(`/api/v1/audit-logs?action=permission.denied&actorUserId=${c.userIds.RECEPTIONIST}`, c.tokens.AUDITOR, c.h);
    expect(denied.body.items).toHaveLength(2);
    expect(denied.body.items[0]).toMatchObject({ clinicId: c.clinicId, resourceType: 'AuditLog', resourceId: null });
  });

  it("audits a refused clinic context in the chain of the clinic asked for", async () => {
    const other = await createClinic(api, su, ['AUDITOR']);
    const res = await api.get('/api/v1/patients', c.tokens.DOCTOR, other.h);
    expect(res.status).toBe(403);
    const rows = await api.get(`/api/v1/audit-logs?action=permission.denied&actorUserId=${c.userIds.DOCTOR}`, other.tokens.AUDITOR, other.h);
    expect(rows.body.items).toEqual([expect.objectContaining({ clinicId: other.clinicId, resourceType: 'Clinic', resourceId: other.clinicId })]);
    expect((await verify(other)).body.valid).toBe(true);
  });

  it('answers bad filters with 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['actorUserId=nope', 'query.actorUserId'],
      ['from=yesterday', 'query.from'],
      [`from=${encodeURIComponent('2025-02-01T00:00:00Z')}&to=${encodeURIComponent('2025-01-01T00:00:00Z')}`, 'query.to'],
      ['cursor=bm9wZQ', 'query.cursor'],
      ['limit=1000', 'query.limit'],
    ];
    for (const [qs, field] of cases) {
      const res = await api.get(`/api/v1/audit-logs?${qs}`, c.tokens.AUDITOR, c.h);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    }
  });
});

describe('GET /audit-logs/verify', () => {
  it('passes on an intact chain and reports its head', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    for (let i = 0; i < 3; i++) await readPatient(f);
    const res = await verify(f);
    const ids = await chainIds(f.clinicId);
    expect(res.status).toBe(200);
    // The verify call audits itself after checking: its own row is the one after the reported head.
    expect(res.body).toMatchObject({ valid: true, checked: ids.length - 1, unsealed: 0, head: { id: ids[ids.length - 2], hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(res.body.firstBrokenId).toBeUndefined();
  });

  it('reports an altered row as a hash mismatch at that row', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    for (let i = 0; i < 4; i++) await readPatient(f);
    const ids = await chainIds(f.clinicId);
    const victim = ids[ids.length - 2];
    await tamper(`UPDATE audit_logs SET action = 'patient.list' WHERE id = $1`, [victim]);
    const res = await verify(f);
    expect(res.body).toMatchObject({ valid: false, firstBrokenId: victim, reason: 'hash-mismatch', checked: ids.length - 2 });
  });

  it('reports a row deleted from the middle as a prev-hash mismatch at the next row', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    for (let i = 0; i < 4; i++) await readPatient(f);
    const ids = await chainIds(f.clinicId);
    const gone = Math.floor(ids.length / 2);
    await tamper('DELETE FROM audit_logs WHERE id = $1', [ids[gone]]);
    const res = await verify(f);
    expect(res.body).toMatchObject({ valid: false, firstBrokenId: ids[gone + 1], reason: 'prev-hash-mismatch', checked: gone });
  });

  it('reports the newest rows deleted by the owner (trigger bypassed) as an anchor mismatch, and keeps reporting it', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    for (let i = 0; i < 4; i++) await readPatient(f);
    const ids = await chainIds(f.clinicId);
    expect((await verify(f)).body).toMatchObject({ valid: true });
    const all = await chainIds(f.clinicId);
    const cut = all.slice(-3);
    await tamper('DELETE FROM audit_logs WHERE id = ANY($1::bigint[])', [cut]);
    const res = await verify(f);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: false, reason: 'anchor-mismatch' });
    expect(cut).toContain(res.body.firstBrokenId);
    expect(ids.length).toBeGreaterThan(0);
    // New rows chained onto the shortened chain do not hide the cut.
    for (let i = 0; i < 3; i++) await readPatient(f);
    await chainIds(f.clinicId);
    expect((await verify(f)).body).toMatchObject({ valid: false, reason: 'anchor-mismatch' });
  });

  it('keeps anchors append-only: the app role may only read them, the owner may not change them', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    await readPatient(f);
    await chainIds(f.clinicId);
    const asApp = (sql: string) => runInClinic(f.clinicId, () => app().query(sql, [f.clinicId]));
    expect((await asApp('SELECT count(*)::int AS n FROM audit_anchors WHERE clinic_id = $1'))[0].n).toBeGreaterThanOrEqual(1);
    for (const sql of [
      `INSERT INTO audit_anchors (clinic_id, chain_seq, head_id, hash) VALUES ($1, 1, 1, 'x')`,
      `UPDATE audit_anchors SET hash = 'x' WHERE clinic_id = $1`,
      `DELETE FROM audit_anchors WHERE clinic_id = $1`,
    ]) {
      await expect(asApp(sql)).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    }
    for (const sql of [`UPDATE audit_anchors SET hash = 'x' WHERE clinic_id = $1`, `DELETE FROM audit_anchors WHERE clinic_id = $1`]) {
      await expect(owner().query(sql, [f.clinicId])).rejects.toMatchObject({ message: 'audit_anchors is append-only' });
    }
    await expect(owner().query('TRUNCATE audit_anchors')).rejects.toMatchObject({ message: 'audit_anchors is append-only' });
    // Another clinic's context sees none of them.
    const other = await createClinic(api, su, ['AUDITOR']);
    expect((await runInClinic(other.clinicId, () => app().query('SELECT count(*)::int AS n FROM audit_anchors WHERE clinic_id = $1', [f.clinicId])))[0].n).toBe(0);
  });

  it('keeps the chain valid under 50 concurrent patient reads', async () => {
    const f = await createClinic(api, su, ['AUDITOR', 'DOCTOR']);
    const before = (await chainIds(f.clinicId)).length;
    const answers = await Promise.all(Array.from({ length: 50 }, () => readPatient(f)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    const ids = await chainIds(f.clinicId);
    expect(ids.length).toBe(before + 50);
    const res = await verify(f);
    expect(res.body).toMatchObject({ valid: true, checked: ids.length, head: { id: ids[ids.length - 1] } });
  });

  it('keeps a clinic chain and the platform chain valid when several processes append at once', async () => {
    const f = await createClinic(api, su, ['AUDITOR']);
    // One API process sends one INSERT per chain at a time; separate pools are separate processes,
    // so only the database's per-chain lock keeps these from chaining onto the same head.
    const pools = await Promise.all([1, 2, 3].map(() =>
      createAppDataSource({ url: stack.deps.config.DATABASE_URL, poolSize: 4, appRole: stack.deps.config.DATABASE_APP_ROLE }).initialize()));
    try {
      const record = (clinicId: string | null, i: number): AuditRecord => ({
        clinicId, actorUserId: f.userIds.AUDITOR, action: 'test.concurrent', resourceType: 'Test', resourceId: String(i), requestId: null, ip: null,
      });
      const appenders = pools.map((ds) => new AuditAppender(ds));
      await Promise.all(appenders.flatMap((appender, p) =>
        Array.from({ length: 40 }, (_, i) => appender.append(record(i % 2 ? f.clinicId : null, p * 100 + i)))));
      await Promise.all(appenders.map((appender) => appender.settle()));
    } finally {
      await Promise.all(pools.map((ds) => ds.destroy()));
    }
    for (const chain of [f.clinicId, null]) {
      const report = await verifyChain({ dataSource: owner() }, chain);
      expect(report).toMatchObject({ valid: true });
      expect(report.checked).toBeGreaterThanOrEqual(60);
      const [{ forks, gaps }] = await owner().query(
        `SELECT (SELECT count(*)::int FROM (SELECT prev_hash FROM audit_logs WHERE clinic_id IS NOT DISTINCT FROM $1::uuid AND hash IS NOT NULL
                                            GROUP BY prev_hash HAVING count(*) > 1) s) AS forks,
                (SELECT max(chain_seq) - count(chain_seq) FROM audit_logs WHERE clinic_id IS NOT DISTINCT FROM $1::uuid)::int AS gaps`, [chain]);
      expect({ forks, gaps }).toEqual({ forks: 0, gaps: 0 });
    }
  });
});

describe('chain head in the log stream', () => {
  it('logs audit.head after each seal with the hash the table holds', async () => {
    const f = await createClinic(api, su, ['AUDITOR']);
    await chainIds(f.clinicId);
    const lines: { msg: string; chain: string; headId: string; headHash: string; sealed: number }[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const appender = new AuditAppender(app(), pino({ level: 'info' }, sink));
    const record = (i: number): AuditRecord => ({
      clinicId: f.clinicId, actorUserId: f.userIds.AUDITOR, action: 'test.append', resourceType: 'Test', resourceId: String(i), requestId: `r${i}`, ip: null,
    });
    await Promise.all(Array.from({ length: 30 }, (_, i) => appender.append(record(i))));
    await appender.settle();
    const heads = lines.filter((l) => l.msg === 'audit.head');
    expect(heads.reduce((n, l) => n + l.sealed, 0)).toBe(30);
    // Appends that land while a seal runs are sealed together by the next one.
    expect(heads.length).toBeLessThan(30);
    const last = heads[heads.length - 1];
    const [head] = await owner().query('SELECT id::text AS id, hash FROM audit_logs WHERE clinic_id = $1 ORDER BY audit_logs.chain_seq DESC LIMIT 1', [f.clinicId]);
    expect(last).toMatchObject({ chain: f.clinicId, headId: head.id, headHash: head.hash });
    expect(JSON.stringify(lines)).not.toMatch(/test\.append/);

    // Cutting the tail off leaves a head that no longer matches the logged one, and the anchors notice.
    await tamper('DELETE FROM audit_logs WHERE id = $1', [head.id]);
    const after = await verifyChain({ dataSource: owner() }, f.clinicId);
    expect(after.head?.hash).not.toBe(last.headHash);
    expect(after).toMatchObject({ valid: false, reason: 'anchor-mismatch', firstBrokenId: head.id });
  });
});

describe('migration', () => {
  it('chains rows written before the chain existed, per clinic', async () => {
    const url = new URL(stack.deps.config.DATABASE_URL);
    url.pathname = `/${url.pathname.slice(1)}_chain_${Date.now().toString(36)}`;
    await ensureDatabase(url.toString());
    const base = { type: 'postgres' as const, url: url.toString(), migrationsTableName: 'schema_migrations', poolSize: 2 };
    const legacy = await new DataSource({ ...base, migrations: [InitialSchema1764144000000] }).initialize();
    let current: DataSource | null = null;
    try {
      await legacy.runMigrations({ transaction: 'each' });
      const [a, b] = ['7d9f3c1e-0b7a-4c8e-9a51-2f0c6d1e8b44', '3b0c1d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e'];
      for (const clinicId of [a, null, b, a, a, null, b]) {
        await legacy.query(`INSERT INTO audit_logs (clinic_id, action, resource_type, request_id) VALUES ($1, 'legacy', 'Test', 'r')`, [clinicId]);
      }
      // The old append-only trigger already held before the chain.
      await expect(legacy.query(`UPDATE audit_logs SET action = 'x'`)).rejects.toMatchObject({ message: 'audit_logs is append-only' });
      await legacy.destroy();
      current = await new DataSource({ ...base, migrations: MIGRATIONS }).initialize();
      await current.runMigrations({ transaction: 'each' });
      expect(await verifyChain({ dataSource: current }, a)).toMatchObject({ valid: true, checked: 3 });
      expect(await verifyChain({ dataSource: current }, b)).toMatchObject({ valid: true, checked: 2 });
      expect(await verifyChain({ dataSource: current }, null)).toMatchObject({ valid: true, checked: 2 });
      // New rows continue the migrated chain.
      await current.query(`INSERT INTO audit_logs (clinic_id, action, resource_type) VALUES ($1, 'new', 'Test')`, [a]);
      expect(await verifyChain({ dataSource: current }, a)).toMatchObject({ valid: true, checked: 4 });
      // The heads at migration time were anchored: cutting b's last row shows.
      const [bHead] = await current.query('SELECT id::text AS id FROM audit_logs WHERE clinic_id = $1 ORDER BY chain_seq DESC LIMIT 1', [b]);
      await current.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete');
        await tx.query('DELETE FROM audit_logs WHERE id = $1', [bHead.id]);
        await tx.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete');
      });
      expect(await verifyChain({ dataSource: current }, b)).toMatchObject({ valid: false, reason: 'anchor-mismatch', firstBrokenId: bHead.id });
    } finally {
      if (legacy.isInitialized) await legacy.destroy();
      if (current?.isInitialized) await current.destroy();
      await dropDatabase(url.toString());
    }
  });

  it('runs with the owner DataSource (migrations, CLIs), which does not switch to the app role', async () => {
    const ds = createDataSource({ url: stack.deps.config.DATABASE_URL, poolSize: 1 });
    await ds.initialize();
    try {
      const [me] = await ds.query('SELECT current_user AS name');
      expect(me.name).not.toBe('clinic_app');
    } finally {
      await ds.destroy();
    }
  });
});
