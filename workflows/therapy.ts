import { ActivityFailure, ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { allHandlersFinished, condition, ParentClosePolicy, proxyActivities, setHandler, startChild, uuid4 } from '@temporalio/workflow';
import type { JourneyControlActivities } from '../activities/journey-control';
import type { BookSessionResult, TherapyActivities } from '../activities/therapy';
import { courseDay, localInstant, type CourseClock } from '../shared/therapy/days';
import { courseSessions, regimenFor, type Phase } from '../shared/therapy/templates';
import { BOOKING_TASK_QUEUE, BookingFailure } from './booking-api';
import { startAdoptedBooking } from './booking-start';
import type { followUp } from './follow-up';
import { followUpWorkflowId } from './follow-up-api';
import { sendMessage } from './messages';
import { SA } from './search-attributes';
import {
  CancelCourseRequest, cancelCourseSignal, cancelCourseUpdate, courseReadyUpdate, CourseProgress, CourseSession, CourseStatus, PauseRequest,
  pauseCourseSignal, pauseCourseUpdate, progressQuery, RescheduleSessionRequest, rescheduleSessionUpdate, ResumeRequest, resumeCourseSignal,
  resumeCourseUpdate, SkipSessionRequest, skipSessionUpdate, TherapyFailure, TherapyInput,
} from './therapy-api';

// Bounded: about 10 minutes of retries (a database or Temporal outage), then the step fails and
// the course reports it; a business refusal is never retried.
const acts = proxyActivities<TherapyActivities & JourneyControlActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 12,
    nonRetryableErrorTypes: [...Object.values(BookingFailure), 'MISCONFIGURED'],
  },
});

const now = () => new Date().getTime();
const iso = (ms: number) => new Date(ms).toISOString();
const DAY_MS = 86_400_000;

const refused = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** The business refusal inside an activity failure (SLOT_TAKEN, FORBIDDEN…), as the update's own failure. */
function asRefusal(err: unknown): unknown {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type && (cause.type in BookingFailure || cause.type in TherapyFailure)
    ? refused(cause.type, cause.message) : err;
}

interface Session extends CourseSession {
  phaseDay: number;
  /** The day, ms. */
  from: number;
  to: number;
  target: number;
}

const toView = ({ phaseDay: _d, from: _f, to: _t, target: _g, ...s }: Session): CourseSession => s;

class Course {
  status: CourseStatus = 'BOOKING';
  /** Every session booked and the course recorded: POST /therapy-series may answer. */
  bookedUpFront = false;
  reason: string | null = null;
  readonly sessions: Session[];
  /** Messages already sent, by key: each goes out once. */
  private readonly sent = new Set<string>();
  private busy = false;
  /** Bumped by every change: wakes the body to look at its timeline again. */
  changes = 0;
  clinicName = '';
  reviewWorkflowId: string | null = null;
  lastError: string | null = null;

  constructor(readonly input: TherapyInput) {
    const clock = this.clock(input.startDate, input.time);
    this.sessions = courseSessions({ phases: input.phases.map((p) => ({ ...p })) }).map((s, i) => {
      const day = courseDay(clock, i);
      return {
        n: s.n, phase: s.phase, phaseDay: s.phaseDay, serviceId: input.phases.find((p) => p.phase === s.phase)!.serviceId,
        from: day.from, to: day.to, target: day.target, dayStart: iso(day.from), dayEnd: iso(day.to),
        startsAt: null, endsAt: null, status: 'PLANNED', appointmentId: null, roomId: null, therapistIds: [], reason: null,
      };
    });
  }

  clock(startDate: string, time: string): CourseClock {
    return { startDate, time, timezone: this.input.timezone, dayMinutes: this.input.dayMinutes };
  }

  progress(): CourseProgress {
    const t = now();
    const live = this.sessions.filter((s) => s.status !== 'CANCELLED' && s.status !== 'RELEASED');
    return {
      status: this.status, reason: this.reason, sessions: this.sessions.map(toView),
      done: this.sessions.filter((s) => s.status === 'BOOKED' && Date.parse(s.endsAt!) <= t).length,
      total: this.sessions.length,
      currentPhase: this.status === 'COMPLETED' || this.status === 'CANCELLED' ? null : (live.find((s) => s.to > t)?.phase ?? null),
      reviewWorkflowId: this.reviewWorkflowId, lastError: this.lastError,
    };
  }

  get ended() {
    return this.status === 'COMPLETED' || this.status === 'CANCELLED';
  }

  // ───────────── validators ─────────────

  assertActive(): void {
    if (this.ended) throw refused(TherapyFailure.ENDED, `The course is ${this.status}`);
    if (this.status !== 'ACTIVE') throw refused(TherapyFailure.NOT_ACTIVE, `The course is ${this.status}`);
  }

  assertPaused(): void {
    if (this.status !== 'PAUSED') throw refused(TherapyFailure.NOT_PAUSED, `The course is ${this.status}`);
  }

  assertOpen(): void {
    if (this.ended) throw refused(TherapyFailure.ENDED, `The course is ${this.status}`);
  }

  session(n: number): Session {
    const s = this.sessions.find((x) => x.n === n);
    if (!s) throw refused(TherapyFailure.NO_SUCH_SESSION, `The course has no session ${n}`);
    return s;
  }

  // ───────────── booking ─────────────

  /** Books the session in its day and starts its appointment's own journey, a child of the course. */
  async book(s: Session, actorUserId: string): Promise<void> {
    const avoid = this.sessions.filter((o) => o !== s && o.status === 'BOOKED').map((o) => ({ startsAt: o.startsAt!, endsAt: o.endsAt! }));
    const { input } = this;
    let result: BookSessionResult;
    try {
      result = await acts.bookCourseSession({
        clinicId: input.clinicId, seriesId: input.seriesId, appointmentId: uuid4(), patientId: input.patientId, practitionerId: input.practitionerId,
        locationId: input.locationId, serviceId: s.serviceId, actorUserId, target: iso(s.target), dayFrom: iso(s.from), dayTo: iso(s.to), avoid,
      });
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      if (!(cause instanceof ApplicationFailure)) throw err;
      // Refused for good (a resource gone, no permission): the session waits for staff, the course goes on.
      Object.assign(s, { status: 'UNBOOKED', reason: cause.type ?? 'REFUSED', appointmentId: null, startsAt: null, endsAt: null, roomId: null, therapistIds: [] });
      return;
    }
    if (!result.booked) {
      Object.assign(s, { status: 'UNBOOKED', reason: result.reason, appointmentId: null, startsAt: null, endsAt: null, roomId: null, therapistIds: [] });
      return;
    }
    Object.assign(s, {
      status: 'BOOKED', reason: null, appointmentId: result.appointmentId, startsAt: result.startsAt, endsAt: result.endsAt,
      roomId: result.roomId, therapistIds: result.therapistIds,
    });
    // The visit's journey outlives the course's (no-show and follow-up come after the last session).
    await startAdoptedBooking({ appointmentId: result.appointmentId, clinicId: input.clinicId, patientId: input.patientId, practitionerId: input.practitionerId });
  }

  /** Frees a booked session through its appointment's journey. */
  async release(s: Session, actorUserId: string, reason: string): Promise<void> {
    if (s.status === 'BOOKED' && s.appointmentId) {
      await acts.cancelJourneyAppointment({ clinicId: this.input.clinicId, appointmentId: s.appointmentId, actorUserId, reason });
    }
  }

  async save(): Promise<void> {
    await acts.saveCourse({ clinicId: this.input.clinicId, seriesId: this.input.seriesId, status: this.status, reason: this.reason, sessions: this.sessions.map(toView) });
  }

  /** One change at a time: the body's steps and the handlers wait for each other. */
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

  // ───────────── handlers ─────────────

  async pause(req: PauseRequest): Promise<CourseProgress> {
    return this.exclusively(async () => {
      this.assertActive();
      const t = now();
      const future = this.sessions.filter((s) => (s.status === 'BOOKED' && Date.parse(s.startsAt!) > t) || ((s.status === 'UNBOOKED' || s.status === 'PLANNED') && s.from > t));
      try {
        await Promise.all(future.map((s) => this.release(s, req.actorUserId, `Course paused: ${req.reason}`)));
      } catch (err) {
        throw asRefusal(err);
      }
      for (const s of future) Object.assign(s, { status: 'RELEASED', reason: 'PAUSED', appointmentId: null, roomId: null, therapistIds: [] });
      this.status = 'PAUSED';
      this.reason = req.reason;
      await this.save();
      await this.tell('therapy-paused', 'paused', {});
      return this.progress();
    });
  }

  async resume(req: ResumeRequest): Promise<CourseProgress> {
    return this.exclusively(async () => {
      this.assertPaused();
      const clock = this.clock(req.date, req.time ?? this.input.time);
      const first = localInstant(req.date, req.time ?? this.input.time, this.input.timezone);
      if (!(first > now())) throw refused(TherapyFailure.IN_THE_PAST, 'The course can only resume at a future time');
      const remaining = this.sessions.filter((s) => s.status === 'RELEASED');
      remaining.forEach((s, i) => {
        const day = courseDay(clock, i);
        Object.assign(s, { from: day.from, to: day.to, target: day.target, dayStart: iso(day.from), dayEnd: iso(day.to), startsAt: null, endsAt: null });
      });
      for (const s of remaining) await this.book(s, req.actorUserId);
      this.status = 'ACTIVE';
      this.reason = null;
      await this.save();
      const next = remaining.find((s) => s.status === 'BOOKED');
      await this.tell('therapy-resumed', `resumed-${this.changes}`, next?.startsAt ? { startsAt: next.startsAt } : { startsAt: iso(first) });
      return this.progress();
    });
  }

  async cancel(req: CancelCourseRequest): Promise<CourseProgress> {
    return this.exclusively(async () => {
      this.assertOpen();
      const t = now();
      const future = this.sessions.filter((s) => (s.status === 'BOOKED' && Date.parse(s.startsAt!) > t) || s.status === 'RELEASED' || ((s.status === 'UNBOOKED' || s.status === 'PLANNED') && s.from > t));
      try {
        await Promise.all(future.map((s) => this.release(s, req.actorUserId, `Course cancelled: ${req.reason}`)));
      } catch (err) {
        throw asRefusal(err);
      }
      for (const s of future) Object.assign(s, { status: 'CANCELLED', reason: 'COURSE_CANCELLED' });
      this.status = 'CANCELLED';
      this.reason = req.reason;
      await this.save();
      // Refunds follow the clinic's policy once payments exist (SPEC §6 payment): nothing is paid through a course yet.
      await this.tell('therapy-cancelled', 'cancelled', {});
      return this.progress();
    });
  }

  async rescheduleSession(req: RescheduleSessionRequest): Promise<CourseProgress> {
    return this.exclusively(async () => {
      this.assertActive();
      const s = this.session(req.n);
      const startsAt = Date.parse(req.startsAt);
      if (s.status !== 'BOOKED' || !(Date.parse(s.startsAt!) > now())) throw refused(TherapyFailure.SESSION_NOT_CHANGEABLE, `Session ${req.n} is not a future booked session`);
      if (!(startsAt > now())) throw refused(TherapyFailure.IN_THE_PAST, 'startsAt must be in the future');
      const endsAt = startsAt + (Date.parse(s.endsAt!) - Date.parse(s.startsAt!));
      const clash = this.sessions.find((o) => o !== s && o.status === 'BOOKED' && startsAt < Date.parse(o.endsAt!) && Date.parse(o.startsAt!) < endsAt);
      if (clash) throw refused(TherapyFailure.SESSION_CLASH, `That time overlaps session ${clash.n} of the course`);
      try {
        const moved = await acts.rescheduleJourneyAppointment({
          clinicId: this.input.clinicId, appointmentId: s.appointmentId!, actorUserId: req.actorUserId, startsAt: iso(startsAt), requestId: uuid4(),
        });
        Object.assign(s, { startsAt: moved.startsAt, endsAt: moved.endsAt, roomId: moved.roomId, therapistIds: moved.therapistIds, reason: 'RESCHEDULED' });
      } catch (err) {
        throw asRefusal(err);
      }
      await this.save();
      return this.progress();
    });
  }

  async skipSession(req: SkipSessionRequest): Promise<CourseProgress> {
    return this.exclusively(async () => {
      this.assertOpen();
      const s = this.session(req.n);
      const future = s.status === 'BOOKED' ? Date.parse(s.startsAt!) > now() : ['UNBOOKED', 'RELEASED', 'PLANNED'].includes(s.status);
      if (!future) throw refused(TherapyFailure.SESSION_NOT_CHANGEABLE, `Session ${req.n} is ${s.status === 'BOOKED' ? 'under way or over' : s.status}`);
      try {
        await this.release(s, req.actorUserId, `Session skipped: ${req.reason}`);
      } catch (err) {
        throw asRefusal(err);
      }
      Object.assign(s, { status: 'SKIPPED', reason: req.reason });
      await this.save();
      return this.progress();
    });
  }

  /** The signal forms: the same logic; a refusal is kept for the progress query. */
  async bySignal(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  // ───────────── the timeline ─────────────

  /** Phase-change messages at each phase's first day, a regimen message each day of a phase that has one, and the end. */
  nextEvent(): { key: string; at: number; run: () => Promise<void> } | null {
    if (this.status !== 'ACTIVE') return null;
    const events: { key: string; at: number; run: () => Promise<void> }[] = [];
    const days = this.sessions.filter((s) => s.status !== 'CANCELLED' && s.status !== 'RELEASED');
    for (const p of this.input.phases) {
      const first = days.find((s) => s.phase === p.phase);
      const key = `phase-${p.phase}`;
      if (first && !this.sent.has(key)) events.push({ key, at: first.from, run: () => this.tell('therapy-phase-started', key, { phase: phaseName(p.phase), startsAt: first.startsAt ?? iso(first.target) }) });
    }
    for (const s of days) {
      const text = regimenFor(this.input.phases.find((p) => p.phase === s.phase)!, s.phaseDay);
      const key = `regimen-${s.n}`;
      if (text && !this.sent.has(key)) events.push({ key, at: s.from, run: () => this.tell('therapy-regimen', key, { phase: phaseName(s.phase), day: String(s.n), regimen: text }) });
    }
    if (!events.length) {
      const end = Math.max(...days.map((s) => (s.status === 'BOOKED' ? Date.parse(s.endsAt!) : s.to)), 0);
      events.push({ key: 'end', at: end, run: () => this.complete() });
    }
    return events.sort((a, b) => a.at - b.at)[0];
  }

  /** The last session is over: the review follow-up starts, due reviewAfterDays later. */
  async complete(): Promise<void> {
    const last = [...this.sessions].reverse().find((s) => s.status === 'BOOKED');
    if (last?.appointmentId) {
      const dayMs = this.input.dayMinutes ? this.input.dayMinutes * 60_000 : DAY_MS;
      const workflowId = followUpWorkflowId(last.appointmentId);
      try {
        await startChild<typeof followUp>('followUp', {
          workflowId, taskQueue: BOOKING_TASK_QUEUE,
          args: [{ clinicId: this.input.clinicId, appointmentId: last.appointmentId, dueAt: iso(now() + this.input.reviewAfterDays * dayMs), actorUserId: this.input.actorUserId }],
          parentClosePolicy: ParentClosePolicy.ABANDON, workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: SA.ClinicId, value: this.input.clinicId }, { key: SA.PatientId, value: this.input.patientId },
            { key: SA.PractitionerId, value: this.input.practitionerId }, { key: SA.AppointmentId, value: last.appointmentId },
            { key: SA.JourneyKind, value: 'followUp' },
          ],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      this.reviewWorkflowId = workflowId;
    }
    this.status = 'COMPLETED';
    await this.save();
  }

  async tell(template: string, key: string, params: Record<string, string>): Promise<void> {
    this.sent.add(key);
    await sendMessage({
      idempotencyKey: `therapy-${this.input.seriesId}-${key}`, clinicId: this.input.clinicId, recipient: { kind: 'patient', id: this.input.patientId },
      template, params: { clinicName: this.clinicName, timezone: this.input.timezone, courseName: this.input.templateCode, ...params },
    });
  }
}

const phaseName = (p: Phase) => ({ PURVAKARMA: 'Purvakarma', PRADHANAKARMA: 'Pradhanakarma', PASCHATKARMA: 'Paschatkarma' })[p];

/**
 * A Panchakarma course (SPEC §6 therapySeries): every session booked up front through the booking
 * core, each an appointment with its own booking journey started as a child of the course; a
 * message at each phase change and a regimen message each day of a phase that has one
 * (samsarjana krama in paschatkarma); pause releases future sessions at once, resume rebooks them
 * from a date in order; sessions move or are skipped one by one; the end starts the review
 * follow-up. History stays bounded by the course length (at most 60 sessions).
 */
export async function therapySeries(input: TherapyInput): Promise<CourseProgress> {
  const course = new Course(input);

  setHandler(progressQuery, () => course.progress());
  setHandler(courseReadyUpdate, async () => {
    await condition(() => course.bookedUpFront);
    return course.progress();
  });
  setHandler(pauseCourseUpdate, (r) => course.pause(r), { validator: (_r) => course.assertActive() });
  setHandler(resumeCourseUpdate, (r) => course.resume(r), { validator: (_r) => course.assertPaused() });
  setHandler(cancelCourseUpdate, (r) => course.cancel(r), { validator: (_r) => course.assertOpen() });
  setHandler(rescheduleSessionUpdate, (r) => course.rescheduleSession(r), { validator: (r) => { course.assertActive(); course.session(r.n); } });
  setHandler(skipSessionUpdate, (r) => course.skipSession(r), { validator: (r) => { course.assertOpen(); course.session(r.n); } });
  setHandler(pauseCourseSignal, (r) => course.bySignal(() => course.pause(r)));
  setHandler(resumeCourseSignal, (r) => course.bySignal(() => course.resume(r)));
  setHandler(cancelCourseSignal, (r) => course.bySignal(() => course.cancel(r)));

  await course.exclusively(async () => {
    course.clinicName = (await acts.courseContext({ clinicId: input.clinicId })).clinicName;
    // In order, each knowing the ones before it: sessions never clash with each other.
    for (const s of course.sessions) await course.book(s, input.actorUserId);
    course.status = 'ACTIVE';
    await course.save();
    course.bookedUpFront = true;
  });

  while (!course.ended) {
    const seen = course.changes;
    const next = course.nextEvent();
    if (next && next.at <= now()) {
      await course.exclusively(async () => {
        // Re-checked under the lock: a handler may have paused or changed the course meanwhile.
        const still = course.nextEvent();
        if (still?.key === next.key && still.at <= now()) await still.run();
      });
      continue;
    }
    if (next) await condition(() => course.changes !== seen, Math.max(1, next.at - now()));
    else await condition(() => course.changes !== seen);
  }
  await condition(allHandlersFinished);
  return course.progress();
}
