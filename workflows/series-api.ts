/**
 * The recurring series journey's public surface (SPEC §6 recurringSeries): ids, the rule and
 * instants only, never PHI.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const SERIES_TASK_QUEUE = 'therapy';
export const seriesWorkflowId = (seriesId: string) => `series-${seriesId}`;

export interface SeriesInput {
  seriesId: string;
  clinicId: string;
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  /** Who created the series: occurrences are booked in their name, and they hear of skipped ones. */
  actorUserId: string;
  rrule: string;
  /** The first occurrence (ISO instant); its local time in `timezone` is every occurrence's. */
  startsAt: string;
  timezone: string;
  /** Occurrences this far ahead are booked; later ones are PLANNED (clinic setting seriesHorizonDays, default 14). */
  horizonDays: number;
  /** State handed over by continue-as-new; absent on the first run. */
  carried?: SeriesCarry;
}

export interface SeriesCarry {
  /** Every occurrence up to this instant (ms) has been booked or skipped. */
  processedThrough: number;
  /** Future occurrences to skip (ISO instants). */
  skips: string[];
  /** Occurrences from this instant (ms) on are cancelled; null: none. */
  cancelFrom: number | null;
  booked: number;
  skipped: number;
  /** Runs before this one (continue-as-new). */
  runs: number;
  clinicName: string;
}

export type SeriesStatus = 'ACTIVE' | 'COMPLETED' | 'CANCELLED';
export type OccurrenceStatus = 'BOOKED' | 'SKIPPED' | 'CANCELLED' | 'PLANNED';

export interface SeriesProgress {
  status: SeriesStatus;
  rrule: string;
  startsAt: string;
  processedThrough: string;
  cancelFrom: string | null;
  booked: number;
  skipped: number;
  runs: number;
  lastError: string | null;
}

export interface SkipOccurrenceRequest { actorUserId: string; startsAt: string }
export interface CancelFromRequest { actorUserId: string; from: string }
export interface ReplanRequest { actorUserId: string; rrule: string; startsAt: string }

export const SeriesFailure = {
  ENDED: 'ENDED',
  NOT_AN_OCCURRENCE: 'NOT_AN_OCCURRENCE',
  IN_THE_PAST: 'IN_THE_PAST',
  INVALID_RULE: 'INVALID_RULE',
} as const;

/** Answers once the occurrences inside the horizon are booked (POST /appointment-series, with update-with-start). */
export const seriesReadyUpdate = defineUpdate<SeriesProgress, []>('ready');
export const skipOccurrenceUpdate = defineUpdate<SeriesProgress, [SkipOccurrenceRequest]>('skipOccurrence');
export const cancelFromUpdate = defineUpdate<SeriesProgress, [CancelFromRequest]>('cancelFrom');
/** PATCH: a new rule or start re-plans the future occurrences. */
export const replanSeriesUpdate = defineUpdate<SeriesProgress, [ReplanRequest]>('update');
export const skipOccurrenceSignal = defineSignal<[SkipOccurrenceRequest]>('skipOccurrence');
export const cancelFromSignal = defineSignal<[CancelFromRequest]>('cancelFrom');
export const seriesProgressQuery = defineQuery<SeriesProgress>('progress');
