import { nextStep, parseRescheduleSignal, pendingSteps, planAfterCare, planPreparation, sleepFor, stepAction, type StepPlan } from './index';

const T = Date.parse('2026-03-10T04:30:00Z'); // 10:00 in Kolkata
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const plan: StepPlan = {
  reminders: [{ key: 'reminder-86400s', at: iso(T - 1440 * MIN) }, { key: 'reminder-7200s', at: iso(T - 120 * MIN) }],
  preparation: [{ key: 'prep-bring-records', at: iso(T - 1000 * MIN), instruction: 'bring-records' }],
  afterCare: [{ key: 'after-rest', at: iso(T + 60 * MIN), instruction: 'rest' }],
  noShowAt: iso(T + 15 * MIN),
};
const none = () => false;

describe('the journey planner: which step comes next', () => {
  it('walks a confirmed visit through reminders and preparation in time order, then the no-show deadline', () => {
    const taken = new Set<string>();
    const order: string[] = [];
    for (let step = nextStep('CONFIRMED', plan, (k) => taken.has(k)); step; step = nextStep('CONFIRMED', plan, (k) => taken.has(k))) {
      order.push(`${step.kind}:${step.key}`);
      taken.add(step.key);
    }
    expect(order).toEqual(['reminder:reminder-86400s', 'preparation:prep-bring-records', 'reminder:reminder-7200s', 'noShow:no-show']);
  });

  it('gives an unpaid visit only its no-show deadline, a checked-in, cancelled or missed one nothing', () => {
    expect(pendingSteps('PENDING_PAYMENT', plan, none).map((s) => s.kind)).toEqual(['noShow']);
    for (const status of ['CHECKED_IN', 'CANCELLED', 'NO_SHOW']) expect(nextStep(status, plan, none)).toBeNull();
  });

  it('gives a completed visit its after-care, each once, with the instruction to send', () => {
    expect(nextStep('COMPLETED', plan, none)).toEqual({ kind: 'afterCare', key: 'after-rest', at: T + 60 * MIN, instruction: 'rest' });
    expect(nextStep('COMPLETED', plan, (k) => k === 'after-rest')).toBeNull();
  });

  it('has no step without a plan, and reads plans made before instructions existed', () => {
    expect(nextStep('CONFIRMED', null, none)).toBeNull();
    const old: StepPlan = { reminders: plan.reminders, noShowAt: plan.noShowAt };
    expect(pendingSteps('CONFIRMED', old, none).map((s) => s.key)).toEqual(['reminder-86400s', 'reminder-7200s', 'no-show']);
    expect(nextStep('COMPLETED', old, none)).toBeNull();
  });

  it('sends reminders and preparation only while the visit is ahead; after-care and the no-show always act', () => {
    const [reminder, prep] = [{ kind: 'reminder' as const, key: 'r', at: T - MIN }, { kind: 'preparation' as const, key: 'p', at: T - MIN, instruction: 'x' }];
    expect(stepAction(reminder, T - 1, T)).toBe('message');
    expect(stepAction(reminder, T, T)).toBe('skip');
    expect(stepAction(prep, T + MIN, T)).toBe('skip');
    expect(stepAction({ kind: 'afterCare', key: 'a', at: T + MIN, instruction: 'x' }, T + 9 * MIN, T)).toBe('message');
    expect(stepAction({ kind: 'noShow', key: 'no-show', at: T }, T, T)).toBe('markNoShow');
  });

  it('sleeps until the step is due, at least a millisecond, or indefinitely without one', () => {
    expect(sleepFor({ kind: 'noShow', key: 'no-show', at: T }, T - 5000)).toBe(5000);
    expect(sleepFor({ kind: 'noShow', key: 'no-show', at: T }, T + 5000)).toBe(1);
    expect(sleepFor(null, T)).toBeUndefined();
  });
});

describe('service-kind instructions', () => {
  const quiet = { quietHours: { start: '22:00', end: '07:00' }, timezone: 'Asia/Kolkata' };

  it('times preparation before the visit, moved out of quiet hours like a reminder, skipping one already late', () => {
    const planned = planPreparation({
      startsAt: T, armedAt: T - 2 * 1440 * MIN, ...quiet,
      instructions: [{ key: 'fast', offsetMinutes: 14 * 60 }, { key: 'arrive', offsetMinutes: 90 }, { key: 'never', offsetMinutes: 0 }],
    });
    // 14 h before 10:00 is 20:00 the evening before (not quiet); 90 min before is 08:30.
    expect(planned).toEqual([
      { key: 'prep-fast', instruction: 'fast', at: T - 14 * 60 * MIN },
      { key: 'prep-arrive', instruction: 'arrive', at: T - 90 * MIN },
    ]);
    // 04:00 is quiet until 07:00 local, which is before the visit: sent at 07:00.
    expect(planPreparation({ startsAt: T, armedAt: T - 1440 * MIN, ...quiet, instructions: [{ key: 'early', offsetMinutes: 6 * 60 }] }))
      .toEqual([{ key: 'prep-early', instruction: 'early', at: Date.parse('2026-03-10T01:30:00Z') }]);
    expect(planPreparation({ startsAt: T, armedAt: T - 60 * MIN, ...quiet, instructions: [{ key: 'fast', offsetMinutes: 14 * 60 }] })).toEqual([]);
  });

  it('times after-care after the end, waiting out quiet hours', () => {
    const endsAt = Date.parse('2026-03-10T16:00:00Z'); // 21:30 local
    expect(planAfterCare({ endsAt, ...quiet, instructions: [{ key: 'rest', offsetMinutes: 15 }, { key: 'diet', offsetMinutes: 60 }] })).toEqual([
      { key: 'after-rest', instruction: 'rest', at: endsAt + 15 * MIN },
      { key: 'after-diet', instruction: 'diet', at: Date.parse('2026-03-11T01:30:00Z') }, // 22:30 is quiet until 07:00
    ]);
  });
});

describe('parseRescheduleSignal (untrusted staff input)', () => {
  const actorUserId = '0b6f3c1e-8a6d-4c1e-9a55-0f1d2b3c4d5e';
  it('accepts a well-formed request and names what is wrong otherwise', () => {
    expect(parseRescheduleSignal({ actorUserId, startsAt: '2026-03-10T10:00:00+05:30', extra: 1 })).toEqual({ actorUserId, startsAt: '2026-03-10T10:00:00+05:30' });
    expect(parseRescheduleSignal(null)).toMatch(/actorUserId/);
    expect(parseRescheduleSignal({ actorUserId, startsAt: 'tomorrow' })).toMatch(/startsAt/);
    expect(parseRescheduleSignal({ actorUserId, startsAt: '2026-03-10T10:00:00Z', practitionerId: 7 })).toMatch(/practitionerId/);
  });
});
