import type { Interval, WeeklyRule } from '../scheduling';
import { availableSlots, decideSlot, referenceProblem, type SlotFacts, type Staff } from './decide';

// Monday 2027-01-04, Asia/Kolkata (+05:30): 09:00–12:00 local = 03:30–06:30Z.
const LOC = 'loc-1';
const at = (iso: string) => new Date(iso);
const span = (from: string, to: string): Interval => ({ startsAt: at(from), endsAt: at(to) });
const rules: WeeklyRule[] = [{ weekday: 1, start: '09:00', end: '12:00', locationId: LOC }];
const staff = (id: string, r: WeeklyRule[] = rules): Staff => ({ id, locationIds: [LOC], schedule: { rules: r, exceptions: [], timezone: 'Asia/Kolkata', locationId: LOC } });
const starts = (xs: { startsAt: Date }[]) => xs.map((x) => x.startsAt.toISOString().slice(11, 16));
const day = [at('2027-01-04T00:00:00+05:30'), at('2027-01-05T00:00:00+05:30')] as const;
const nine = { startsAt: at('2027-01-04T03:30:00Z'), endsAt: at('2027-01-04T04:30:00Z') };

function facts(over: Partial<SlotFacts> = {}, busy: Record<string, Interval[]> = {}): SlotFacts {
  return {
    clinicId: 'c', locationId: LOC, timezone: 'Asia/Kolkata', patientKnown: true,
    practitioner: staff('doc'),
    service: { durationMinutes: 60, requiresPayment: false, needsRoom: false, roomKind: null, therapistsRequired: 0 },
    rooms: [], therapists: [], busy: new Map(Object.entries(busy)), ...over,
  };
}
const therapy = (over: Partial<SlotFacts> = {}, busy: Record<string, Interval[]> = {}) => facts({
  service: { durationMinutes: 60, requiresPayment: false, needsRoom: true, roomKind: 'THERAPY', therapistsRequired: 2 },
  rooms: [{ id: 'room-a', kind: 'THERAPY', locationId: LOC }, { id: 'room-b', kind: 'THERAPY', locationId: LOC }],
  therapists: [staff('t1'), staff('t2'), staff('t3')], ...over,
}, busy);

describe('decideSlot', () => {
  it('takes a free slot inside the schedule with no extra resources for a consultation', () => {
    expect(decideSlot(facts(), nine)).toEqual({ ok: true, roomId: null, therapistIds: [] });
  });

  it('refuses outside the schedule, and a busy practitioner as a taken slot', () => {
    expect(decideSlot(facts(), { startsAt: at('2027-01-04T06:00:00Z'), endsAt: at('2027-01-04T07:00:00Z') })).toMatchObject({ ok: false, code: 'OUTSIDE_SCHEDULE' });
    expect(decideSlot(facts({}, { doc: [span('2027-01-04T04:00:00Z', '2027-01-04T05:00:00Z')] }), nine)).toMatchObject({ ok: false, code: 'SLOT_TAKEN', resource: 'practitioner' });
  });

  it('a therapy takes a free room of its kind and two free therapists, skipping busy ones', () => {
    const f = therapy({}, { 'room-a': [nine], t1: [nine] });
    expect(decideSlot(f, nine)).toEqual({ ok: true, roomId: 'room-b', therapistIds: ['t2', 't3'] });
  });

  it('is a taken slot when no room of the kind is free, or too few therapists are', () => {
    expect(decideSlot(therapy({}, { 'room-a': [nine], 'room-b': [nine] }), nine)).toMatchObject({ ok: false, code: 'SLOT_TAKEN', resource: 'room' });
    expect(decideSlot(therapy({}, { t1: [nine], t2: [nine] }), nine)).toMatchObject({ ok: false, code: 'SLOT_TAKEN', resource: 'therapists' });
  });

  it('a therapist outside their own schedule cannot be taken', () => {
    const afternoon: WeeklyRule[] = [{ weekday: 1, start: '14:00', end: '18:00', locationId: LOC }];
    expect(decideSlot(therapy({ therapists: [staff('t1'), staff('t2', afternoon)] }), nine)).toMatchObject({ ok: false, resource: 'therapists' });
  });

  it('named resources are taken or refused, never replaced', () => {
    expect(decideSlot(therapy(), { ...nine, roomId: 'room-b', therapistIds: ['t3', 't1'] })).toEqual({ ok: true, roomId: 'room-b', therapistIds: ['t3', 't1'] });
    expect(decideSlot(therapy({}, { 'room-b': [nine] }), { ...nine, roomId: 'room-b' })).toMatchObject({ ok: false, resource: 'room' });
    expect(decideSlot(therapy({}, { t3: [nine] }), { ...nine, therapistIds: ['t3'] })).toMatchObject({ ok: false, resource: 'therapists' });
  });

  it('a reschedule keeps the resources it holds when they are still free', () => {
    expect(decideSlot(therapy(), { ...nine, prefer: { roomId: 'room-b', therapistIds: ['t3', 't2'] } })).toEqual({ ok: true, roomId: 'room-b', therapistIds: ['t2', 't3'] });
  });

  it('names the wrong references', () => {
    expect(referenceProblem(facts({ practitioner: null, service: null, patientKnown: false }), {})).toEqual({ code: 'UNKNOWN_REFERENCE', fields: ['patientId', 'practitionerId', 'serviceId'] });
    expect(referenceProblem(therapy(), { roomId: 'nope', therapistIds: ['doc'] })).toEqual({ code: 'UNKNOWN_REFERENCE', fields: ['roomId', 'therapistIds'] });
    expect(referenceProblem(therapy({ rooms: [{ id: 'store', kind: 'STORE', locationId: LOC }] }), { roomId: 'store' })).toEqual({ code: 'WRONG_ROOM_KIND' });
    expect(referenceProblem(therapy({ rooms: [{ id: 'far', kind: 'THERAPY', locationId: 'loc-2' }] }), { roomId: 'far' })).toEqual({ code: 'NOT_AT_LOCATION', field: 'roomId' });
    expect(referenceProblem(facts({ practitioner: { ...staff('doc'), locationIds: ['loc-2'] } }), {})).toEqual({ code: 'NOT_AT_LOCATION', field: 'locationId' });
  });
});

describe('availableSlots', () => {
  it('offers the working hours in steps of the duration, minus the practitioner\'s appointments', () => {
    expect(starts(availableSlots(facts(), ...day))).toEqual(['03:30', '04:30', '05:30']);
    expect(starts(availableSlots(facts({}, { doc: [span('2027-01-04T04:30:00Z', '2027-01-04T05:00:00Z')] }), ...day))).toEqual(['03:30', '05:30']);
  });

  it('hides times when no room of the kind is free, or too few therapists', () => {
    expect(starts(availableSlots(therapy({}, { 'room-a': [nine], 'room-b': [nine] }), ...day))).toEqual(['04:30', '05:30']);
    const late = span('2027-01-04T05:30:00Z', '2027-01-04T06:30:00Z');
    expect(starts(availableSlots(therapy({}, { t1: [late], t2: [late] }), ...day))).toEqual(['03:30', '04:30']);
  });

  it('offers nothing without rooms, or with a schedule that cannot be read', () => {
    expect(availableSlots(therapy({ rooms: [] }), ...day)).toEqual([]);
    const broken = staff('doc', [{ weekday: 1, start: '25:00', end: '26:00', locationId: LOC }]);
    expect(availableSlots(facts({ practitioner: broken }), ...day)).toEqual([]);
  });
});
