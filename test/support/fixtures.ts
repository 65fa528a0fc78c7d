import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Api } from './http';
import { ADMIN } from './stack';

export async function login(api: Api, email: string, password: string): Promise<string> {
  const res = await api.post('/api/v1/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

export const adminToken = (api: Api) => login(api, ADMIN.email, ADMIN.password);

export interface ClinicFixture {
  clinicId: string;
  slug: string;
  locationId: string;
  roomId: string;
  serviceId: string;
  practitionerId: string;
  patientId: string;
  /** Tokens of members by role; `admin` is the clinic's CLINIC_ADMIN. */
  tokens: Record<string, string>;
  userIds: Record<string, string>;
  h: Record<string, string>;
}

const expectStatus = (res: { status: number; body: any }, status: number, what: string) => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

/**
 * A working clinic set up through the public API: a location (Asia/Kolkata), a room, a 30-minute
 * consultation, a doctor working every day 00:00–24:00 local, a patient, and one member per role asked for.
 */
export async function createClinic(api: Api, superToken: string, roles: string[] = ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']): Promise<ClinicFixture> {
  const slug = `c-${randomUUID().slice(0, 8)}`;
  const clinic = expectStatus(await api.post('/api/v1/clinics', { name: `Clinic ${slug}`, slug, timezone: 'Asia/Kolkata' }, superToken), 201, 'create clinic');
  const clinicId = clinic.body.id;
  const h = { 'x-clinic-id': clinicId };
  const su = (path: string, body: unknown) => api.post(path, body, superToken, h);
  const location = expectStatus(await su('/api/v1/locations', { name: 'Main', timezone: 'Asia/Kolkata' }), 201, 'location');
  const room = expectStatus(await su('/api/v1/rooms', { locationId: location.body.id, name: 'Room 1', kind: 'therapy' }), 201, 'room');
  const service = expectStatus(await su('/api/v1/services', { code: 'CONS', name: 'Consultation', kind: 'CONSULTATION', durationMinutes: 30 }), 201, 'service');

  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};
  for (const role of roles) {
    const email = `${role.toLowerCase()}-${slug}@test.local`;
    const password = `pw-${slug}-${role}-long`;
    const user = expectStatus(await su('/api/v1/users', { email, name: `${role} of ${slug}`, role, password }), 201, `user ${role}`);
    userIds[role] = user.body.id;
    tokens[role] = await login(api, email, password);
  }
  const doctorUser = userIds.DOCTOR ?? expectStatus(await su('/api/v1/users', { email: `doc-${slug}@test.local`, name: 'Doctor', role: 'DOCTOR', password: `pw-${slug}-doc-long` }), 201, 'doctor').body.id;
  const practitioner = expectStatus(await su('/api/v1/practitioners', { userId: doctorUser, specialty: 'Ayurveda', locationIds: [location.body.id] }), 201, 'practitioner');
  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: location.body.id }));
  expectStatus(await api.put(`/api/v1/practitioners/${practitioner.body.id}/schedule`, { rules, exceptions: [] }, superToken, h), 200, 'schedule');
  const patient = expectStatus(await su('/api/v1/patients', { firstName: 'Asha', lastName: 'Rao', dateOfBirth: '1985-04-12', sex: 'female', phone: '+919812345678' }), 201, 'patient');
  return {
    clinicId, slug, locationId: location.body.id, roomId: room.body.id, serviceId: service.body.id, practitionerId: practitioner.body.id,
    patientId: patient.body.id, tokens, userIds, h,
  };
}

let slotCounter = 0;
/** A distinct future half-hour slot start (UTC), so tests never collide with each other. */
export function nextSlot(daysAhead = 3): string {
  slotCounter += 1;
  return DateTime.utc().startOf('day').plus({ days: daysAhead, minutes: 30 * slotCounter }).toISO()!;
}
