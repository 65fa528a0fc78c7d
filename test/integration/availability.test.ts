import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * GET /api/v1/availability through the real API, workers, PostgreSQL and Redis: working hours in
 * the location's zone (DST), booked appointments, rooms, schedule changes, limits, permissions.
 */
let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
/** A second practitioner working Mon–Fri 09:00–17:00 in London and Mondays 09:00–13:00 in Kolkata. */
let p2: string;
let london: string;
let hour: string;
let therapy: string;

const ok = <T extends Res>(res: T, status: number, what: string): T => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR', 'PATIENT', 'AUDITOR']);
  const post = async (path: string, body: unknown) => ok(await api.post(path, body, su, c.h), 201, path).body;
  london = (await post('/api/v1/locations', { name: 'London', timezone: 'Europe/London' })).id;
  hour = (await post('/api/v1/services', { code: 'HOUR', name: 'Long consultation', kind: 'CONSULTATION', durationMinutes: 60 })).id;
  therapy = (await post('/api/v1/services', { code: 'ABHY', name: 'Abhyanga', kind: 'AYURVEDA_THERAPY', durationMinutes: 60, needsRoom: true, therapistsRequired: 0 })).id;
  const doctor = await post('/api/v1/users', { email: `p2-${c.slug}@test.local`, name: 'Second doctor', role: 'DOCTOR', password: `pw-${c.slug}-p2-long` });
  p2 = (await post('/api/v1/practitioners', { userId: doctor.id, locationIds: [london, c.locationId] })).id;
  const rules = [
    ...[1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00', locationId: london })),
    { weekday: 1, start: '09:00', end: '13:00', locationId: c.locationId },
  ];
  ok(await api.put(`/api/v1/practitioners/${p2}/schedule`, { rules, exceptions: [] }, su, c.h), 200, 'schedule');
});
afterAll(() => stack?.stop());

interface Query { practitionerId?: string; serviceId?: string; locationId?: string; from: string; to: string }
const availability = (q: Query, token = c.tokens.RECEPTIONIST) => {
  const params = new URLSearchParams({ practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, ...q });
  return api.get(`/api/v1/availability?${params}`, token, c.h);
};
const starts = (res: Res) => (res.body.items as { startsAt: string }[]).map((s) => s.startsAt);
const book = (body: Record<string, unknown>) => api.post('/api/v1/appointments', {
  patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, ...body,
}, c.tokens.RECEPTIONIST, c.h);
const cancel = (id: string) => api.post(`/api/v1/appointments/${id}/cancel`, { reason: 'test' }, c.tokens.RECEPTIONIST, c.h);

describe('free slots', () => {
  // 2027-02-01 10:00–12:00 in Kolkata: four half-hour slots for the 24-hour doctor.
  const window = { from: '2027-02-01T10:00:00+05:30', to: '2027-02-01T12:00:00+05:30' };
  const all = ['2027-02-01T04:30:00.000Z', '2027-02-01T05:00:00.000Z', '2027-02-01T05:30:00.000Z', '2027-02-01T06:00:00.000Z'];

  it('answers slots of the service duration with the location zone, and excludes a booked slot until it is cancelled', async () => {
    const before = ok(await availability(window), 200, 'availability');
    expect(before.body).toMatchObject({ practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, timezone: 'Asia/Kolkata', durationMinutes: 30, nextCursor: null });
    expect(before.body.items[0]).toEqual({ startsAt: all[0], endsAt: all[1] });
    expect(starts(before)).toEqual(all);

    // Read again (now cached), then book: the very next read must already leave the slot out.
    ok(await availability(window), 200, 'cached read');
    const booked = ok(await book({ startsAt: all[1] }), 201, 'book');
    expect(starts(await availability(window))).toEqual([all[0], all[2], all[3]]);
    // A 60-minute service cannot start at 10:00 either now (it would run into the booking).
    expect(starts(await availability({ ...window, serviceId: hour }))).toEqual([all[2]]);

    ok(await cancel(booked.body.id), 200, 'cancel');
    expect(starts(await availability(window))).toEqual(all);
  });

  it('never offers a slot that has already started', async () => {
    const now = Date.now();
    const res = ok(await availability({ from: new Date(now - 3 * 3600_000).toISOString(), to: new Date(now + 3 * 3600_000).toISOString() }), 200, 'around now');
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(starts(res).every((s) => Date.parse(s) > now)).toBe(true);
  });

  it('shows a new leave at once (the schedule PUT invalidates)', async () => {
    const window2 = { practitionerId: p2, locationId: c.locationId, from: '2027-02-08T09:00:00+05:30', to: '2027-02-08T13:00:00+05:30' };
    expect(starts(await availability(window2))).toHaveLength(8);
    const rules = [
      ...[1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00', locationId: london })),
      { weekday: 1, start: '09:00', end: '13:00', locationId: c.locationId },
    ];
    const leave = { kind: 'LEAVE', from: '2027-02-08T10:00:00+05:30', to: '2027-02-08T12:00:00+05:30' };
    ok(await api.put(`/api/v1/practitioners/${p2}/schedule`, { rules, exceptions: [leave] }, su, c.h), 200, 'leave');
    expect(starts(await availability(window2))).toEqual([
      '2027-02-08T03:30:00.000Z', '2027-02-08T04:00:00.000Z', '2027-02-08T06:30:00.000Z', '2027-02-08T07:00:00.000Z',
    ]);
    ok(await api.put(`/api/v1/practitioners/${p2}/schedule`, { rules, exceptions: [] }, su, c.h), 200, 'leave withdrawn');
    expect(starts(await availability(window2))).toHaveLength(8);
  });
});

describe('time zones through the API', () => {
  const hours = (res: Res) => starts(res).map((s) => s.slice(0, 16));

  it('Europe/London: 09:00 local is 09:00Z before and 08:00Z after the spring change (2027-03-28)', async () => {
    const res = ok(await availability({ practitionerId: p2, serviceId: hour, locationId: london, from: '2027-03-26T00:00:00Z', to: '2027-03-30T00:00:00Z' }), 200, 'spring');
    expect(res.body.timezone).toBe('Europe/London');
    const slots = hours(res);
    expect(slots).toHaveLength(16); // Friday and Monday, eight hours each; nothing at the weekend
    expect(slots.slice(0, 8)).toEqual(['09', '10', '11', '12', '13', '14', '15', '16'].map((h) => `2027-03-26T${h}:00`));
    expect(slots.slice(8)).toEqual(['08', '09', '10', '11', '12', '13', '14', '15'].map((h) => `2027-03-29T${h}:00`));
  });

  it('Europe/London: 09:00 local is 08:00Z before and 09:00Z after the autumn change (2027-10-31)', async () => {
    const res = ok(await availability({ practitionerId: p2, serviceId: hour, locationId: london, from: '2027-10-29T00:00:00+01:00', to: '2027-11-02T00:00:00Z' }), 200, 'autumn');
    const slots = hours(res);
    expect(slots[0]).toBe('2027-10-29T08:00');
    expect(slots[7]).toBe('2027-10-29T15:00');
    expect(slots[8]).toBe('2027-11-01T09:00');
    expect(slots.at(-1)).toBe('2027-11-01T16:00');
    expect(slots).toHaveLength(16);
  });

  it('Asia/Kolkata: Monday 09:00–13:00 local is 03:30–07:30Z, and the local Monday starts on Sunday in UTC', async () => {
    const res = ok(await availability({ practitionerId: p2, serviceId: hour, from: '2027-01-10T18:00:00Z', to: '2027-01-11T18:00:00Z' }), 200, 'kolkata');
    expect(res.body.timezone).toBe('Asia/Kolkata');
    expect(hours(res)).toEqual(['2027-01-11T03:30', '2027-01-11T04:30', '2027-01-11T05:30', '2027-01-11T06:30']);
    // A range ending at 03:30Z holds no Monday hours: the practitioner's London rules do not leak into Kolkata.
    const early = ok(await availability({ practitionerId: p2, serviceId: hour, from: '2027-01-10T18:00:00Z', to: '2027-01-11T03:30:00Z' }), 200, 'kolkata early');
    expect(early.body.items).toEqual([]);
  });
});

describe('rooms', () => {
  // Monday 2027-01-04 10:00 in Kolkata: the clinic's only room is taken by the first doctor's therapy.
  const query = (serviceId: string) => availability({ practitionerId: p2, serviceId, from: '2027-01-04T09:00:00+05:30', to: '2027-01-04T13:00:00+05:30' });

  it('a service that needs a room is offered only while a room of the location is free; booking and cancelling elsewhere retire the cache', async () => {
    const hourly = ['03:30', '04:30', '05:30', '06:30'].map((t) => `2027-01-04T${t}:00.000Z`);
    expect(starts(await query(therapy))).toEqual(hourly);
    const held = ok(await book({ serviceId: therapy, roomId: c.roomId, startsAt: '2027-01-04T10:00:00+05:30' }), 201, 'therapy with the room');
    // Another practitioner, but the only room is busy at 10:00; a consultation needs no room and stays.
    expect(starts(await query(therapy))).toEqual([hourly[0], hourly[2], hourly[3]]);
    expect(starts(await query(hour))).toEqual(hourly);
    ok(await cancel(held.body.id), 200, 'cancel');
    expect(starts(await query(therapy))).toEqual(hourly);
  });

  it('offers nothing for a room service at a location without rooms', async () => {
    const res = ok(await availability({ practitionerId: p2, serviceId: therapy, locationId: london, from: '2027-03-26T00:00:00Z', to: '2027-03-27T00:00:00Z' }), 200, 'no rooms');
    expect(res.body.items).toEqual([]);
  });
});

describe('bad queries and permissions', () => {
  const range = { from: '2027-02-01T00:00:00Z', to: '2027-02-02T00:00:00Z' };

  it.each([
    ['from missing', 'query.from', { to: range.to }],
    ['from without offset', 'query.from', { ...range, from: '2027-02-01T00:00:00' }],
    ['to before from', 'query.to', { from: range.to, to: range.from }],
    ['to equal to from', 'query.to', { from: range.from, to: range.from }],
    ['range over 31 days', 'query.to', { from: range.from, to: '2027-03-05T00:00:00Z' }],
    ['practitionerId not a uuid', 'query.practitionerId', { ...range, practitionerId: 'nope' }],
  ])('%s → 400 naming %s', async (_label, field, q) => {
    const res = await availability(q as Query);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('accepts exactly 31 days', async () => {
    ok(await availability({ from: range.from, to: '2027-03-04T00:00:00Z' }), 200, '31 days');
  });

  it('422 for resources the clinic does not have, naming each field', async () => {
    const other = await createClinic(api, su, []);
    const res = await availability({ ...range, practitionerId: other.practitionerId, serviceId: other.serviceId });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['query.practitionerId', 'query.serviceId']);
    const notThere = await availability({ ...range, practitionerId: c.practitionerId, locationId: london });
    expect(notThere.status).toBe(422);
    expect(notThere.body.errors).toEqual([{ field: 'query.locationId', message: expect.any(String) }]);
  });

  it('patients may read it (to book); roles without schedule access and other clinics may not', async () => {
    ok(await availability(range, c.tokens.PATIENT), 200, 'patient');
    expect((await availability(range, c.tokens.AUDITOR)).status).toBe(403);
    const other = await createClinic(api, su, ['RECEPTIONIST']);
    expect((await availability(range, other.tokens.RECEPTIONIST)).status).toBe(403);
    expect((await api.get(`/api/v1/availability?${new URLSearchParams({ practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, ...range })}`)).status).toBe(401);
  });
});
