import type { WeeklyRule } from '../scheduling';
import { allRoomsBusy, availableSlots, AvailabilityFacts, RoomBooking } from './slots';

const LOC = 'loc';
const at = (iso: string) => new Date(iso);
const booking = (roomId: string, from: string, to: string): RoomBooking => ({ roomId, startsAt: at(from), endsAt: at(to) });
const iso = (xs: { startsAt: Date; endsAt: Date }[]) => xs.map((x) => [x.startsAt.toISOString(), x.endsAt.toISOString()]);
const starts = (xs: { startsAt: Date }[]) => xs.map((x) => x.startsAt.toISOString().slice(11, 16));

describe('allRoomsBusy', () => {
  it('is the time every room is occupied at once', () => {
    const busy = allRoomsBusy(['r1', 'r2'], [
      booking('r1', '2027-01-04T09:00:00Z', '2027-01-04T11:00:00Z'),
      booking('r2', '2027-01-04T10:00:00Z', '2027-01-04T12:00:00Z'),
      booking('r2', '2027-01-04T08:00:00Z', '2027-01-04T08:30:00Z'),
    ]);
    expect(iso(busy)).toEqual([['2027-01-04T10:00:00.000Z', '2027-01-04T11:00:00.000Z']]);
  });

  it('is nothing while one room has no booking at all, or when there are no rooms', () => {
    expect(allRoomsBusy(['r1', 'r2'], [booking('r1', '2027-01-04T09:00:00Z', '2027-01-04T11:00:00Z')])).toEqual([]);
    expect(allRoomsBusy([], [booking('r1', '2027-01-04T09:00:00Z', '2027-01-04T11:00:00Z')])).toEqual([]);
  });

  it('joins back-to-back bookings of one room', () => {
    const busy = allRoomsBusy(['r1'], [
      booking('r1', '2027-01-04T10:00:00Z', '2027-01-04T10:30:00Z'),
      booking('r1', '2027-01-04T09:30:00Z', '2027-01-04T10:00:00Z'),
    ]);
    expect(iso(busy)).toEqual([['2027-01-04T09:30:00.000Z', '2027-01-04T10:30:00.000Z']]);
  });
});

describe('availableSlots', () => {
  // Monday 2027-01-04, Asia/Kolkata (+05:30): 09:00–12:00 local = 03:30–06:30Z.
  const rules: WeeklyRule[] = [{ weekday: 1, start: '09:00', end: '12:00', locationId: LOC }];
  const base: AvailabilityFacts = { schedule: { rules, exceptions: [], timezone: 'Asia/Kolkata', locationId: LOC }, durationMinutes: 60, busy: [] };
  const day = [at('2027-01-04T00:00:00+05:30'), at('2027-01-05T00:00:00+05:30')] as const;

  it('offers the working hours in steps of the duration, minus the practitioner\'s appointments', () => {
    expect(starts(availableSlots(base, ...day))).toEqual(['03:30', '04:30', '05:30']);
    const booked = { ...base, busy: [{ startsAt: at('2027-01-04T04:30:00Z'), endsAt: at('2027-01-04T05:00:00Z') }] };
    expect(starts(availableSlots(booked, ...day))).toEqual(['03:30', '05:30']);
  });

  it('for a service that needs a room, leaves out times when every room is taken', () => {
    const rooms = { roomIds: ['r1', 'r2'], bookings: [booking('r1', '2027-01-04T03:30:00Z', '2027-01-04T04:30:00Z')] };
    expect(starts(availableSlots({ ...base, rooms }, ...day))).toEqual(['03:30', '04:30', '05:30']);
    rooms.bookings.push(booking('r2', '2027-01-04T03:00:00Z', '2027-01-04T04:00:00Z'));
    expect(starts(availableSlots({ ...base, rooms }, ...day))).toEqual(['04:30', '05:30']);
  });

  it('offers nothing for a room service at a location without rooms', () => {
    expect(availableSlots({ ...base, rooms: { roomIds: [], bookings: [] } }, ...day)).toEqual([]);
  });

  it('keeps local opening time across a DST change (Europe/London, 2027-03-28)', () => {
    const london: AvailabilityFacts = {
      schedule: { rules: [5, 1].map((weekday) => ({ weekday, start: '09:00', end: '10:00', locationId: LOC })), exceptions: [], timezone: 'Europe/London', locationId: LOC },
      durationMinutes: 30,
      busy: [],
    };
    expect(iso(availableSlots(london, at('2027-03-26T00:00:00Z'), at('2027-03-30T00:00:00Z')))).toEqual([
      ['2027-03-26T09:00:00.000Z', '2027-03-26T09:30:00.000Z'],
      ['2027-03-26T09:30:00.000Z', '2027-03-26T10:00:00.000Z'],
      ['2027-03-29T08:00:00.000Z', '2027-03-29T08:30:00.000Z'],
      ['2027-03-29T08:30:00.000Z', '2027-03-29T09:00:00.000Z'],
    ]);
  });
});
