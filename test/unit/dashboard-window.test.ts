import { dashboardWindow, NO_SHOW_WINDOW_DAYS } from '../../api/commands/dashboard';

const hours = (a: Date, b: Date) => (b.getTime() - a.getTime()) / 3_600_000;

describe('dashboardWindow: the clinic\'s local day', () => {
  it('is the local calendar day, 23 hours long on the spring-forward Sunday in London', () => {
    const w = dashboardWindow('Europe/London', new Date('2027-03-28T12:00:00Z'));
    expect(w.date).toBe('2027-03-28');
    expect(w.dayStart.toISOString()).toBe('2027-03-28T00:00:00.000Z');
    expect(w.dayEnd.toISOString()).toBe('2027-03-28T23:00:00.000Z');
    expect(hours(w.dayStart, w.dayEnd)).toBe(23);
  });

  it('starts at 18:30Z the day before in Kolkata, and an instant late in the UTC day is already tomorrow there', () => {
    const w = dashboardWindow('Asia/Kolkata', new Date('2027-01-04T20:00:00Z'));
    expect(w.date).toBe('2027-01-05');
    expect(w.dayStart.toISOString()).toBe('2027-01-04T18:30:00.000Z');
    expect(hours(w.dayStart, w.dayEnd)).toBe(24);
  });

  it(`measures no-shows over the last ${NO_SHOW_WINDOW_DAYS} local days, today included`, () => {
    const w = dashboardWindow('Asia/Kolkata', new Date('2027-01-04T20:00:00Z'));
    expect(w.windowStart.toISOString()).toBe('2026-12-06T18:30:00.000Z');
    expect(Math.round(hours(w.windowStart, w.dayEnd) / 24)).toBe(NO_SHOW_WINDOW_DAYS);
  });
});
