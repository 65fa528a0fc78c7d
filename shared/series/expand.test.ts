import { nextOccurrence, occurrencesBetween, ruleProblem } from './expand';

const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString());
const at = (s: string) => Date.parse(s);

describe('occurrencesBetween (local time across DST)', () => {
  it('weekly 09:00 Europe/London is 09:00Z before the March change and 08:00Z after it', () => {
    // 2027-03-28 is the last Sunday of March: British Summer Time starts.
    const rule = { rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=4', startsAt: '2027-03-15T09:00:00Z', timezone: 'Europe/London' };
    expect(iso(occurrencesBetween(rule, at('2027-01-01T00:00:00Z'), at('2028-01-01T00:00:00Z')))).toEqual([
      '2027-03-15T09:00:00.000Z', '2027-03-22T09:00:00.000Z', '2027-03-29T08:00:00.000Z', '2027-04-05T08:00:00.000Z',
    ]);
  });

  it('and back in October; Asia/Kolkata (no DST) keeps its offset', () => {
    const london = { rrule: 'FREQ=WEEKLY;COUNT=2', startsAt: '2027-10-25T08:00:00Z', timezone: 'Europe/London' }; // Mon 25 Oct 09:00 BST
    expect(iso(occurrencesBetween(london, 0, at('2030-01-01T00:00:00Z')))).toEqual(['2027-10-25T08:00:00.000Z', '2027-11-01T09:00:00.000Z']);
    const kolkata = { rrule: 'FREQ=DAILY;COUNT=3', startsAt: '2027-03-27T03:30:00Z', timezone: 'Asia/Kolkata' };
    expect(iso(occurrencesBetween(kolkata, 0, at('2030-01-01T00:00:00Z')))).toEqual(['2027-03-27T03:30:00.000Z', '2027-03-28T03:30:00.000Z', '2027-03-29T03:30:00.000Z']);
  });

  it('honours the window (after is exclusive, until inclusive) and the limit; UNTIL is an instant', () => {
    const rule = { rrule: 'FREQ=DAILY', startsAt: '2027-01-01T10:00:00Z', timezone: 'UTC' };
    expect(iso(occurrencesBetween(rule, at('2027-01-02T10:00:00Z'), at('2027-01-04T10:00:00Z')))).toEqual(['2027-01-03T10:00:00.000Z', '2027-01-04T10:00:00.000Z']);
    expect(occurrencesBetween(rule, 0, at('2028-01-01T00:00:00Z'), 5)).toHaveLength(5);
    const until = { rrule: 'FREQ=DAILY;UNTIL=20270103T100000Z', startsAt: '2027-01-01T10:00:00Z', timezone: 'UTC' };
    expect(occurrencesBetween(until, 0, at('2028-01-01T00:00:00Z'))).toHaveLength(3);
  });

  it('a 2-year weekly series has 104 occurrences (the 105th, 2029-01-01 09:00, is past UNTIL)', () => {
    const rule = { rrule: 'FREQ=WEEKLY;UNTIL=20290101T000000Z', startsAt: '2027-01-04T09:00:00Z', timezone: 'Europe/London' };
    expect(occurrencesBetween(rule, 0, at('2030-01-01T00:00:00Z'))).toHaveLength(104);
  });
});

describe('nextOccurrence', () => {
  it('is the first start strictly after the instant, null once the rule ends', () => {
    const rule = { rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=3', startsAt: '2027-03-22T09:00:00Z', timezone: 'Europe/London' };
    expect(new Date(nextOccurrence(rule, at('2027-03-22T09:00:00Z'))!).toISOString()).toBe('2027-03-29T08:00:00.000Z');
    expect(new Date(nextOccurrence(rule, 0)!).toISOString()).toBe('2027-03-22T09:00:00.000Z');
    expect(nextOccurrence(rule, at('2027-04-05T08:00:00Z'))).toBeNull();
  });
});

describe('ruleProblem', () => {
  it('accepts what clinics book and names what is wrong otherwise', () => {
    expect(ruleProblem('FREQ=WEEKLY;BYDAY=MO;COUNT=8')).toBeNull();
    expect(ruleProblem('RRULE:FREQ=MONTHLY;BYMONTHDAY=1')).toBeNull();
    expect(ruleProblem('FREQ=HOURLY')).toMatch(/DAILY/);
    expect(ruleProblem('DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY')).toMatch(/DTSTART/);
    expect(ruleProblem('BYDAY=MO')).toMatch(/FREQ/);
    expect(ruleProblem('nonsense')).not.toBeNull();
    expect(ruleProblem('FREQ=DAILY;COUNT=5000')).toMatch(/COUNT/);
  });
});
