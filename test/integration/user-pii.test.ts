import { randomUUID } from 'node:crypto';
import { parseKeyring } from '../../shared/crypto/keyring';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { emailIndex, rotateUserKeys, sealUserPii } from '../../shared/crypto/user-pii';
import { adminToken, ClinicFixture, createClinic, login } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';
import { storedUser } from '../support/users';

/** Issue 8 item 5: accounts' names, emails and phones are ciphertext at rest, found through blind indexes. */
let stack: Stack;
let api: Api;
let c: ClinicFixture;

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  c = await createClinic(api, await adminToken(api), ['CLINIC_ADMIN']);
});
afterAll(() => stack?.stop());

const db = () => stack.deps.dataSource;
const unique = () => randomUUID().slice(0, 8);
const newPhone = () => `+9197${String(Date.now()).slice(-8)}`;

async function addMember(input: { email: string; name: string; phone?: string }) {
  const res = await api.post('/api/v1/users', { ...input, role: 'NURSE', password: 'long-enough-password' }, c.tokens.CLINIC_ADMIN, c.h);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('accounts at rest', () => {
  it('holds no name, email or phone in clear, and opens them for the API', async () => {
    const email = `Asha.Menon-${unique()}@Mail.Test`;
    const phone = newPhone();
    const id = await addMember({ email, name: 'Asha Menon', phone });
    const [raw] = await db().query(`SELECT row_to_json(u)::text AS j FROM users u WHERE id = $1`, [id]);
    for (const clear of [email, email.toLowerCase(), 'Asha', 'Menon', phone, phone.slice(1)]) expect([clear, raw.j.includes(clear)]).toEqual([clear, false]);
    expect(JSON.parse(raw.j)).toMatchObject({ pii_key_id: 'test2', email: expect.stringMatching(/^test2:/), name: expect.stringMatching(/^test2:/), phone: expect.stringMatching(/^test2:/) });

    const token = await login(api, email.toUpperCase(), 'long-enough-password');
    expect((await api.get('/api/v1/auth/me', token)).body).toMatchObject({ id, email, name: 'Asha Menon' });
    const listed = (await api.get('/api/v1/users', c.tokens.CLINIC_ADMIN, c.h)).body.items.find((u: { id: string }) => u.id === id);
    expect(listed).toMatchObject({ email, name: 'Asha Menon', phone });
  });

  it('keeps one account per email (any case) and per phone', async () => {
    const email = `dup-${unique()}@mail.test`;
    const phone = newPhone();
    const id = await addMember({ email, name: 'First', phone });
    expect(await addMember({ email: email.toUpperCase(), name: 'Second' })).toBe(id);
    const taken = await api.post('/api/v1/users', { email: `other-${unique()}@mail.test`, name: 'Third', role: 'NURSE', phone }, c.tokens.CLINIC_ADMIN, c.h);
    expect(taken.status).toBe(409);
    expect(taken.body.type).toMatch(/\/phone-taken$/);
    const [{ n }] = await db().query(`SELECT count(*)::int AS n FROM users WHERE email_index = $1`, [emailIndex(phiKeysFor(stack.deps.config).blindIndexKey, email)]);
    expect(n).toBe(1);
  });

  it('refuses a clear email or phone written past the application', async () => {
    const keys = phiKeysFor(stack.deps.config);
    const id = randomUUID();
    const sealed = sealUserPii(keys, id, { name: 'N', email: `clear-${unique()}@mail.test`, phone: null });
    const insert = (email: string, phone: string | null) => db().query(
      `INSERT INTO users (id, email, name, phone, email_index, pii_key_id) VALUES ($1, $2, $3, $4, $5, $6)`, [id, email, sealed.name, phone, sealed.emailIndex, sealed.piiKeyId]);
    await expect(insert(`clear-${unique()}@mail.test`, null)).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '23514' }) });
    await expect(insert(sealed.email, '+919812345678')).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '23514' }) });
  });

  it('re-seals accounts under an older key with the current one (npm run rotate-keys)', async () => {
    const spec = process.env.PHI_ENCRYPTION_KEYS!;
    const oldOnly = parseKeyring(spec.split(',')[0]);
    const email = `rotate-${unique()}@mail.test`;
    const id = randomUUID();
    const keys = phiKeysFor(stack.deps.config);
    const sealed = sealUserPii({ ring: oldOnly, blindIndexKey: keys.blindIndexKey }, id, { name: 'Old Key', email, phone: null });
    await db().query(`INSERT INTO users (id, email, name, email_index, pii_key_id) VALUES ($1, $2, $3, $4, $5)`, [id, sealed.email, sealed.name, sealed.emailIndex, sealed.piiKeyId]);
    expect(sealed.piiKeyId).toBe('test1');

    // Other test files share this database (test/integration/phi.test.ts writes accounts under the old key on purpose).
    const rotated = await rotateUserKeys(stack.appDataSource, keys.ring, { batchSize: 2, userIds: [id] });
    expect(rotated).toBe(1);
    const [row] = await db().query(`SELECT pii_key_id, email FROM users WHERE id = $1`, [id]);
    expect(row).toMatchObject({ pii_key_id: 'test2', email: expect.stringMatching(/^test2:/) });
    expect(await storedUser(db(), id)).toMatchObject({ name: 'Old Key', email });
    expect(await rotateUserKeys(stack.appDataSource, keys.ring, { userIds: [id] })).toBe(0);
  });
});
