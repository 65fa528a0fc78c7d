import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { JourneyControlActivities } from '../activities/journey-control';
import type { SeriesActivities } from '../activities/series';
import { nextOccurrence, occurrencesBetween, ruleProblem } from '../shared/series/expand';
import { BookingFailure } from './booking-api';
import { startAdoptedBooking } from './booking-start';
import { sendMessage } from './messages';
import {
  CancelFromRequest, cancelFromSignal, cancelFromUpdate, ReplanRequest, replanSeriesUpdate, SeriesFailure, SeriesInput, SeriesProgress,
  seriesProgressQuery, seriesReadyUpdate, SeriesStatus, SkipOccurrenceRequest, skipOccurrenceSignal, skipOccurrenceUpdate,
} from './series-api';

// Bounded (about 10 minutes of retries); business refusals are never retried.
const acts = proxyActivities<SeriesActivities & JourneyControlActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 12,
    nonRetryableErrorTypes: [...Object.values(BookingFailure), 'MISCONFIGURED'],
  },
});

/**
 * A run continues as new once its history passes this many events (or the server suggests it), so
 * a series of any length keeps every run's history under HISTORY_LIMIT plus one occurrence's
 * events (test/integration/long-journeys.test.ts asserts the bound on a 2-year weekly series).
 */
export const HISTORY_LIMIT = 500;
/** Occurrences booked per pass before looking at the history size again. */
const BATCH = 10;

const now = () => new Date().getTime();
const iso = (ms: number) => new Date(ms).toISOString();
const DAY_MS = 86_400_000;
const refused = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

class Series {
  rule: { rrule: string; startsAt: string; timezone: string };
  processedThrough: number;
  skips: Set<string>;
  cancelFrom: number | null;
  booked: number;
  skipped: number;
  readonly runs: number;
  clinicName: string;
  ready: boolean;
  status: SeriesStatus = 'ACTIVE';
  lastError: string | null = null;
  changes = 0;
  private busy = false;

  constructor(readonly input: SeriesInput) {
    const c = input.carried;
    this.rule = { rrule: input.rrule, startsAt: input.startsAt, timezone: input.timezone };
    this.processedThrough = c?.processedThrough ?? Date.parse(input.startsAt) - 1;
    this.skips = new Set(c?.skips ?? []);
    this.cancelFrom = c?.cancelFrom ?? null;
    this.booked = c?.booked ?? 0;
    this.skipped = c?.skipped ?? 0;
    this.runs = c?.runs ?? 0;
    this.clinicName = c?.clinicName ?? '';
    this.ready = c !== undefined;
  }

  progress(): SeriesProgress {
    return {
      status: this.status, rrule: this.rule.rrule, startsAt: this.rule.startsAt, processedThrough: iso(Math.max(0, this.processedThrough)),
      cancelFrom: this.cancelFrom === null ? null : iso(this.cancelFrom), booked: this.booked, skipped: this.skipped, runs: this.runs, lastError: this.lastError,
    };
  }

  get horizonMs() {
    return this.input.horizonDays * DAY_MS;
  }

  /** The next occurrence still to book, or null when the rule (or a cancel) has ended the series. */
  next(): number | null {
    const at = nextOccurrence(this.rule, this.processedThrough);
    return at === null || (this.cancelFrom !== null && at >= this.cancelFrom) ? null : at;
  }

  carry() {
    return {
      processedThrough: this.processedThrough, skips: [...this.skips].filter((s) => Date.parse(s) > this.processedThrough),
      cancelFrom: this.cancelFrom, booked: this.booked, skipped: this.skipped, runs: this.runs + 1, clinicName: this.clinicName,
    };
  }

  get historyFull(): boolean {
    const info = workflowInfo();
    return info.historyLength > HISTORY_LIMIT || info.continueAsNewSuggested;
  }

  async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => !this.busy);
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
      this.changes += 1;
    }
  }

  /** Books (or skips) the occurrences now inside the horizon, a batch at a time. False: stop for continue-as-new. */
  async bookDue(): Promise<boolean> {
    for (;;) {
      const horizonEnd = now() + this.horizonMs;
      const until = this.cancelFrom !== null ? Math.min(horizonEnd, this.cancelFrom - 1) : horizonEnd;
      const due = until > this.processedThrough ? occurrencesBetween(this.rule, this.processedThrough, until, BATCH) : [];
      if (!due.length) return true;
      for (const at of due) {
        if (this.skips.has(iso(at))) this.skips.delete(iso(at));
        else await this.bookOne(at);
        this.processedThrough = at;
        if (this.historyFull) return false;
      }
    }
  }

  private async bookOne(at: number): Promise<void> {
    const { input } = this;
    const result = await acts.bookSeriesOccurrence({
      clinicId: input.clinicId, seriesId: input.seriesId, appointmentId: uuid4(), patientId: input.patientId, practitionerId: input.practitionerId,
      serviceId: input.serviceId, locationId: input.locationId, actorUserId: input.actorUserId, startsAt: iso(at),
    });
    if (result.status !== 'BOOKED') {
      if (result.existing) return;
      this.skipped += 1;
      // Staff hear of it (ids and the time only); the series goes on.
      if (result.reason === 'SLOT_TAKEN' || result.reason === 'OUTSIDE_SCHEDULE') {
        await sendMessage({
          idempotencyKey: `series-${input.seriesId}-skipped-${at}`, clinicId: input.clinicId, recipient: { kind: 'user', id: input.actorUserId },
          template: 'series-occurrence-skipped', params: { clinicName: this.clinicName, startsAt: iso(at), timezone: input.timezone, reason: result.reason ?? 'SLOT_TAKEN' },
        });
      }
      return;
    }
    if (result.existing) return;
    this.booked += 1;
    await startAdoptedBooking({ appointmentId: result.appointmentId, clinicId: input.clinicId, patientId: input.patientId, practitionerId: input.practitionerId });
  }

  async plan(): Promise<void> {
    await acts.planSeriesOccurrences({
      clinicId: this.input.clinicId, seriesId: this.input.seriesId, serviceId: this.input.serviceId, ...this.rule,
      after: Math.max(this.processedThrough, now() + this.horizonMs), cancelFrom: this.cancelFrom,
    });
  }

  // ───────────── handlers ─────────────

  assertOpen(): void {
    if (this.status !== 'ACTIVE') throw refused(SeriesFailure.ENDED, `The series is ${this.status}`);
  }

  assertOccurrence(startsAt: string): number {
    const at = Date.parse(startsAt);
    if (Number.isNaN(at)) throw refused(SeriesFailure.NOT_AN_OCCURRENCE, 'startsAt must be an ISO instant');
    if (!(at > now())) throw refused(SeriesFailure.IN_THE_PAST, 'Only a future occurrence can be skipped');
    if (!occurrencesBetween(this.rule, at - 1, at, 1).includes(at)) throw refused(SeriesFailure.NOT_AN_OCCURRENCE, 'startsAt is not an occurrence of the series');
    return at;
  }

  async skip(req: SkipOccurrenceRequest): Promise<SeriesProgress> {
    return this.exclusively(async () => {
      this.assertOpen();
      const at = this.assertOccurrence(req.startsAt);
      await this.withRefusals(() => acts.skipSeriesOccurrence({
        clinicId: this.input.clinicId, seriesId: this.input.seriesId, actorUserId: req.actorUserId, startsAt: iso(at), endsAt: iso(at),
      }));
      if (at > this.processedThrough) this.skips.add(iso(at));
      else this.booked = Math.max(0, this.booked - 1);
      this.skipped += 1;
      return this.progress();
    });
  }

  async cancelFromTime(req: CancelFromRequest): Promise<SeriesProgress> {
    return this.exclusively(async () => {
      this.assertOpen();
      const from = Math.max(Date.parse(req.from), now());
      await this.withRefusals(() => acts.cancelSeriesFrom({ clinicId: this.input.clinicId, seriesId: this.input.seriesId, actorUserId: req.actorUserId, from: iso(from) }));
      this.cancelFrom = this.cancelFrom === null ? from : Math.min(this.cancelFrom, from);
      if (this.next() === null) await this.finish('CANCELLED');
      return this.progress();
    });
  }

  async replan(req: ReplanRequest): Promise<SeriesProgress> {
    return this.exclusively(async () => {
      this.assertOpen();
      const problem = ruleProblem(req.rrule);
      if (problem) throw refused(SeriesFailure.INVALID_RULE, `rrule ${problem}`);
      const t = now();
      await this.withRefusals(() => acts.replanSeries({
        clinicId: this.input.clinicId, seriesId: this.input.seriesId, actorUserId: req.actorUserId, rrule: req.rrule, startsAt: req.startsAt,
        timezone: this.input.timezone, from: iso(t),
      }));
      this.rule = { rrule: req.rrule, startsAt: req.startsAt, timezone: this.input.timezone };
      // From now on, by the new rule: occurrences it shares with the old one are found booked and kept.
      this.processedThrough = Math.max(t, Date.parse(req.startsAt) - 1);
      this.skips.clear();
      await this.plan();
      return this.progress();
    });
  }

  async bySignal(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  private async withRefusals<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      if (cause instanceof ApplicationFailure && cause.type && cause.type in BookingFailure) throw refused(cause.type, cause.message);
      throw err;
    }
  }

  async finish(status: SeriesStatus): Promise<void> {
    this.status = status;
    await acts.setSeriesStatus({ clinicId: this.input.clinicId, seriesId: this.input.seriesId, status });
  }
}

/**
 * An RRULE series (SPEC §6 recurringSeries): occurrences inside the rolling horizon are booked
 * through the booking core, each an ordinary appointment with its own booking journey (a child);
 * later ones are PLANNED; a taken slot is SKIPPED (reason SLOT_TAKEN), staff are told, and the
 * series goes on. A durable timer wakes it when the next occurrence enters the horizon. Staff skip
 * an occurrence, cancel from a date, or re-plan with a new rule. Continue-as-new keeps each run's
 * history under HISTORY_LIMIT events, whatever the series' length.
 */
export async function recurringSeries(input: SeriesInput): Promise<SeriesProgress> {
  const series = new Series(input);

  setHandler(seriesProgressQuery, () => series.progress());
  setHandler(seriesReadyUpdate, async () => {
    await condition(() => series.ready);
    return series.progress();
  });
  setHandler(skipOccurrenceUpdate, (r) => series.skip(r), { validator: (r) => { series.assertOpen(); series.assertOccurrence(r.startsAt); } });
  setHandler(cancelFromUpdate, (r) => series.cancelFromTime(r), { validator: (_r) => series.assertOpen() });
  setHandler(replanSeriesUpdate, (r) => series.replan(r), { validator: (_r) => series.assertOpen() });
  setHandler(skipOccurrenceSignal, (r) => series.bySignal(() => series.skip(r)));
  setHandler(cancelFromSignal, (r) => series.bySignal(() => series.cancelFromTime(r)));

  await series.exclusively(async () => {
    if (!input.carried) series.clinicName = (await acts.seriesContext({ clinicId: input.clinicId })).clinicName;
    // Each run plans ahead again, so an endless rule always shows its coming occurrences.
    await series.plan();
  });

  for (;;) {
    const more = await series.exclusively(() => series.bookDue());
    series.ready = true;
    if (series.status !== 'ACTIVE') break;
    const next = series.next();
    const seen = series.changes;
    if (next === null) {
      // Everything is booked; the series stays open (skip, cancel, re-plan) until its last occurrence has begun.
      if (series.processedThrough > now()) {
        await condition(() => series.changes !== seen, Math.max(1, series.processedThrough - now()));
        continue;
      }
      await series.exclusively(() => series.finish(series.cancelFrom !== null ? 'CANCELLED' : 'COMPLETED'));
      break;
    }
    if (!more || series.historyFull) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof recurringSeries>({ ...input, rrule: series.rule.rrule, startsAt: series.rule.startsAt, carried: series.carry() });
    }
    await condition(() => series.changes !== seen, Math.max(1, next - series.horizonMs - now()));
  }
  await condition(allHandlersFinished);
  return series.progress();
}
