import { randomUUID } from 'node:crypto';
import { client } from '../../test/support/http';

/** One clinic seeded through the public API only (no SQL): practitioners working all day every day, patients, a receptionist. */
export interface Seed {
  clinicId: string;
  locationId: string;
  serviceId: string;
  token: string;
  practitionerIds: string[];
  patientIds: string[];
}

export async function seedClinic(baseUrl: string, admin: { email: string; password: string }, counts: { practitioners: number; patients: number }): Promise<Seed> {
  const api = client(baseUrl);
  const expect = <T extends { status: number; body: any }>(res: T, status: number, what: string): T => {
    if (res.status !== status) throw new Error(`seed ${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const login = async (email: string, password: string) => expect(await api.post('/api/v1/auth/login', { email, password }), 200, `login ${email}`).body.accessToken as string;

  const su = await login(admin.email, admin.password);
  const slug = `bench-${randomUUID().slice(0, 8)}`;
  const clinicId = expect(await api.post('/api/v1/clinics', { name: `Bench ${slug}`, slug, timezone: 'Asia/Kolkata' }, su), 201, 'clinic').body.id as string;
  const h = { 'x-clinic-id': clinicId };
  const post = (p: string, body: unknown) => api.post(p, body, su, h);
  const locationId = expect(await post('/api/v1/locations', { name: 'Main', timezone: 'Asia/Kolkata' }), 201, 'location').body.id as string;
  const serviceId = expect(await post('/api/v1/services', { code: 'CONS', name: 'Consultation', kind: 'CONSULTATION', durationMinutes: 30 }), 201, 'service').body.id as string;
  const receptionist = { email: `reception-${slug}@bench.local`, password: `pw-${randomUUID()}` };
  expect(await post('/api/v1/users', { ...receptionist, name: 'Front desk', role: 'RECEPTIONIST' }), 201, 'receptionist');
  const token = await login(receptionist.email, receptionist.password);

  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId }));
  const practitionerIds: string[] = [];
  for (let i = 0; i < counts.practitioners; i++) {
    const userId = expect(await post('/api/v1/users', { email: `doctor${i}-${slug}@bench.local`, name: `Doctor ${i}`, role: 'DOCTOR' }), 201, `doctor ${i}`).body.id;
    const id = expect(await post('/api/v1/practitioners', { userId, specialty: 'Ayurveda', locationIds: [locationId] }), 201, `practitioner ${i}`).body.id as string;
    expect(await api.put(`/api/v1/practitioners/${id}/schedule`, { rules, exceptions: [] }, su, h), 200, `schedule ${i}`);
    practitionerIds.push(id);
  }
  const patientIds: string[] = [];
  for (let i = 0; i < counts.patients; i++) {
    const body = { firstName: `Patient${i}`, lastName: 'Bench', dateOfBirth: '1985-04-12', sex: 'female', email: `patient${i}-${slug}@bench.local` };
    patientIds.push(expect(await post('/api/v1/patients', body), 201, `patient ${i}`).body.id as string);
  }
  return { clinicId, locationId, serviceId, token, practitionerIds, patientIds };
}
