import { Settings } from 'luxon';
import {
  freeSlots,
  isWithinSchedule,
  validateSchedule,
  workingWindows,
  type Interval,
  type ScheduleException,
  type ScheduleInput,
  type WeeklyRule,
} from './index';

const LOC = 'loc-a';
const OTHER = 'loc-b';
const WEEKDAYS = [1, 2, 3, 4, 5];

const rule = (weekday: number, start: string, end: string, locationId = LOC): WeeklyRule => ({ weekday, start, end, locationId });
const schedule = (timezone: string, rules: WeeklyRule[], exceptions: ScheduleException[] = []): ScheduleInput => ({
  rules,
  exceptions,
  timezone,
  locationId: LOC,
});
const slot = (startsAt: string, endsAt: string): Interval => ({ startsAt: new Date(startsAt), endsAt: new Date(endsAt) });
/** Windows as ISO UTC pairs, for readable assertions. */
const iso = (intervals: Interval[]) => intervals.map((i) => [i.startsAt.toISOString(), i.endsAt.toISOString()]);
const windowsOn = (s: ScheduleInput, from: string, to: string) => iso(workingWindows(s, new Date(from), new Date(to)));

describe('workingWindows: Europe/London across DST (2026-03-29 and 2026-10-25)', () => {
  const london = schedule('Europe/London', WEEKDAYS.map((d) => rule(d, '09:00', '17:00')));

  it('keeps 09:00 local when clocks spring forward: 09:00Z on Friday, 08:00Z on Monday', () => {
    expect(windowsOn(london, '2026-03-27T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      ['2026-03-27T09:00:00.000Z', '2026-03-27T17:00:00.000Z'],
      ['2026-03-30T08:00:00.000Z', '2026-03-30T16:00:00.000Z'],
    ]);
  });

  it('keeps 09:00 local when clocks fall back: 08:00Z on Friday, 09:00Z on Monday', () => {
    expect(windowsOn(london, '2026-10-23T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      ['2026-10-23T08:00:00.000Z', '2026-10-23T16:00:00.000Z'],
      ['2026-10-26T09:00:00.000Z', '2026-10-26T17:00:00.000Z'],
    ]);
  });

  it('on the transition days themselves a rule spanning the change lasts 5 h (spring) and 7 h (autumn) of real time', () => {
    const sunday = schedule('Europe/London', [rule(7, '00:00', '06:00'), rule(7, '09:00', '17:00')]);
    expect(windowsOn(sunday, '2026-03-28T12:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      ['2026-03-29T00:00:00.000Z', '2026-03-29T05:00:00.000Z'],
      ['2026-03-29T08:00:00.000Z', '2026-03-29T16:00:00.000Z'],
    ]);
    expect(windowsOn(sunday, '2026-10-24T12:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      ['2026-10-24T23:00:00.000Z', '2026-10-25T06:00:00.000Z'],
      ['2026-10-25T09:00:00.000Z', '2026-10-25T17:00:00.000Z'],
    ]);
  });

  it('reads a start skipped by spring-forward with the pre-gap offset, and drops a window the gap swallows', () => {
    // 01:00–02:00 local does not exist on 2026-03-29: 01:30 reads as 01:30Z (02:30 BST).
    const gap = schedule('Europe/London', [rule(7, '01:30', '03:00')]);
    expect(windowsOn(gap, '2026-03-29T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      ['2026-03-29T01:30:00.000Z', '2026-03-29T02:00:00.000Z'],
    ]);
    const swallowed = schedule('Europe/London', [rule(7, '01:30', '02:15')]);
    expect(windowsOn(swallowed, '2026-03-29T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([]);
  });

  it('takes the first occurrence of a repeated fall-back time, whatever the current date', () => {
    // 01:00–02:00 local happens twice on 2026-10-25; luxon alone would pick by today's offset.
    const repeated = schedule('Europe/London', [rule(7, '01:30', '02:30')]);
    const expected = [['2026-10-25T00:30:00.000Z', '2026-10-25T02:30:00.000Z']];
    const realNow = Settings.now;
    try {
      for (const today of [Date.UTC(2026, 6, 1), Date.UTC(2026, 11, 1)]) {
        Settings.now = () => today;
        expect(windowsOn(repeated, '2026-10-24T12:00:00Z', '2026-10-26T00:00:00Z')).toEqual(expected);
      }
    } finally {
      Settings.now = realNow;
    }
  });

  it('accepts 24:00 as end of day and joins it to a rule starting at the next midnight', () => {
    const overnight = schedule('Europe/London', [rule(1, '18:00', '24:00'), rule(2, '00:00', '06:00')]);
    expect(windowsOn(overnight, '2026-03-30T00:00:00Z', '2026-04-01T00:00:00Z')).toEqual([
      ['2026-03-30T17:00:00.000Z', '2026-03-31T05:00:00.000Z'],
    ]);
    expect(isWithinSchedule(overnight, slot('2026-03-30T23:30:00+01:00', '2026-03-31T00:30:00+01:00'))).toBe(true);
  });

  it('clips windows to [from, to)', () => {
    expect(windowsOn(london, '2026-03-30T10:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      ['2026-03-30T10:00:00.000Z', '2026-03-30T12:00:00.000Z'],
    ]);
    expect(windowsOn(london, '2026-03-30T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([]);
  });
});

describe('workingWindows: Asia/Kolkata (+05:30, no DST)', () => {
  const kolkata = schedule('Asia/Kolkata', [rule(1, '09:00', '13:00')]);

  it('maps 09:00 local to 03:30Z in March and July alike', () => {
    expect(windowsOn(kolkata, '2026-03-29T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      ['2026-03-30T03:30:00.000Z', '2026-03-30T07:30:00.000Z'],
    ]);
    expect(windowsOn(kolkata, '2026-07-06T00:00:00Z', '2026-07-07T00:00:00Z')).toEqual([
      ['2026-07-06T03:30:00.000Z', '2026-07-06T07:30:00.000Z'],
    ]);
  });

  it('uses the local calendar day, which starts at 18:30Z the day before', () => {
    // Monday 00:00–01:00 in Kolkata is still Sunday in UTC.
    const early = schedule('Asia/Kolkata', [rule(1, '00:00', '01:00')]);
    expect(windowsOn(early, '2026-03-29T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      ['2026-03-29T18:30:00.000Z', '2026-03-29T19:30:00.000Z'],
    ]);
  });

  it('accepts a booking given in local offset and rejects one starting before opening', () => {
    expect(isWithinSchedule(kolkata, slot('2026-03-30T09:00:00+05:30', '2026-03-30T09:30:00+05:30'))).toBe(true);
    expect(isWithinSchedule(kolkata, slot('2026-03-30T08:45:00+05:30', '2026-03-30T09:15:00+05:30'))).toBe(false);
  });
});

describe('rules and exceptions', () => {
  const MONDAY = ['2026-03-30T00:00:00+01:00', '2026-03-31T00:00:00+01:00'] as const;
  const monday = (exceptions: ScheduleException[] = [], rules = [rule(1, '09:00', '17:00')]) =>
    schedule('Europe/London', rules, exceptions);

  it('merges adjacent rules so a booking may run across the seam', () => {
    const split = monday([], [rule(1, '09:00', '12:00'), rule(1, '12:00', '17:00')]);
    expect(windowsOn(split, ...MONDAY)).toEqual([['2026-03-30T08:00:00.000Z', '2026-03-30T16:00:00.000Z']]);
    expect(isWithinSchedule(split, slot('2026-03-30T11:30:00+01:00', '2026-03-30T12:30:00+01:00'))).toBe(true);

    const lunchBreak = monday([], [rule(1, '09:00', '12:00'), rule(1, '13:00', '17:00')]);
    expect(isWithinSchedule(lunchBreak, slot('2026-03-30T11:30:00+01:00', '2026-03-30T12:30:00+01:00'))).toBe(false);
  });

  it('ignores rules for another location', () => {
    expect(windowsOn(monday([], [rule(1, '09:00', '17:00', OTHER)]), ...MONDAY)).toEqual([]);
  });

  it.each([
    ['no location', undefined],
    ['null location', null],
    ['this location', LOC],
  ])('LEAVE with %s removes part of a window', (_label, locationId) => {
    const leave = monday([{ kind: 'LEAVE', from: '2026-03-30T11:00:00+01:00', to: '2026-03-30T13:00:00+01:00', locationId }]);
    expect(windowsOn(leave, ...MONDAY)).toEqual([
      ['2026-03-30T08:00:00.000Z', '2026-03-30T10:00:00.000Z'],
      ['2026-03-30T12:00:00.000Z', '2026-03-30T16:00:00.000Z'],
    ]);
    expect(isWithinSchedule(leave, slot('2026-03-30T12:30:00+01:00', '2026-03-30T13:30:00+01:00'))).toBe(false);
    expect(isWithinSchedule(leave, slot('2026-03-30T13:00:00+01:00', '2026-03-30T13:30:00+01:00'))).toBe(true);
  });

  it('does not apply LEAVE recorded for another location', () => {
    const leave = monday([{ kind: 'LEAVE', from: '2026-03-30T11:00:00+01:00', to: '2026-03-30T13:00:00+01:00', locationId: OTHER }]);
    expect(windowsOn(leave, ...MONDAY)).toEqual([['2026-03-30T08:00:00.000Z', '2026-03-30T16:00:00.000Z']]);
  });

  it('adds EXTRA hours on a day with no rules, but not EXTRA for another location', () => {
    const saturday = monday([
      { kind: 'EXTRA', from: '2026-03-28T10:00:00Z', to: '2026-03-28T14:00:00Z' },
      { kind: 'EXTRA', from: '2026-03-28T15:00:00Z', to: '2026-03-28T18:00:00Z', locationId: OTHER },
    ]);
    expect(windowsOn(saturday, '2026-03-28T00:00:00Z', '2026-03-29T00:00:00Z')).toEqual([
      ['2026-03-28T10:00:00.000Z', '2026-03-28T14:00:00.000Z'],
    ]);
    expect(isWithinSchedule(saturday, slot('2026-03-28T13:00:00Z', '2026-03-28T14:00:00Z'))).toBe(true);
    expect(isWithinSchedule(saturday, slot('2026-03-28T15:00:00Z', '2026-03-28T16:00:00Z'))).toBe(false);
  });

  it('joins EXTRA hours to an adjacent rule window, and LEAVE beats EXTRA', () => {
    const evening = monday([
      { kind: 'EXTRA', from: '2026-03-30T17:00:00+01:00', to: '2026-03-30T19:00:00+01:00' },
      { kind: 'LEAVE', from: '2026-03-30T18:30:00+01:00', to: '2026-03-30T20:00:00+01:00' },
    ]);
    expect(windowsOn(evening, ...MONDAY)).toEqual([['2026-03-30T08:00:00.000Z', '2026-03-30T17:30:00.000Z']]);
  });

  it('throws instead of silently ignoring an unreadable exception or time zone', () => {
    const broken = monday([{ kind: 'LEAVE', from: 'next tuesday', to: '2026-03-30T13:00:00+01:00' }]);
    expect(() => workingWindows(broken, new Date(MONDAY[0]), new Date(MONDAY[1]))).toThrow(RangeError);
    const nowhere = { ...monday(), timezone: 'Mars/Olympus_Mons' };
    expect(() => workingWindows(nowhere, new Date(MONDAY[0]), new Date(MONDAY[1]))).toThrow(RangeError);
  });
});

describe('isWithinSchedule at window edges', () => {
  const london = schedule('Europe/London', [rule(1, '09:00', '17:00')]);

  it.each([
    ['exactly the window', '09:00', '17:00', true],
    ['ending at closing time', '16:00', '17:00', true],
    ['crossing closing time', '16:30', '17:30', false],
    ['crossing opening time', '08:30', '09:30', false],
    ['entirely outside', '17:00', '18:00', false],
    ['empty', '10:00', '10:00', false],
    ['inverted', '11:00', '10:00', false],
  ])('%s (%s–%s local) → %s', (_label, start, end, expected) => {
    expect(isWithinSchedule(london, slot(`2026-03-30T${start}:00+01:00`, `2026-03-30T${end}:00+01:00`))).toBe(expected);
  });
});

describe('freeSlots', () => {
  // Monday 2026-03-30, BST: 09:00 local = 08:00Z.
  const london = schedule('Europe/London', [rule(1, '09:00', '12:00'), rule(1, '13:10', '14:00')]);
  const day = { from: new Date('2026-03-30T00:00:00+01:00'), to: new Date('2026-03-31T00:00:00+01:00') };
  const local = (intervals: Interval[]) =>
    intervals.map((i) => new Date(i.startsAt.getTime() + 3_600_000).toISOString().slice(11, 16)); // BST start times

  it('starts every duration by default, aligned to each window start', () => {
    expect(local(freeSlots(london, { ...day, durationMinutes: 30, busy: [] }))).toEqual([
      '09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '13:10',
    ]);
  });

  it('excludes slots overlapping a busy interval, but not ones merely touching it', () => {
    const busy = [slot('2026-03-30T09:30:00+01:00', '2026-03-30T10:00:00+01:00')];
    const slots = freeSlots(london, { ...day, durationMinutes: 30, stepMinutes: 15, busy });
    expect(local(slots)).toEqual([
      '09:00', '10:00', '10:15', '10:30', '10:45', '11:00', '11:15', '11:30', '13:10', '13:25',
    ]);
    expect(slots.every((s) => s.endsAt.getTime() - s.startsAt.getTime() === 30 * 60_000)).toBe(true);
  });

  it('keeps the grid when `from` falls mid-window and stops at `to`', () => {
    const slots = freeSlots(london, {
      from: new Date('2026-03-30T09:10:00+01:00'),
      to: new Date('2026-03-30T11:00:00+01:00'),
      durationMinutes: 30,
      busy: [],
    });
    expect(local(slots)).toEqual(['09:30', '10:00', '10:30']);
  });

  it('realigns after a leave ends', () => {
    const leave = { ...london, exceptions: [{ kind: 'LEAVE' as const, from: '2026-03-30T09:00:00+01:00', to: '2026-03-30T10:20:00+01:00' }] };
    expect(local(freeSlots(leave, { ...day, durationMinutes: 45, busy: [] }))).toEqual(['10:20', '11:05', '13:10']);
  });

  it('rejects a non-positive or fractional duration or step', () => {
    expect(() => freeSlots(london, { ...day, durationMinutes: 0, busy: [] })).toThrow(RangeError);
    expect(() => freeSlots(london, { ...day, durationMinutes: 30, stepMinutes: 0.5, busy: [] })).toThrow(RangeError);
  });
});

describe('validateSchedule', () => {
  const exception = (from: string, to: string): ScheduleException => ({ kind: 'LEAVE', from, to });

  it('accepts a valid schedule, including adjacent rules, 24:00, and equal times on other days or locations', () => {
    expect(
      validateSchedule(
        [rule(1, '09:00', '12:00'), rule(1, '12:00', '24:00'), rule(2, '09:00', '12:00'), rule(1, '10:00', '11:00', OTHER)],
        [exception('2026-03-30T09:00:00+01:00', '2026-03-30T10:00:00Z'), exception('2026-03-30T09:00:00Z', '2026-03-30T16:00:00+0530')],
      ),
    ).toEqual([]);
  });

  it('requires end after start', () => {
    expect(validateSchedule([rule(1, '09:00', '17:00'), rule(2, '12:00', '09:00'), rule(3, '10:00', '10:00')], [])).toEqual([
      { path: 'rules.1.end', message: 'must be after start' },
      { path: 'rules.2.end', message: 'must be after start' },
    ]);
  });

  it('rejects malformed times and weekdays out of 1–7', () => {
    const errors = validateSchedule(
      [rule(0, '09:00', '17:00'), rule(8, '9:00', '17:00'), rule(1, '24:00', '24:00'), rule(1, '09:00', '24:30'), rule(1.5, '09:60', '17:00')],
      [],
    );
    expect(errors.map((e) => e.path)).toEqual([
      'rules.0.weekday',
      'rules.1.weekday',
      'rules.1.start',
      'rules.2.start',
      'rules.3.end',
      'rules.4.weekday',
      'rules.4.start',
    ]);
  });

  it('reports overlapping rules on the same weekday and location at the later rule', () => {
    expect(
      validateSchedule([rule(1, '09:00', '12:00'), rule(2, '09:00', '17:00'), rule(1, '11:00', '13:00'), rule(1, '08:00', '18:00')], []),
    ).toEqual([
      { path: 'rules.2', message: 'overlaps rules.0 (same weekday and location)' },
      { path: 'rules.3', message: 'overlaps rules.0 (same weekday and location)' },
      { path: 'rules.3', message: 'overlaps rules.2 (same weekday and location)' },
    ]);
  });

  it('requires exception instants with offset, and to after from', () => {
    expect(
      validateSchedule(
        [],
        [
          exception('2026-03-30T10:00:00Z', '2026-03-30T10:00:00Z'),
          exception('2026-03-30T11:00:00+01:00', '2026-03-30T09:00:00Z'),
          exception('2026-03-30T09:00:00', '2026-03-30'),
          exception('not a date', '2026-02-30T09:00:00Z'),
        ],
      ),
    ).toEqual([
      { path: 'exceptions.0.to', message: 'must be after from' },
      { path: 'exceptions.1.to', message: 'must be after from' },
      { path: 'exceptions.2.from', message: 'must be an ISO 8601 date-time with offset' },
      { path: 'exceptions.2.to', message: 'must be an ISO 8601 date-time with offset' },
      { path: 'exceptions.3.from', message: 'must be an ISO 8601 date-time with offset' },
      { path: 'exceptions.3.to', message: 'must be an ISO 8601 date-time with offset' },
    ]);
  });
});
