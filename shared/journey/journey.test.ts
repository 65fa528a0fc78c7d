import { DateTime } from 'luxon';
import { render, TemplateError } from '../notify/templates';
import {
  DEFAULT_JOURNEY_SETTINGS, insideMinimumNotice, isPatientSelfService, journeySettings, nearestSlot, parseQuietHours,
  planReminders, quietWindowAt, slotSearchRange, type ReminderPlanInput,
} from './index';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true }).toMillis();
const iso = (ms: number, zone = 'UTC') => DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true });
const HOUR = 3600_000;

describe('quietWindowAt', () => {
  const night = { start: '22:00', end: '07:00' };
  const lunch = { start: '13:00', end: '14:30' };

  it('finds a window that wraps midnight from either side of it, in the zone given', () => {
    const evening = quietWindowAt(at('2026-03-10T23:15:00+05:30'), night, 'Asia/Kolkata')!;
    expect([iso(evening.start, 'Asia/Kolkata'), iso(evening.end, 'Asia/Kolkata')]).toEqual(['2026-03-10T22:00:00+05:30', '2026-03-11T07:00:00+05:30']);
    const morning = quietWindowAt(at('2026-03-11T06:59:00+05:30'), night, 'Asia/Kolkata')!;
    expect(morning).toEqual(evening);
  });

  it('is half-open: quiet from start, awake again at end', () => {
    expect(quietWindowAt(at('2026-03-10T22:00:00+05:30'), night, 'Asia/Kolkata')).not.toBeNull();
    expect(quietWindowAt(at('2026-03-11T07:00:00+05:30'), night, 'Asia/Kolkata')).toBeNull();
    expect(quietWindowAt(at('2026-03-10T21:59:59+05:30'), night, 'Asia/Kolkata')).toBeNull();
  });

  it('handles a window inside one day', () => {
    expect(quietWindowAt(at('2026-03-10T13:30:00+05:30'), lunch, 'Asia/Kolkata')).toEqual({ start: at('2026-03-10T13:00:00+05:30'), end: at('2026-03-10T14:30:00+05:30') });
    expect(quietWindowAt(at('2026-03-10T15:00:00+05:30'), lunch, 'Asia/Kolkata')).toBeNull();
  });

  it('reads the hours in the zone given: the same instant is quiet in Kolkata, not in London', () => {
    const instant = at('2026-03-10T18:00:00Z'); // 23:30 in Kolkata, 18:00 in London
    expect(quietWindowAt(instant, night, 'Asia/Kolkata')).not.toBeNull();
    expect(quietWindowAt(instant, night, 'Europe/London')).toBeNull();
  });

  it('keeps local hours across the spring-forward night in London (a 8-hour night)', () => {
    const w = quietWindowAt(at('2026-03-29T03:00:00+01:00'), night, 'Europe/London')!;
    expect(iso(w.start)).toBe('2026-03-28T22:00:00Z'); // 22:00 GMT
    expect(iso(w.end)).toBe('2026-03-29T06:00:00Z'); // 07:00 BST
    expect(w.end - w.start).toBe(8 * HOUR);
  });

  it('keeps local hours across the fall-back night in London (a 10-hour night)', () => {
    const w = quietWindowAt(at('2026-10-25T01:30:00+00:00'), night, 'Europe/London')!;
    expect(iso(w.start)).toBe('2026-10-24T21:00:00Z'); // 22:00 BST
    expect(iso(w.end)).toBe('2026-10-25T07:00:00Z'); // 07:00 GMT
    expect(w.end - w.start).toBe(10 * HOUR);
  });

  it('reads a start inside the spring-forward gap with the pre-gap offset', () => {
    const w = quietWindowAt(at('2026-03-29T02:30:00+01:00'), { start: '01:30', end: '05:00' }, 'Europe/London')!;
    expect(iso(w.start)).toBe('2026-03-29T01:30:00Z'); // 01:30 does not exist that night
    expect(iso(w.end)).toBe('2026-03-29T04:00:00Z');
  });
});

describe('parseQuietHours', () => {
  it('accepts HH:mm pairs and treats anything else, or an empty window, as none', () => {
    expect(parseQuietHours({ start: '22:00', end: '07:00' })).toEqual({ start: '22:00', end: '07:00' });
    expect(parseQuietHours({ start: '22:00', end: '22:00' })).toBeNull();
    expect(parseQuietHours({ start: '25:00', end: '07:00' })).toBeNull();
    expect(parseQuietHours(null)).toBeNull();
    expect(parseQuietHours('22-07')).toBeNull();
  });
});

describe('planReminders', () => {
  const base = (over: Partial<ReminderPlanInput> = {}): ReminderPlanInput => ({
    startsAt: at('2026-03-12T10:00:00+05:30'),
    armedAt: at('2026-03-01T09:00:00+05:30'),
    offsetsMinutes: DEFAULT_JOURNEY_SETTINGS.reminderOffsetsMinutes,
    quietHours: null,
    timezone: 'Asia/Kolkata',
    ...over,
  });
  const times = (input: ReminderPlanInput, zone = 'Asia/Kolkata') => planReminders(input).map((r) => iso(r.at, zone));

  it('sends the default reminders 24 h and 2 h before, earliest first, with keys per offset', () => {
    const plan = planReminders(base());
    expect(plan.map((r) => [r.key, iso(r.at, 'Asia/Kolkata')])).toEqual([
      ['reminder-86400s', '2026-03-11T10:00:00+05:30'],
      ['reminder-7200s', '2026-03-12T08:00:00+05:30'],
    ]);
  });

  it('skips reminders whose time had passed when the visit got its time', () => {
    expect(times(base({ armedAt: at('2026-03-11T12:00:00+05:30') }))).toEqual(['2026-03-12T08:00:00+05:30']);
    expect(times(base({ armedAt: at('2026-03-12T09:00:00+05:30') }))).toEqual([]);
  });

  it('takes fractional minutes as seconds', () => {
    const startsAt = at('2026-03-12T10:00:00Z');
    const plan = planReminders(base({ startsAt, armedAt: startsAt - 60_000, offsetsMinutes: [0.5, 0.25] }));
    expect(plan.map((r) => [r.key, r.at - startsAt])).toEqual([['reminder-30s', -30_000], ['reminder-15s', -15_000]]);
  });

  it('defers a reminder due in quiet hours to their end, across midnight into the next day', () => {
    const input = base({ startsAt: at('2026-03-12T09:30:00+05:30'), offsetsMinutes: [11 * 60], quietHours: { start: '22:00', end: '07:00' } });
    // 11 h before 09:30 is 22:30 the evening before: quiet until 07:00 on the visit's day.
    expect(times(input)).toEqual(['2026-03-12T07:00:00+05:30']);
    expect(planReminders(input)[0].nominalAt).toBe(at('2026-03-11T22:30:00+05:30'));
  });

  it('sends just before quiet hours when they last until the visit', () => {
    // Visit at 07:30, quiet 22:00–08:00: the 24 h reminder (07:30 the day before) waits until 08:00 that day;
    // the 2 h one (05:30) cannot wait until 08:00, after the visit, so it goes out at 21:59 the evening before.
    const input = base({ startsAt: at('2026-03-12T07:30:00+05:30'), quietHours: { start: '22:00', end: '08:00' } });
    expect(times(input)).toEqual(['2026-03-11T08:00:00+05:30', '2026-03-11T21:59:00+05:30']);
  });

  it('drops a reminder that could only go out before the visit was booked', () => {
    const input = base({
      startsAt: at('2026-03-12T06:00:00+05:30'), armedAt: at('2026-03-11T23:00:00+05:30'), quietHours: { start: '22:00', end: '07:00' },
    });
    expect(times(input)).toEqual([]);
  });

  it('sends reminders that collapse onto the same instant once', () => {
    // Quiet 00:00–09:00; visit at 10:00 with reminders 3 h and 2 h before: both wait until 09:00.
    const input = base({ offsetsMinutes: [180, 120], quietHours: { start: '00:00', end: '09:00' } });
    const plan = planReminders(input);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ key: 'reminder-10800s', at: at('2026-03-12T09:00:00+05:30') });
  });

  it('reads quiet hours in the clinic zone across a DST change (London, spring forward)', () => {
    // Visit Sunday 29 March 2026 at 09:00 BST; the 8 h reminder falls at 00:00 GMT (quiet) and waits until 07:00 BST.
    const input = base({
      startsAt: at('2026-03-29T09:00:00+01:00'), armedAt: at('2026-03-20T12:00:00Z'), offsetsMinutes: [8 * 60],
      quietHours: { start: '22:00', end: '07:00' }, timezone: 'Europe/London',
    });
    expect(times(input, 'Europe/London')).toEqual(['2026-03-29T07:00:00+01:00']);
    expect(planReminders(input)[0].at).toBe(at('2026-03-29T06:00:00Z'));
  });

  it('ignores duplicate and non-positive offsets', () => {
    expect(planReminders(base({ offsetsMinutes: [120, 120, 0, -5] }))).toHaveLength(1);
  });
});

describe('minimum notice and self-service', () => {
  const now = at('2026-03-12T08:00:00Z');

  it('is inside the notice when the start is closer than the minimum', () => {
    expect(insideMinimumNotice(now + 119 * 60_000, now, 120)).toBe(true);
    expect(insideMinimumNotice(now + 120 * 60_000, now, 120)).toBe(false);
    expect(insideMinimumNotice(now + 1, now, 0)).toBe(false);
    expect(insideMinimumNotice(now - 1, now, 0)).toBe(true);
  });

  it('treats only a patient-only actor on their own appointment as self-service', () => {
    expect(isPatientSelfService({ roles: ['PATIENT'], patientIds: ['p1'] }, 'p1')).toBe(true);
    expect(isPatientSelfService({ roles: ['PATIENT'], patientIds: ['p1'] }, 'p2')).toBe(false);
    expect(isPatientSelfService({ roles: ['PATIENT', 'RECEPTIONIST'], patientIds: ['p1'] }, 'p1')).toBe(false);
    expect(isPatientSelfService({ roles: [], patientIds: ['p1'] }, 'p1')).toBe(false);
  });
});

describe('nearest free slot', () => {
  const slot = (start: string, minutes = 30) => ({ startsAt: new Date(start), endsAt: new Date(at(start) + minutes * 60_000) });

  it('picks the slot whose start is nearest the target, the earlier on a tie', () => {
    const slots = [slot('2026-03-12T08:00:00Z'), slot('2026-03-12T09:30:00Z'), slot('2026-03-12T10:30:00Z')];
    expect(nearestSlot(slots, at('2026-03-12T10:00:00Z'))!.startsAt.toISOString()).toBe('2026-03-12T09:30:00.000Z');
    expect(nearestSlot(slots, at('2026-03-12T10:20:00Z'))!.startsAt.toISOString()).toBe('2026-03-12T10:30:00.000Z');
    expect(nearestSlot([], at('2026-03-12T10:00:00Z'))).toBeNull();
  });

  it('searches a week before to two weeks after the target, never before notBefore', () => {
    const target = at('2026-03-12T10:00:00Z');
    expect(slotSearchRange(target, target - 30 * 24 * HOUR)).toEqual({ from: new Date(target - 7 * 24 * HOUR), to: new Date(target + 14 * 24 * HOUR) });
    const later = target + 24 * HOUR;
    expect(slotSearchRange(target, later)).toEqual({ from: new Date(later), to: new Date(later + 14 * 24 * HOUR) });
  });
});

describe('journeySettings', () => {
  it('fills defaults and ignores malformed values', () => {
    expect(journeySettings({})).toEqual(DEFAULT_JOURNEY_SETTINGS);
    expect(journeySettings({ reminderOffsetsMinutes: [0.5, 'x', -1], noShowGraceMinutes: 'soon', autoBookFollowUp: true })).toEqual({
      ...DEFAULT_JOURNEY_SETTINGS, reminderOffsetsMinutes: [0.5], autoBookFollowUp: true,
    });
    expect(journeySettings({ reminderOffsetsMinutes: [] }).reminderOffsetsMinutes).toEqual([]);
  });
});

describe('the practitioner-unavailable message', () => {
  const visit = { clinicName: 'Sushruta Ayurveda', startsAt: '2026-03-10T04:30:00Z', timezone: 'Asia/Kolkata' };

  it('names the visit and the offered time in the clinic zone, or asks for another time when none is free', () => {
    const offered = render('appointment-practitioner-unavailable', 'en', { ...visit, offeredStartsAt: '2026-03-10T03:30:00Z' });
    expect(offered.subject).toBe('Your appointment at Sushruta Ayurveda needs a new time');
    expect(offered.text).toMatch(/Tue.*10 Mar.*10:00.*nearest free time is Tue.*10 Mar.* 9:00/s);
    expect(render('appointment-practitioner-unavailable', 'hi', visit)).toMatchObject({ language: 'en', text: expect.stringContaining('Please choose another time.') });
    expect(() => render('appointment-practitioner-unavailable', 'en', { ...visit, offeredStartsAt: 'soon' })).toThrow(TemplateError);
  });
});
