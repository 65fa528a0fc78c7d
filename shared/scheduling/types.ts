export interface WeeklyRule {
  /** 1 = Monday … 7 = Sunday (ISO 8601, as luxon's `weekday`). */
  weekday: number;
  /** "HH:mm", wall-clock time in the location's time zone. */
  start: string;
  /** "HH:mm" after `start`; "24:00" means the end of the day. */
  end: string;
  locationId: string;
}

export interface ScheduleException {
  /** ISO 8601 instant with offset. */
  from: string;
  to: string;
  kind: 'LEAVE' | 'EXTRA';
  /** Absent or null: applies at every location. */
  locationId?: string | null;
}

/** Half-open [startsAt, endsAt). */
export interface Interval {
  startsAt: Date;
  endsAt: Date;
}

export interface ScheduleInput {
  rules: WeeklyRule[];
  exceptions: ScheduleException[];
  /** IANA time zone of the location. */
  timezone: string;
  locationId: string;
}

export interface FieldError {
  path: string;
  message: string;
}
