import { randomInt, randomUUID } from 'node:crypto';
import { apiRoutes } from '../../api/routes';
import { hashPassword } from '../../shared/auth/passwords';
import { adminToken, ClinicFixture, createClinic, login, nextSlot } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Every role against every route, on the real stack (SPEC §4). The expected matrix below is written
 * from SPEC §4's table, declaratively, and deliberately not derived from shared/permissions: it is
 * the second opinion. Where the SPEC is silent, the decision is noted next to the entry.
 *
 * A member of each of the 16 roles: SUPER_ADMIN (the bootstrap admin) and SYSTEM_ADMIN (a platform
 * membership) act in clinic A through X-Clinic-ID; the 14 clinic roles are members of clinic A.
 * The PATIENT member is linked to A's patient, so "own" rules are exercised on their own records;
 * records of other patients and practitioners are checked separately below. Allowed calls send
 * valid bodies and must succeed (or meet a business rule: 409/422), refused ones must be 403.
 */
const ROLES = [
  'SUPER_ADMIN', 'SYSTEM_ADMIN', 'CLINIC_ADMIN', 'SUPPORT', 'DOCTOR', 'NURSE', 'PHARMACIST', 'LAB_TECHNICIAN', 'RADIOLOGIST',
  'RECEPTIONIST', 'MEDICAL_ASSISTANT', 'BILLING_SPECIALIST', 'AUDITOR', 'COMPLIANCE_OFFICER', 'DATA_ANALYST', 'PATIENT',
] as const;
type Role = (typeof ROLES)[number];
const CLINIC_ROLES = ROLES.filter((r) => r !== 'SUPER_ADMIN' && r !== 'SYSTEM_ADMIN');

// ───────────────────────────── SPEC §4, as role groups ─────────────────────────────

const PLATFORM: Role[] = ['SUPER_ADMIN', 'SYSTEM_ADMIN'];
/** "manage everything inside own clinic" (plus SUPER_ADMIN, who manages everything). */
const ADMINS: Role[] = ['SUPER_ADMIN', 'CLINIC_ADMIN'];
/** SYSTEM_ADMIN "manage clinics, locations, users, memberships in every clinic". Rooms belong to locations. */
const SETUP_ADMINS: Role[] = [...PLATFORM, 'CLINIC_ADMIN'];
/**
 * Staff who read patient demographics and all appointments: SUPPORT, DOCTOR, NURSE, PHARMACIST,
 * LAB_TECHNICIAN, RADIOLOGIST, RECEPTIONIST, MEDICAL_ASSISTANT, BILLING_SPECIALIST (each row says so).
 * SPEC is silent on who reads the clinic's setup (locations, rooms, services, practitioners,
 * schedules); decision: the staff who book, treat and bill read it, as SUPPORT does.
 */
const STAFF: Role[] = ['SUPER_ADMIN', 'CLINIC_ADMIN', 'SUPPORT', 'DOCTOR', 'NURSE', 'PHARMACIST', 'LAB_TECHNICIAN', 'RADIOLOGIST', 'RECEPTIONIST', 'MEDICAL_ASSISTANT', 'BILLING_SPECIALIST'];
/** PATIENT "read own record; read, book, reschedule, cancel own appointments" — and the setup booking needs. */
const STAFF_AND_PATIENT: Role[] = [...STAFF, 'PATIENT'];
/** AUDITOR, COMPLIANCE_OFFICER "read audit log and its verification"; CLINIC_ADMIN "read audit log". */
const OVERSIGHT: Role[] = [...ADMINS, 'AUDITOR', 'COMPLIANCE_OFFICER'];
/** Clinical notes: DOCTOR, NURSE, CLINIC_ADMIN, SUPER_ADMIN. */
const CLINICIANS_WITH_NOTES: Role[] = [...ADMINS, 'DOCTOR', 'NURSE'];
/** Break-glass (SPEC §7: "a clinician"): the clinical staff of §4. Decision recorded in shared/permissions. */
const BREAK_GLASS: Role[] = [...ADMINS, 'DOCTOR', 'NURSE', 'PHARMACIST', 'LAB_TECHNICIAN', 'RADIOLOGIST', 'MEDICAL_ASSISTANT'];

/** 'public': anyone, no token (called once). 'self': every role on its own account. Otherwise the roles allowed; the rest get 403. */
type Allowed = 'public' | 'self' | readonly Role[];

const EXPECTED: Record<string, Allowed> = {
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/refresh': 'public',
  'POST /api/v1/auth/logout': 'public',
  'POST /api/v1/auth/mfa/verify': 'public',
  'POST /api/v1/auth/otp/request': 'public',
  'POST /api/v1/auth/otp/verify': 'public',
  'POST /api/v1/auth/password': 'self',
  'GET /api/v1/auth/me': 'self',
  'POST /api/v1/auth/mfa/totp/enroll': 'self',
  'POST /api/v1/auth/mfa/totp/activate': 'self',

  'POST /api/v1/clinics': PLATFORM,
  // The caller's own clinics (all of them for platform roles).
  'GET /api/v1/clinics': 'self',
  // Every member reads their clinic: it is the clinic context itself.
  'GET /api/v1/clinics/:id': ROLES,
  'PATCH /api/v1/clinics/:id': SETUP_ADMINS,
  // SPEC silent: today's figures are appointment data, for staff who read all appointments.
  'GET /api/v1/clinics/:id/dashboard': STAFF,
  'POST /api/v1/locations': SETUP_ADMINS,
  'GET /api/v1/locations': [...SETUP_ADMINS, ...STAFF_AND_PATIENT],
  'POST /api/v1/rooms': SETUP_ADMINS,
  // Patients book services, not rooms.
  'GET /api/v1/rooms': [...SETUP_ADMINS, ...STAFF],
  'POST /api/v1/users': SETUP_ADMINS,
  // SUPPORT "read clinic setup, users".
  'GET /api/v1/users': [...SETUP_ADMINS, 'SUPPORT'],
  'PATCH /api/v1/users/:id': SETUP_ADMINS,
  'POST /api/v1/practitioners': ADMINS,
  'GET /api/v1/practitioners': STAFF_AND_PATIENT,
  // DOCTOR "manage own schedule" (A's practitioner is the DOCTOR member).
  'PUT /api/v1/practitioners/:id/schedule': [...ADMINS, 'DOCTOR'],
  'POST /api/v1/services': ADMINS,
  'GET /api/v1/services': STAFF_AND_PATIENT,
  'GET /api/v1/availability': STAFF_AND_PATIENT,

  // RECEPTIONIST "create/read/update patient demographics"; DOCTOR, NURSE "read/update patients".
  'POST /api/v1/patients': [...ADMINS, 'RECEPTIONIST'],
  'GET /api/v1/patients': STAFF_AND_PATIENT,
  'GET /api/v1/patients/:id': STAFF_AND_PATIENT,
  'PATCH /api/v1/patients/:id': [...CLINICIANS_WITH_NOTES, 'RECEPTIONIST'],
  // Staff who update patients, and a patient their own preferences.
  'PUT /api/v1/patients/:id/preferences': [...CLINICIANS_WITH_NOTES, 'RECEPTIONIST', 'PATIENT'],
  'POST /api/v1/patients/:id/break-glass': BREAK_GLASS,
  'GET /api/v1/break-glass-grants': OVERSIGHT,

  // RECEPTIONIST "create, reschedule, cancel, check in"; PATIENT "book, reschedule, cancel own".
  'POST /api/v1/appointments': [...ADMINS, 'RECEPTIONIST', 'PATIENT'],
  'GET /api/v1/appointments': STAFF_AND_PATIENT,
  'GET /api/v1/appointments/:id': STAFF_AND_PATIENT,
  'POST /api/v1/appointments/:id/cancel': [...ADMINS, 'RECEPTIONIST', 'PATIENT'],
  // DOCTOR "check-in, complete, no-show, reschedule own appointments".
  'POST /api/v1/appointments/:id/reschedule': [...ADMINS, 'RECEPTIONIST', 'DOCTOR', 'PATIENT'],
  // NURSE, MEDICAL_ASSISTANT "check in".
  'POST /api/v1/appointments/:id/check-in': [...ADMINS, 'RECEPTIONIST', 'DOCTOR', 'NURSE', 'MEDICAL_ASSISTANT'],
  'POST /api/v1/appointments/:id/complete': [...ADMINS, 'DOCTOR'],
  'POST /api/v1/appointments/:id/no-show': [...ADMINS, 'DOCTOR'],

  // SPEC silent on the outbox: the clinic's admins ("manage everything inside own clinic").
  'GET /api/v1/notifications': ADMINS,
  'GET /api/v1/audit-logs': OVERSIGHT,
  'GET /api/v1/audit-logs/verify': OVERSIGHT,
};

/** Routes outside /api/v1 (api/app.ts), with the same treatment. */
const OPERATIONS: Record<string, Allowed> = {
  // SYSTEM_ADMIN "read health and metrics".
  'GET /metrics': PLATFORM,
  'GET /health/detailed': PLATFORM,
  // The payload codec answers to staff who read patient data, and to SYSTEM_ADMIN for platform
  // payloads (no clinic, no patient data); each payload opens only for its own readers (api/routes/codec.ts).
  'POST /codec/decode': [...STAFF, 'SYSTEM_ADMIN'],
};

// ───────────────────────────── the stack and its members ─────────────────────────────

let stack: Stack;
let api: Api;
let a: ClinicFixture;
let b: ClinicFixture;
const tokens = {} as Record<Role, string>;
let victimId: string;
let patientUserId: string;
/** A second patient of A, not the PATIENT member's. */
let otherPatientId: string;
/** A's second practitioner, not the DOCTOR member's. */
let otherPractitionerId: string;
let bAppointmentId: string;

const db = () => stack.deps.dataSource;
const newIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

function ok(res: Res, status: number, what: string): Res {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

async function book(f: ClinicFixture, opts: { patientId?: string; practitionerId?: string } = {}): Promise<string> {
  const res = await api.post('/api/v1/appointments', {
    patientId: opts.patientId ?? f.patientId, practitionerId: opts.practitionerId ?? f.practitionerId, serviceId: f.serviceId, locationId: f.locationId, startsAt: nextSlot(),
  }, f.tokens.CLINIC_ADMIN, f.h);
  return ok(res, 201, 'book').body.id;
}

/** A platform SYSTEM_ADMIN: platform roles are never granted through a clinic (POST /users refuses them). */
async function systemAdmin(): Promise<string> {
  const email = `sysadmin-${randomUUID().slice(0, 8)}@test.local`;
  const password = `pw-${randomUUID()}`;
  const [{ id }] = await db().query(`INSERT INTO users (email, name, password_hash) VALUES ($1, 'System Admin', $2) RETURNING id`, [email, await hashPassword(password)]);
  await db().query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, NULL, 'SYSTEM_ADMIN')`, [id]);
  return login(api, email, password);
}

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  tokens.SUPER_ADMIN = await adminToken(api);
  tokens.SYSTEM_ADMIN = await systemAdmin();
  a = await createClinic(api, tokens.SUPER_ADMIN, CLINIC_ROLES);
  b = await createClinic(api, tokens.SUPER_ADMIN, ['CLINIC_ADMIN', 'DOCTOR']);
  for (const role of CLINIC_ROLES) tokens[role] = a.tokens[role];
  patientUserId = a.userIds.PATIENT;
  await db().query('UPDATE patients SET user_id = $1 WHERE id = $2', [patientUserId, a.patientId]);

  const victim = await api.post('/api/v1/users', { email: `victim-${a.slug}@test.local`, name: 'Victim', role: 'RECEPTIONIST', password: 'victim-password-1' }, a.tokens.CLINIC_ADMIN, a.h);
  victimId = ok(victim, 201, 'victim').body.id;
  const other = await api.post('/api/v1/patients', { firstName: 'Other', lastName: 'Patient', dateOfBirth: '1990-05-05', sex: 'male', phone: '+919800000042' }, a.tokens.CLINIC_ADMIN, a.h);
  otherPatientId = ok(other, 201, 'other patient').body.id;
  const doc2 = await api.post('/api/v1/users', { email: `doc2-${a.slug}@test.local`, name: 'Second Doctor', role: 'DOCTOR', password: 'doctor-two-password' }, a.tokens.CLINIC_ADMIN, a.h);
  const pr2 = await api.post('/api/v1/practitioners', { userId: ok(doc2, 201, 'doctor 2').body.id, locationIds: [a.locationId] }, a.tokens.CLINIC_ADMIN, a.h);
  otherPractitionerId = ok(pr2, 201, 'practitioner 2').body.id;
  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: a.locationId }));
  ok(await api.put(`/api/v1/practitioners/${otherPractitionerId}/schedule`, { rules, exceptions: [] }, a.tokens.CLINIC_ADMIN, a.h), 200, 'schedule 2');
  bAppointmentId = await book(b);
}, 120_000);
afterAll(() => stack?.stop());

// ───────────────────────────── how each route is called ─────────────────────────────

interface Call {
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses that mean "allowed and handled". Default: 200 for GET; 2xx, 409 or 422 otherwise. */
  ok?: number[];
}

const WRITE_OK = [200, 201, 202, 204, 409, 422];
let seq = 0;
const unique = () => `${Date.now().toString(36)}${(seq += 1)}`;

/**
 * A valid request per route. `fresh` routes get a new appointment of A's PATIENT member with the
 * DOCTOR member's practitioner before the roles take their turns, so the first allowed role
 * changes it and the rest meet a business rule (409/422) rather than a refusal.
 */
const CALLS: Record<string, { call: (role: Role, fresh: string) => Call; fresh?: true }> = {
  'POST /api/v1/auth/login': { call: () => ({ path: '/api/v1/auth/login', body: { email: `nobody-${unique()}@test.local`, password: 'wrong' }, ok: [401] }) },
  'POST /api/v1/auth/refresh': { call: () => ({ path: '/api/v1/auth/refresh', body: { refreshToken: 'not-a-token' }, ok: [401] }) },
  'POST /api/v1/auth/logout': { call: () => ({ path: '/api/v1/auth/logout', body: { refreshToken: 'not-a-token' }, ok: [204] }) },
  'POST /api/v1/auth/mfa/verify': { call: () => ({ path: '/api/v1/auth/mfa/verify', body: { mfaToken: 'not-a-token', code: '123456' }, ok: [401] }) },
  'POST /api/v1/auth/otp/request': { call: () => ({ path: '/api/v1/auth/otp/request', body: { identifier: `nobody-${unique()}@test.local`, channel: 'email' }, headers: { 'x-forwarded-for': newIp() }, ok: [202] }) },
  'POST /api/v1/auth/otp/verify': { call: () => ({ path: '/api/v1/auth/otp/verify', body: { identifier: `nobody-${unique()}@test.local`, code: '123456' }, ok: [401] }) },
  'POST /api/v1/auth/password': { call: () => ({ path: '/api/v1/auth/password', body: { currentPassword: 'not-my-password', newPassword: 'a-new-long-password' }, ok: [422] }) },
  'GET /api/v1/auth/me': { call: () => ({ path: '/api/v1/auth/me' }) },
  'POST /api/v1/auth/mfa/totp/enroll': { call: () => ({ path: '/api/v1/auth/mfa/totp/enroll', ok: [200] }) },
  'POST /api/v1/auth/mfa/totp/activate': { call: () => ({ path: '/api/v1/auth/mfa/totp/activate', body: { code: '000000' }, ok: [422] }) },

  'POST /api/v1/clinics': { call: () => ({ path: '/api/v1/clinics', body: { name: 'Matrix clinic', slug: `m-${unique()}`, timezone: 'Asia/Kolkata' }, ok: [201] }) },
  'GET /api/v1/clinics': { call: () => ({ path: '/api/v1/clinics' }) },
  'GET /api/v1/clinics/:id': { call: () => ({ path: `/api/v1/clinics/${a.clinicId}` }) },
  'PATCH /api/v1/clinics/:id': { call: () => ({ path: `/api/v1/clinics/${a.clinicId}`, body: { name: `Clinic ${a.slug}` }, ok: [200] }) },
  'GET /api/v1/clinics/:id/dashboard': { call: () => ({ path: `/api/v1/clinics/${a.clinicId}/dashboard` }) },
  'POST /api/v1/locations': { call: () => ({ path: '/api/v1/locations', body: { name: `Branch ${unique()}` }, ok: [201] }) },
  'GET /api/v1/locations': { call: () => ({ path: '/api/v1/locations' }) },
  'POST /api/v1/rooms': { call: () => ({ path: '/api/v1/rooms', body: { locationId: a.locationId, name: `Room ${unique()}` }, ok: [201] }) },
  'GET /api/v1/rooms': { call: () => ({ path: '/api/v1/rooms' }) },
  'POST /api/v1/users': { call: () => ({ path: '/api/v1/users', body: { email: `m-${unique()}@test.local`, name: 'Matrix Member', role: 'NURSE' }, ok: [201] }) },
  'GET /api/v1/users': { call: () => ({ path: '/api/v1/users' }) },
  'PATCH /api/v1/users/:id': { call: () => ({ path: `/api/v1/users/${victimId}`, body: { role: 'RECEPTIONIST' }, ok: [200] }) },
  'POST /api/v1/practitioners': { call: () => ({ path: '/api/v1/practitioners', body: { userId: victimId, locationIds: [a.locationId] }, ok: [201, 409] }) },
  'GET /api/v1/practitioners': { call: () => ({ path: '/api/v1/practitioners' }) },
  'PUT /api/v1/practitioners/:id/schedule': {
    call: () => ({
      path: `/api/v1/practitioners/${a.practitionerId}/schedule`,
      body: { rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: a.locationId })), exceptions: [] },
      ok: [200],
    }),
  },
  'POST /api/v1/services': { call: () => ({ path: '/api/v1/services', body: { code: `S${unique()}`, name: 'Abhyanga', kind: 'AYURVEDA_THERAPY', durationMinutes: 60 }, ok: [201] }) },
  'GET /api/v1/services': { call: () => ({ path: '/api/v1/services' }) },
  'GET /api/v1/availability': {
    call: () => {
      const from = new Date(Date.now() + 86400_000).toISOString();
      const to = new Date(Date.now() + 2 * 86400_000).toISOString();
      return { path: `/api/v1/availability?practitionerId=${a.practitionerId}&serviceId=${a.serviceId}&locationId=${a.locationId}&from=${from}&to=${to}` };
    },
  },

  'POST /api/v1/patients': { call: () => ({ path: '/api/v1/patients', body: { firstName: 'New', lastName: 'Patient', dateOfBirth: '1980-01-01', sex: 'unknown' }, ok: [201] }) },
  'GET /api/v1/patients': { call: () => ({ path: '/api/v1/patients' }) },
  'GET /api/v1/patients/:id': { call: () => ({ path: `/api/v1/patients/${a.patientId}` }) },
  'PATCH /api/v1/patients/:id': { call: () => ({ path: `/api/v1/patients/${a.patientId}`, body: { address: '12 Temple Road' }, ok: [200] }) },
  'PUT /api/v1/patients/:id/preferences': { call: () => ({ path: `/api/v1/patients/${a.patientId}/preferences`, body: { language: 'en' }, ok: [200] }) },
  'POST /api/v1/patients/:id/break-glass': { call: () => ({ path: `/api/v1/patients/${a.patientId}/break-glass`, body: { reason: 'Emergency: allergy history needed' }, ok: [201] }) },
  'GET /api/v1/break-glass-grants': { call: () => ({ path: '/api/v1/break-glass-grants' }) },

  'POST /api/v1/appointments': {
    call: () => ({
      path: '/api/v1/appointments',
      body: { patientId: a.patientId, practitionerId: a.practitionerId, serviceId: a.serviceId, locationId: a.locationId, startsAt: nextSlot() },
      ok: [201],
    }),
  },
  'GET /api/v1/appointments': { call: () => ({ path: '/api/v1/appointments' }) },
  'GET /api/v1/appointments/:id': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}` }) },
  'POST /api/v1/appointments/:id/cancel': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}/cancel`, body: { reason: 'matrix' } }) },
  'POST /api/v1/appointments/:id/reschedule': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}/reschedule`, body: { startsAt: nextSlot() } }) },
  'POST /api/v1/appointments/:id/check-in': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}/check-in`, body: {} }) },
  'POST /api/v1/appointments/:id/complete': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}/complete`, body: {} }) },
  'POST /api/v1/appointments/:id/no-show': { fresh: true, call: (_r, id) => ({ path: `/api/v1/appointments/${id}/no-show`, body: {} }) },

  'GET /api/v1/notifications': { call: () => ({ path: '/api/v1/notifications' }) },
  'GET /api/v1/audit-logs': { call: () => ({ path: '/api/v1/audit-logs' }) },
  'GET /api/v1/audit-logs/verify': { call: () => ({ path: '/api/v1/audit-logs/verify' }) },

  'GET /metrics': { call: () => ({ path: '/metrics' }) },
  'GET /health/detailed': { call: () => ({ path: '/health/detailed', ok: [200, 503] }) },
  'POST /codec/decode': { call: () => ({ path: '/codec/decode', body: { payloads: [] }, ok: [200] }) },
};

const routeKeys = apiRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`);

async function send(method: string, c: Call, token?: string): Promise<Res> {
  return api.call(method, c.path, { token, body: c.body ?? (method === 'GET' ? undefined : {}), headers: { ...a.h, ...c.headers } });
}

describe('the expected matrix covers the API', () => {
  it('has an expectation and a request for every /api/v1 route, and nothing else', () => {
    expect(routeKeys.filter((k) => !(k in EXPECTED))).toEqual([]);
    expect(Object.keys(EXPECTED).filter((k) => !routeKeys.includes(k))).toEqual([]);
    expect([...routeKeys, ...Object.keys(OPERATIONS)].filter((k) => !(k in CALLS))).toEqual([]);
  });
});

describe('every role against every route (SPEC §4)', () => {
  const cases = [...Object.entries(EXPECTED), ...Object.entries(OPERATIONS)];

  it.each(cases)('%s', async (key, allowed) => {
    const [method] = key.split(' ');
    const spec = CALLS[key];
    const fresh = spec.fresh ? await book(a) : '';
    const okFor = (c: Call) => c.ok ?? (method === 'GET' ? [200] : WRITE_OK);
    const wrong: string[] = [];

    if (allowed === 'public') {
      const c = spec.call('SUPER_ADMIN', fresh);
      const res = await send(method, c);
      if (!okFor(c).includes(res.status)) wrong.push(`anonymous: ${res.status} ${JSON.stringify(res.body)}`);
    } else {
      for (const role of ROLES) {
        const c = spec.call(role, fresh);
        const res = await send(method, c, tokens[role]);
        const want = allowed === 'self' || allowed.includes(role);
        if (want ? !okFor(c).includes(res.status) : res.status !== 403) {
          wrong.push(`${role}: expected ${want ? okFor(c).join('|') : 403}, got ${res.status} ${res.status >= 400 ? res.body?.detail ?? '' : ''}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('another clinic\'s ids', () => {
  /** Every route with an :id, called with clinic B's record by staff acting in clinic A. */
  const CROSS: Record<string, { path: () => string; body?: unknown; status: 403 | 404 }> = {
    // The id names the clinic itself: a foreign clinic is refused (SPEC §4: foreign clinic 403).
    'GET /api/v1/clinics/:id': { path: () => `/api/v1/clinics/${b.clinicId}`, status: 403 },
    'PATCH /api/v1/clinics/:id': { path: () => `/api/v1/clinics/${b.clinicId}`, body: { name: 'Taken over' }, status: 403 },
    'GET /api/v1/clinics/:id/dashboard': { path: () => `/api/v1/clinics/${b.clinicId}/dashboard`, status: 403 },
    'PATCH /api/v1/users/:id': { path: () => `/api/v1/users/${b.userIds.DOCTOR}`, body: { status: 'DISABLED' }, status: 404 },
    'PUT /api/v1/practitioners/:id/schedule': { path: () => `/api/v1/practitioners/${b.practitionerId}/schedule`, body: { rules: [], exceptions: [] }, status: 404 },
    'GET /api/v1/patients/:id': { path: () => `/api/v1/patients/${b.patientId}`, status: 404 },
    'PATCH /api/v1/patients/:id': { path: () => `/api/v1/patients/${b.patientId}`, body: { address: 'Moved' }, status: 404 },
    'PUT /api/v1/patients/:id/preferences': { path: () => `/api/v1/patients/${b.patientId}/preferences`, body: { channels: [] }, status: 404 },
    'POST /api/v1/patients/:id/break-glass': { path: () => `/api/v1/patients/${b.patientId}/break-glass`, body: { reason: 'Emergency: foreign record' }, status: 404 },
    'GET /api/v1/appointments/:id': { path: () => `/api/v1/appointments/${bAppointmentId}`, status: 404 },
    'POST /api/v1/appointments/:id/cancel': { path: () => `/api/v1/appointments/${bAppointmentId}/cancel`, body: { reason: 'x' }, status: 404 },
    'POST /api/v1/appointments/:id/reschedule': { path: () => `/api/v1/appointments/${bAppointmentId}/reschedule`, body: { startsAt: nextSlot() }, status: 404 },
    'POST /api/v1/appointments/:id/check-in': { path: () => `/api/v1/appointments/${bAppointmentId}/check-in`, body: {}, status: 404 },
    'POST /api/v1/appointments/:id/complete': { path: () => `/api/v1/appointments/${bAppointmentId}/complete`, body: {}, status: 404 },
    'POST /api/v1/appointments/:id/no-show': { path: () => `/api/v1/appointments/${bAppointmentId}/no-show`, body: {}, status: 404 },
  };

  it('covers every route with an :id', () => {
    expect(routeKeys.filter((k) => k.includes(':id')).sort()).toEqual(Object.keys(CROSS).sort());
  });

  it.each(Object.entries(CROSS))('%s → %j for A\'s admin, and for a platform admin acting in A', async (key, cross) => {
    const method = key.split(' ')[0];
    const answers = [];
    // Roles the route allows (a refused role is 403 before any record is looked up): A's admin, another
    // allowed member of A, and SUPER_ADMIN acting in A — except where the id names clinic B itself,
    // which SUPER_ADMIN may open.
    const allowed = EXPECTED[key] as readonly Role[];
    const member = allowed.find((r) => !['SUPER_ADMIN', 'SYSTEM_ADMIN', 'CLINIC_ADMIN', 'PATIENT'].includes(r));
    const roles: Role[] = ['CLINIC_ADMIN', ...(member ? [member] : []), ...(cross.status === 404 ? ['SUPER_ADMIN' as const] : [])];
    for (const role of roles) {
      const res = await send(method, { path: cross.path(), body: cross.body }, tokens[role]);
      answers.push([role, res.status]);
    }
    expect(answers).toEqual(answers.map(([role]) => [role, cross.status]));
  });

  it('leaves B\'s records untouched', async () => {
    const [appointment] = await db().query('SELECT status FROM appointments WHERE id = $1', [bAppointmentId]);
    expect(appointment.status).toBe('CONFIRMED');
    const [user] = await db().query('SELECT status FROM users WHERE id = $1', [b.userIds.DOCTOR]);
    expect(user.status).toBe('ACTIVE');
    const [clinic] = await db().query('SELECT name FROM clinics WHERE id = $1', [b.clinicId]);
    expect(clinic.name).toBe(`Clinic ${b.slug}`);
    expect(await db().query('SELECT count(*)::int AS n FROM break_glass_grants WHERE patient_id = $1', [b.patientId])).toEqual([{ n: 0 }]);
  });
});

describe('own records', () => {
  it('a PATIENT sees only their own record, never its clinical notes', async () => {
    ok(await api.patch(`/api/v1/patients/${a.patientId}`, { clinicalNotes: 'Pitta aggravation' }, tokens.DOCTOR, a.h), 200, 'notes');
    const list = await api.get('/api/v1/patients?limit=100', tokens.PATIENT, a.h);
    expect(list.body.items.map((p: { id: string }) => p.id)).toEqual([a.patientId]);
    expect(list.body.items[0]).not.toHaveProperty('clinicalNotes');
    const own = await api.get(`/api/v1/patients/${a.patientId}`, tokens.PATIENT, a.h);
    expect(own.status).toBe(200);
    expect(own.body).not.toHaveProperty('clinicalNotes');
    expect((await api.get(`/api/v1/patients/${otherPatientId}`, tokens.PATIENT, a.h)).status).toBe(404);
    // An exact search matching someone else finds nothing.
    expect((await api.get('/api/v1/patients?q=%2B919800000042', tokens.PATIENT, a.h)).body.items).toEqual([]);
    expect((await api.get('/api/v1/patients?q=%2B919800000042', tokens.RECEPTIONIST, a.h)).body.items.map((p: { id: string }) => p.id)).toEqual([otherPatientId]);
    expect((await api.put(`/api/v1/patients/${otherPatientId}/preferences`, { language: 'hi' }, tokens.PATIENT, a.h)).status).toBe(404);
  });

  it('a PATIENT sees, books, moves and cancels only their own appointments', async () => {
    const mine = await book(a);
    const theirs = await book(a, { patientId: otherPatientId });
    const list = await api.get('/api/v1/appointments?limit=100', tokens.PATIENT, a.h);
    const patients = new Set(list.body.items.map((x: { patientId: string }) => x.patientId));
    expect([...patients]).toEqual([a.patientId]);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(mine);
    expect((await api.get(`/api/v1/appointments?patientId=${otherPatientId}`, tokens.PATIENT, a.h)).body.items).toEqual([]);
    expect((await api.get(`/api/v1/appointments/${mine}`, tokens.PATIENT, a.h)).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', `/api/v1/appointments/${theirs}`, undefined],
      ['POST', `/api/v1/appointments/${theirs}/cancel`, { reason: 'not mine' }],
      ['POST', `/api/v1/appointments/${theirs}/reschedule`, { startsAt: nextSlot() }],
    ] as const) {
      expect([path, (await api.call(method, path, { token: tokens.PATIENT, body, headers: a.h })).status]).toEqual([path, 404]);
    }
    const booking = { patientId: otherPatientId, practitionerId: a.practitionerId, serviceId: a.serviceId, locationId: a.locationId, startsAt: nextSlot() };
    expect((await api.post('/api/v1/appointments', booking, tokens.PATIENT, a.h)).status).toBe(403);
    expect((await api.post(`/api/v1/appointments/${mine}/cancel`, { reason: 'changed plans' }, tokens.PATIENT, a.h)).status).toBe(200);
    const [row] = await db().query('SELECT status FROM appointments WHERE id = $1', [theirs]);
    expect(row.status).toBe('CONFIRMED');
  });

  it('a DOCTOR acts on their own appointments and schedule only', async () => {
    const theirs = await book(a, { patientId: otherPatientId, practitionerId: otherPractitionerId });
    for (const [path, body] of [
      [`/api/v1/appointments/${theirs}/reschedule`, { startsAt: nextSlot() }],
      [`/api/v1/appointments/${theirs}/check-in`, {}],
      [`/api/v1/appointments/${theirs}/complete`, {}],
      [`/api/v1/appointments/${theirs}/no-show`, {}],
    ] as const) {
      expect([path, (await api.post(path, body, tokens.DOCTOR, a.h)).status]).toEqual([path, 403]);
    }
    // Another practitioner's appointment is readable: DOCTOR "read all appointments".
    expect((await api.get(`/api/v1/appointments/${theirs}`, tokens.DOCTOR, a.h)).status).toBe(200);
    expect((await api.put(`/api/v1/practitioners/${otherPractitionerId}/schedule`, { rules: [], exceptions: [] }, tokens.DOCTOR, a.h)).status).toBe(403);
    // Moving their own appointment to the other practitioner is moving it out of their hands: refused.
    const mine = await book(a);
    expect((await api.post(`/api/v1/appointments/${mine}/reschedule`, { startsAt: nextSlot(), practitionerId: otherPractitionerId }, tokens.DOCTOR, a.h)).status).toBe(403);
    const [row] = await db().query('SELECT status, practitioner_id FROM appointments WHERE id = $1', [theirs]);
    expect(row).toEqual({ status: 'CONFIRMED', practitioner_id: otherPractitionerId });
  });
});

describe('mass assignment: clinicId, role, status and other server-managed fields', () => {
  const fields = (res: Res) => (res.body?.errors ?? []).map((e: { field: string; message: string }) => `${e.field}: ${e.message}`).join('; ');
  const count = async (sql: string, args: unknown[]) => (await db().query(sql, args))[0].n as number;

  it('patients: identity columns in a body are refused (400), nothing is written', async () => {
    const before = await count('SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1', [b.clinicId]);
    const base = { firstName: 'Mass', lastName: 'Assign', dateOfBirth: '1990-01-01', sex: 'male' };
    for (const extra of [{ clinicId: b.clinicId }, { mrn: 'MRN9999999' }, { userId: patientUserId }, { id: randomUUID() }, { preferences: { channels: [] } }]) {
      const res = await api.post('/api/v1/patients', { ...base, ...extra }, tokens.RECEPTIONIST, a.h);
      expect([extra, res.status]).toEqual([extra, 400]);
      expect(fields(res)).toContain(Object.keys(extra)[0]);
    }
    expect(await count('SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1', [b.clinicId])).toBe(before);
    const [beforeRow] = await db().query('SELECT clinic_id, mrn, user_id FROM patients WHERE id = $1', [otherPatientId]);
    for (const extra of [{ clinicId: b.clinicId }, { mrn: 'MRN0000001' }, { userId: patientUserId }]) {
      expect((await api.patch(`/api/v1/patients/${otherPatientId}`, extra, tokens.CLINIC_ADMIN, a.h)).status).toBe(400);
    }
    expect(await db().query('SELECT clinic_id, mrn, user_id FROM patients WHERE id = $1', [otherPatientId])).toEqual([beforeRow]);
  });

  it('patients: a role that may not write clinical notes is refused (403), demographics pass', async () => {
    const res = await api.patch(`/api/v1/patients/${otherPatientId}`, { address: 'New address', clinicalNotes: 'overwrite' }, tokens.RECEPTIONIST, a.h);
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(/clinical notes/);
    expect((await api.get(`/api/v1/patients/${otherPatientId}`, tokens.DOCTOR, a.h)).body).not.toMatchObject({ address: 'New address' });
    expect((await api.post('/api/v1/patients', { firstName: 'N', lastName: 'N', dateOfBirth: '1970-01-01', sex: 'male', clinicalNotes: 'x' }, tokens.RECEPTIONIST, a.h)).status).toBe(403);
    expect((await api.patch(`/api/v1/patients/${otherPatientId}`, { address: 'New address' }, tokens.RECEPTIONIST, a.h)).status).toBe(200);
    const nurse = await api.patch(`/api/v1/patients/${otherPatientId}`, { clinicalNotes: 'Nurse note' }, tokens.NURSE, a.h);
    expect(nurse.status).toBe(200);
    expect(nurse.body.clinicalNotes).toBe('Nurse note');
  });

  it('users: clinicId and status cannot be set on creation; platform roles cannot be granted; nobody changes their own role', async () => {
    for (const extra of [{ clinicId: b.clinicId }, { status: 'DISABLED' }, { id: randomUUID() }, { roles: ['CLINIC_ADMIN'] }]) {
      const res = await api.post('/api/v1/users', { email: `ma-${unique()}@test.local`, name: 'Mass', role: 'NURSE', ...extra }, tokens.CLINIC_ADMIN, a.h);
      expect([extra, res.status]).toEqual([extra, 400]);
    }
    const email = `ma-${unique()}@test.local`;
    expect((await api.post('/api/v1/users', { email, name: 'Mass', role: 'SUPER_ADMIN' }, tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
    expect(await count(`SELECT count(*)::int AS n FROM users WHERE email = $1`, [email])).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM memberships WHERE clinic_id = $1 AND role IN ('SUPER_ADMIN', 'SYSTEM_ADMIN')`, [a.clinicId])).toBe(0);

    expect((await api.patch(`/api/v1/users/${victimId}`, { role: 'CLINIC_ADMIN', clinicId: b.clinicId }, tokens.CLINIC_ADMIN, a.h)).status).toBe(400);
    expect((await api.patch(`/api/v1/users/${victimId}`, { role: 'SYSTEM_ADMIN' }, tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
    expect((await api.patch(`/api/v1/users/${a.userIds.RECEPTIONIST}`, { role: 'CLINIC_ADMIN' }, tokens.RECEPTIONIST, a.h)).status).toBe(403);
    expect((await api.patch(`/api/v1/users/${a.userIds.CLINIC_ADMIN}`, { status: 'DISABLED' }, tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
    expect(await db().query(`SELECT role FROM memberships WHERE user_id = $1 ORDER BY role`, [a.userIds.RECEPTIONIST])).toEqual([{ role: 'RECEPTIONIST' }]);
    expect(await db().query(`SELECT clinic_id FROM memberships WHERE user_id = $1`, [victimId])).toEqual([{ clinic_id: a.clinicId }]);
  });

  it('appointments: clinicId, status and journey fields cannot be set', async () => {
    const base = { patientId: a.patientId, practitionerId: a.practitionerId, serviceId: a.serviceId, locationId: a.locationId, startsAt: nextSlot() };
    for (const extra of [{ clinicId: b.clinicId }, { status: 'COMPLETED' }, { workflowId: 'appointment-x' }, { version: 7 }, { seriesId: randomUUID() }]) {
      const res = await api.post('/api/v1/appointments', { ...base, ...extra }, tokens.RECEPTIONIST, a.h);
      expect([extra, res.status]).toEqual([extra, 400]);
    }
    expect(await count('SELECT count(*)::int AS n FROM appointments WHERE clinic_id = $1 AND starts_at = $2', [a.clinicId, base.startsAt])).toBe(0);
    const id = await book(a);
    expect((await api.post(`/api/v1/appointments/${id}/cancel`, { reason: 'x', status: 'NO_SHOW' }, tokens.RECEPTIONIST, a.h)).status).toBe(400);
    expect((await api.post(`/api/v1/appointments/${id}/reschedule`, { startsAt: nextSlot(), clinicId: b.clinicId }, tokens.RECEPTIONIST, a.h)).status).toBe(400);
    expect((await api.post(`/api/v1/appointments/${id}/check-in`, { status: 'COMPLETED' }, tokens.RECEPTIONIST, a.h)).status).toBe(400);
    expect(await db().query('SELECT status, clinic_id FROM appointments WHERE id = $1', [id])).toEqual([{ status: 'CONFIRMED', clinic_id: a.clinicId }]);
  });

  it('clinics: id, slug and counters are not the caller\'s to set', async () => {
    expect((await api.post('/api/v1/clinics', { name: 'X', slug: `x-${unique()}`, timezone: 'Asia/Kolkata', id: randomUUID() }, tokens.SUPER_ADMIN)).status).toBe(400);
    expect((await api.post('/api/v1/clinics', { name: 'X', slug: `x-${unique()}`, timezone: 'Asia/Kolkata', mrnSeq: 100 }, tokens.SUPER_ADMIN)).status).toBe(400);
    for (const extra of [{ slug: 'taken-over' }, { id: b.clinicId }, { mrnSeq: 0 }]) {
      expect([extra, (await api.patch(`/api/v1/clinics/${a.clinicId}`, extra, tokens.CLINIC_ADMIN)).status]).toEqual([extra, 400]);
    }
    expect(await db().query('SELECT slug FROM clinics WHERE id = $1', [a.clinicId])).toEqual([{ slug: a.slug }]);
  });
});
