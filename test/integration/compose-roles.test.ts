import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { parseDocument } from 'yaml';
import { createDataSource } from '../../shared/db/data-source';
import { adminToken } from '../support/fixtures';
import { client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * The compose topology's database roles, for real (issue 9): the clinic part of the postgres init
 * script in docker-compose.yml runs as written against the local PostgreSQL (into a scratch
 * database), the migrations run as the compose file's owner login, and the API serves requests as
 * its app login acting as its app role. Role names come from the compose file itself, so the test
 * follows it. Roles are cluster-wide: an advisory lock keeps two runs of this file apart.
 */
type Env = Record<string, string | null>;
const compose = parseDocument(readFileSync(path.join(__dirname, '../../docker-compose.yml'), 'utf8'), { merge: true })
  .toJS({ maxAliasCount: -1 }) as { services: Record<string, { environment: Env }>; configs: Record<string, { content: string }> };
const filled = (v: string | null | undefined) => String(v ?? '').replace(/\$\{[^}]+\}/g, 'pw');
const OWNER = new URL(filled(compose.services.migrate.environment.DATABASE_URL)).username;
const APP_LOGIN = new URL(filled(compose.services.api.environment.DATABASE_URL)).username;
const APP_ROLE = filled(compose.services.api.environment.DATABASE_APP_ROLE) || 'clinic_app';
// The Temporal roles and databases are not the application's (and would collide on a shared cluster).
const CLINIC_INIT = compose.configs['postgres-init'].content.split(/^CREATE ROLE temporal\b/m)[0];

const base = new URL(process.env.TEST_DATABASE_BASE_URL ?? 'postgres://postgres@127.0.0.1:5432');
const DB = `clinic_compose_${randomUUID().slice(0, 8)}`;
const urlAs = (user: string) => `postgres://${user}:pw@${base.host}/${DB}`;

let admin: Client;
let stack: Stack | undefined;

async function dropLeftovers() {
  if ([OWNER, APP_LOGIN].includes('postgres')) throw new Error('the compose file logs in as the superuser');
  const dbs: { datname: string }[] = (await admin.query(
    `SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1`, [OWNER])).rows;
  for (const { datname } of dbs) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
  for (const role of [APP_LOGIN, OWNER]) await admin.query(`DROP ROLE IF EXISTS "${role}"`);
}

beforeAll(async () => {
  admin = new Client({ connectionString: `${base.protocol}//${base.username || 'postgres'}@${base.host}/postgres` });
  await admin.connect();
  await admin.query(`SELECT pg_advisory_lock(hashtext('clinic-compose-roles-test'))`);
  await dropLeftovers();
});

afterAll(async () => {
  await stack?.stop();
  await dropLeftovers();
  await admin.end();
});

describe('the compose database roles', () => {
  it('are made by the init script: the owner and the app login are plain roles, the app role has no way around row-level security', async () => {
    const psql = spawnSync('psql', ['-X', '-q', '-h', base.hostname, '-p', base.port || '5432', '-U', base.username || 'postgres', '-d', 'postgres', '-f', '-'], {
      input: CLINIC_INIT,
      env: { ...process.env, CLINIC_DB_PASSWORD: 'pw', CLINIC_API_DB_PASSWORD: 'pw', CLINIC_DB_NAME: DB },
      encoding: 'utf8',
    });
    expect({ status: psql.status, stderr: psql.stderr }).toEqual({ status: 0, stderr: '' });
    const roles = (await admin.query(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ANY ($1) ORDER BY rolname`,
      [[OWNER, APP_LOGIN, APP_ROLE]])).rows;
    expect(roles).toEqual([OWNER, APP_LOGIN, APP_ROLE].sort().map((rolname) => ({
      rolname, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false, rolcanlogin: rolname !== APP_ROLE,
    })));
    const [{ owner }] = (await admin.query(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [DB])).rows;
    expect(owner).toBe(OWNER);
  });

  it('let the owner run every migration, and the API serve requests as the app login acting as the app role', async () => {
    const owner = await createDataSource({ url: urlAs(OWNER), poolSize: 1 }).initialize();
    try {
      expect((await owner.runMigrations({ transaction: 'each' })).length).toBeGreaterThan(0);
    } finally {
      await owner.destroy();
    }

    stack = await startStack({ queues: [], env: { DATABASE_URL: urlAs(APP_LOGIN), DATABASE_APP_ROLE: APP_ROLE } });
    expect(await stack.appDataSource.query('SELECT current_user AS "current", session_user AS "session"')).toEqual([{ current: APP_ROLE, session: APP_LOGIN }]);
    const api = client(stack.baseUrl);
    const token = await adminToken(api);
    const slug = `compose-${randomUUID().slice(0, 8)}`;
    const created = await api.post('/api/v1/clinics', { name: 'Compose clinic', slug, timezone: 'Asia/Kolkata' }, token);
    expect(created.status).toBe(201);
    const location = await api.post('/api/v1/locations', { name: 'Main' }, token, { 'x-clinic-id': created.body.id });
    expect(location.status).toBe(201);
    // Row-level security holds for this login: outside any clinic, the app role sees no tenant row.
    expect(await stack.appDataSource.query('SELECT count(*)::int AS n FROM locations')).toEqual([{ n: 0 }]);
  });
});
