/**
 * The appointment journey's next timed step, as a pure function of what the journey knows (its
 * plan, the visit's status, the steps already taken). The booking workflow imports this module:
 * it must stay free of I/O, clocks and heavy imports (it is evaluated in the workflow sandbox).
 */
import { MOVABLE_STATUSES as MOVABLE, TERMINAL_STATUSES as TERMINAL } from '../booking/statuses';

/** A plan as the journey holds it: instants as ISO strings (workflow history is JSON). */
export interface StepPlan {
  reminders: readonly { key: string; at: string }[];
  /** Service-kind instructions before the visit (absent in plans made before they existed). */
  preparation?: readonly { key: string; at: string; instruction: string }[];
  /** Service-kind instructions after a completed visit. */
  afterCare?: readonly { key: string; at: string; instruction: string }[];
  noShowAt: string;
}

export type StepKind = 'reminder' | 'preparation' | 'noShow' | 'afterCare';

export interface Step {
  kind: StepKind;
  /** Unique within one visit time. */
  key: string;
  at: number;
  /** For preparation and after-care: the service kind's instruction key. */
  instruction?: string;
}

/** Not yet checked in and not ended: the visit can still move, and still be missed. */
/** The booking core's status sets (shared/booking/statuses.ts), as sets for the journey's checks. */
export const MOVABLE_STATUSES: ReadonlySet<string> = new Set(MOVABLE);
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(TERMINAL);

/**
 * Every step the visit still has, in order: before it, reminders and preparation (confirmed visits
 * only: an unpaid booking is not reminded) and the no-show deadline; after a completion, the
 * after-care. A cancelled, missed or checked-in visit has none. Ties keep the plan's order.
 */
export function pendingSteps(status: string, plan: StepPlan | null, taken: (key: string) => boolean): Step[] {
  if (!plan) return [];
  const steps: Step[] = [];
  if (status === 'CONFIRMED') {
    steps.push(...plan.reminders.map((r) => ({ kind: 'reminder' as const, key: r.key, at: Date.parse(r.at) })));
    steps.push(...(plan.preparation ?? []).map((p) => ({ kind: 'preparation' as const, key: p.key, at: Date.parse(p.at), instruction: p.instruction })));
  }
  if (MOVABLE_STATUSES.has(status)) steps.push({ kind: 'noShow', key: 'no-show', at: Date.parse(plan.noShowAt) });
  if (status === 'COMPLETED') {
    steps.push(...(plan.afterCare ?? []).map((a) => ({ kind: 'afterCare' as const, key: a.key, at: Date.parse(a.at), instruction: a.instruction })));
  }
  return steps.filter((s) => !taken(s.key)).sort((x, y) => x.at - y.at);
}

export function nextStep(status: string, plan: StepPlan | null, taken: (key: string) => boolean): Step | null {
  return pendingSteps(status, plan, taken)[0] ?? null;
}

/**
 * What taking a due step means at `now`: a message (reminders and preparation only while the visit
 * is still ahead; after-care always), marking the visit missed, or nothing but recording it taken.
 */
export function stepAction(step: Step, now: number, startsAt: number): 'message' | 'markNoShow' | 'skip' {
  if (step.kind === 'noShow') return 'markNoShow';
  if (step.kind === 'afterCare') return 'message';
  return now < startsAt ? 'message' : 'skip';
}

/** How long the journey may sleep before `step` is due (at least 1 ms: a zero timer would not be a timer). */
export function sleepFor(step: Step | null, now: number): number | undefined {
  return step ? Math.max(1, step.at - now) : undefined;
}
