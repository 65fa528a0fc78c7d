import { courseDay, localInstant } from './days';
import { courseSessions, regimenFor, SHIPPED_TEMPLATES, templateSchema } from './templates';

const iso = (ms: number) => new Date(ms).toISOString();

describe('shipped templates', () => {
  it('include virechana-14 (14 days, three phases in order), a yoga basti and a 21-day rasayana, all valid', () => {
    const codes = SHIPPED_TEMPLATES.map((t) => t.code);
    expect(codes).toEqual(expect.arrayContaining(['virechana-14', 'yoga-basti-8', 'rasayana-21']));
    for (const t of SHIPPED_TEMPLATES) {
      expect(templateSchema.safeParse({ code: t.code, name: t.name, phases: t.phases, reviewAfterDays: t.reviewAfterDays }).success).toBe(true);
      expect(t.source).toMatch(/Charaka Samhita|Ashtanga Hridaya/);
    }
    const v = SHIPPED_TEMPLATES.find((t) => t.code === 'virechana-14')!;
    expect(courseSessions(v)).toHaveLength(14);
    expect(v.phases.map((p) => p.phase)).toEqual(['PURVAKARMA', 'PRADHANAKARMA', 'PASCHATKARMA']);
    expect(v.phases[2].regimen!.join(' ')).toMatch(/peya.*vilepi.*yusha/s);
    expect(SHIPPED_TEMPLATES.find((t) => t.code === 'rasayana-21')!.phases.reduce((n, p) => n + p.days, 0)).toBe(21);
  });

  it('numbers sessions one a day in phase order; the last regimen line repeats', () => {
    const s = courseSessions({ phases: [{ phase: 'PURVAKARMA', days: 2, serviceCode: 'A' }, { phase: 'PRADHANAKARMA', days: 1, serviceCode: 'B' }] });
    expect(s).toEqual([
      { n: 1, phase: 'PURVAKARMA', serviceCode: 'A', phaseDay: 0 }, { n: 2, phase: 'PURVAKARMA', serviceCode: 'A', phaseDay: 1 },
      { n: 3, phase: 'PRADHANAKARMA', serviceCode: 'B', phaseDay: 0 },
    ]);
    expect(regimenFor({ regimen: ['a', 'b'] }, 5)).toBe('b');
    expect(regimenFor({}, 0)).toBeNull();
  });
});

describe('templateSchema', () => {
  const ok = { code: 'mini-3', name: 'Mini', phases: [{ phase: 'PURVAKARMA', days: 1, serviceCode: 'S' }, { phase: 'PRADHANAKARMA', days: 1, serviceCode: 'S' }] };
  it('names the field that is wrong', () => {
    expect(templateSchema.safeParse(ok).success).toBe(true);
    const paths = (body: unknown) => (templateSchema.safeParse(body).error?.issues ?? []).map((i) => i.path.join('.'));
    expect(paths({ ...ok, phases: [ok.phases[1], ok.phases[0]] })).toEqual(['phases']);
    expect(paths({ ...ok, phases: [{ phase: 'PURVAKARMA', days: 0, serviceCode: 'S' }] })).toEqual(expect.arrayContaining(['phases.0.days', 'phases']));
    expect(paths({ ...ok, code: 'Bad Code' })).toEqual(['code']);
    expect(paths({ ...ok, phases: [{ phase: 'VAMANA', days: 1, serviceCode: 'S' }] })).toContain('phases.0.phase');
  });
});

describe('courseDay', () => {
  it('is the same local time each calendar day, across DST', () => {
    const clock = { startDate: '2027-03-27', time: '09:00', timezone: 'Europe/London', dayMinutes: null };
    expect(iso(courseDay(clock, 0).target)).toBe('2027-03-27T09:00:00.000Z');
    expect(iso(courseDay(clock, 2).target)).toBe('2027-03-29T08:00:00.000Z');
    expect(iso(courseDay(clock, 1).from)).toBe('2027-03-28T00:00:00.000Z');
    expect(iso(courseDay(clock, 1).to)).toBe('2027-03-28T23:00:00.000Z');
  });

  it('compressed: day k starts k × dayMinutes after the first session and lasts dayMinutes', () => {
    const clock = { startDate: '2027-01-04', time: '10:00', timezone: 'Asia/Kolkata', dayMinutes: 60 };
    expect(courseDay(clock, 3)).toEqual({ target: Date.parse('2027-01-04T07:30:00Z'), from: Date.parse('2027-01-04T07:30:00Z'), to: Date.parse('2027-01-04T08:30:00Z') });
    expect(iso(localInstant('2027-01-04', '10:00', 'Asia/Kolkata'))).toBe('2027-01-04T04:30:00.000Z');
  });
});
