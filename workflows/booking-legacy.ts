import { ActivityFailure, ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { allHandlersFinished, condition, ParentClosePolicy, patched, proxyLocalActivities, setHandler, startChild } from '@temporalio/workflow';
import type { BookingActivities } from '../activities/booking';
import type { JourneyActivities, JourneyPlan } from '../activities/journey';
import {
  ActorRequest, AppointmentView, BOOKING_TASK_QUEUE, BookingFailure, BookingInput, BookingPhase, BookingStatus, BookRequest, bookUpdate,
  CancelRequest, cancelUpdate, checkInUpdate, CompleteRequest, completeUpdate, noShowUpdate, PractitionerUnavailableNotice,
  practitionerUnavailableSignal, RescheduleError, RescheduleRequest, rescheduleSignal, rescheduleUpdate, statusQuery,
} from './booking-api';
import type { followUp } from './follow-up';
import { followUpWorkflowId } from './follow-up-api';
import { sendMessage } from './messages';
import { SA } from './search-attributes';

// Database writes and reads on the caller's critical path: local activities avoid a task-queue
// round trip while keeping retries and history.
// Unbounded: the replay of journeys recorded before SERIAL_JOURNEY_PATCH must issue the same
// commands as then, so this policy cannot change (see workflows/booking.ts for the reasons it was).
const db = proxyLocalActivities<BookingActivities & JourneyActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    nonRetryableErrorTypes: Object.values(BookingFailure),
  },
});

/**
 * Journeys recorded before this patch only book and cancel; they replay that way and never get
 * reminders, messages or a no-show timer. Journeys started since take the durable path.
 */
export const DURABLE_JOURNEY_PATCH = 'durable-appointment-journey';

const TERMINAL = new Set(['CANCELLED', 'COMPLETED', 'NO_SHOW']);
/** Not yet checked in and not ended: the visit can still move, and still be missed. */
const MOVABLE = new Set(['PENDING_PAYMENT', 'CONFIRMED']);
/** A workflow started without its `book` update (it should not happen) does not linger. */
const BOOK_DEADLINE = '5 minutes';
const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Workflow time: the sandbox's clock reads the current workflow task's start time, the same on replay. */
const now = () => new Date().getTime();

type Step = { kind: 'reminder' | 'noShow'; key: string; at: number };
interface Message { seq: number; template: string; startsAt: string; params: Record<string, string> }

const refused = (type: keyof typeof BookingFailure, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** The business refusal inside an activity failure (SLOT_TAKEN, MIN_NOTICE…), if that is what it is. */
function refusalOf(err: unknown): ApplicationFailure | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type && cause.type in BookingFailure ? cause : null;
}

/** A signal's payload comes from a person at a CLI: check it as untrusted input. */
function parseRescheduleSignal(raw: unknown): RescheduleRequest | string {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (typeof r.actorUserId !== 'string' || !UUID.test(r.actorUserId)) return 'actorUserId must be the id of the staff user rescheduling';
  if (typeof r.startsAt !== 'string' || !INSTANT.test(r.startsAt) || Number.isNaN(Date.parse(r.startsAt))) return 'startsAt must be an ISO 8601 instant with offset';
  if (r.practitionerId !== undefined && (typeof r.practitionerId !== 'string' || !UUID.test(r.practitionerId))) return 'practitionerId must be a practitioner id';
  return { actorUserId: r.actorUserId, startsAt: r.startsAt, ...(r.practitionerId ? { practitionerId: r.practitionerId as string } : {}) };
}

class Journey {
  phase: BookingPhase = 'AWAITING_BOOKING';
  appointment: AppointmentView | null = null;
  private plan: JourneyPlan | null = null;
  /** The stamp the plan was made for: a plan for another time or status is not acted on. */
  private plannedFor = '';
  /** Bumped by every successful reschedule: reminders and the no-show deadline follow the new time. */
  private revision = 0;
  /** When the visit got its current time: reminders already due then are skipped. */
  private armedAt = 0;
  /** Steps taken, as `<revision>:<key>`: each reminder of a given time goes out once. */
  private readonly done = new Set<string>();
  private readonly outbox: Message[] = [];
  private messages = 0;
  private busy = false;
  private lastRescheduleError: RescheduleError | null = null;
  private offeredSlot: { startsAt: string; endsAt: string } | null = null;
  private followUp: CompleteRequest | null = null;
  private followUpWorkflowId: string | null = null;
  /** Leaves already acted on (the API re-sends every overlapping leave when a schedule is saved again). */
  private readonly handledLeaves = new Set<string>();

  constructor(private readonly input: BookingInput, readonly durable: boolean) {}

  get ended(): boolean {
    return this.appointment !== null && TERMINAL.has(this.appointment.status);
  }

  private get ids() {
    return { appointmentId: this.input.appointmentId, clinicId: this.input.clinicId };
  }

  /** Status and time as the journey knows them: a change here wakes the body to plan again. */
  private get stamp(): string {
    return `${this.appointment?.status}:${this.revision}`;
  }

  status(): BookingStatus {
    const basic = { phase: this.phase, appointmentStatus: this.appointment?.status ?? null, version: this.appointment?.version ?? null };
    if (!this.durable) return basic;
    return {
      ...basic,
      startsAt: this.appointment?.startsAt ?? null,
      practitionerId: this.appointment?.practitionerId ?? null,
      reminders: (this.plan?.reminders ?? []).map((r) => ({ ...r, sent: this.done.has(`${this.revision}:${r.key}`) })),
      noShowAt: this.plan?.noShowAt ?? null,
      reschedules: this.revision,
      lastRescheduleError: this.lastRescheduleError,
      offeredSlot: this.offeredSlot,
      followUpWorkflowId: this.followUpWorkflowId,
    };
  }

  // ───────────── validators: run before an update is accepted ─────────────

  assertAwaitingBooking(): void {
    if (this.phase === 'NOT_BOOKED' || this.phase === 'ENDED') throw new Error('This booking journey has ended');
  }

  assertOpen(): void {
    if (!this.appointment) throw new Error('Nothing is booked yet');
    if (this.ended) throw new Error(`Appointment is ${this.appointment.status}`);
  }

  assertMovable(): void {
    this.assertOpen();
    if (!MOVABLE.has(this.appointment!.status)) throw refused('NOT_RESCHEDULABLE', `Appointment is ${this.appointment!.status}`);
  }

  // ───────────── handlers ─────────────

  async book(request: BookRequest): Promise<AppointmentView> {
    // A replayed request (same Idempotency-Key) gets the booking already made.
    if (this.appointment) return this.appointment;
    try {
      this.appointment = await db.bookAppointment({ ...request, ...this.ids });
      this.armedAt = now();
      this.phase = 'BOOKED';
      return this.appointment;
    } catch (err) {
      this.phase = 'NOT_BOOKED';
      throw err;
    }
  }

  /** A booking another journey made (a follow-up): take the row as it is. */
  async adopt(): Promise<void> {
    this.appointment = await db.loadAppointment(this.ids);
    this.armedAt = now();
    this.phase = 'BOOKED';
  }

  async cancel(request: CancelRequest): Promise<AppointmentView> {
    return this.exclusively(async () => {
      if (this.ended) throw refused('NOT_CANCELLABLE', `Appointment is ${this.appointment!.status}`);
      this.appointment = await db.cancelAppointment({ ...request, ...this.ids });
      this.tell('appointment-cancelled');
      return this.appointment;
    });
  }

  async reschedule(request: RescheduleRequest): Promise<AppointmentView> {
    return this.exclusively(async () => {
      try {
        this.assertMovable();
      } catch (err) {
        this.recordRefusal(err, request.startsAt);
        throw err;
      }
      return this.move(request);
    });
  }

  /** Same logic as the update; a signal cannot answer, so a refusal is kept for the status query. */
  async rescheduleBySignal(raw: unknown): Promise<void> {
    const request = parseRescheduleSignal(raw);
    if (typeof request === 'string') {
      this.lastRescheduleError = { type: 'INVALID_REQUEST', message: request, requestedStartsAt: null, at: new Date(now()).toISOString() };
      return;
    }
    try {
      await this.reschedule(request);
    } catch (err) {
      this.recordRefusal(err, request.startsAt);
    }
  }

  async checkIn(request: ActorRequest): Promise<AppointmentView> {
    return this.exclusively(async () => (this.appointment = await db.checkInAppointment({ ...request, ...this.ids })));
  }

  async complete(request: CompleteRequest): Promise<AppointmentView> {
    return this.exclusively(async () => {
      this.appointment = await db.completeAppointment({ ...request, ...this.ids });
      if (request.followUpInDays !== undefined) this.followUp = request;
      return this.appointment;
    });
  }

  async noShow(request: ActorRequest): Promise<AppointmentView> {
    return this.exclusively(async () => (this.appointment = await db.markNoShow({ ...request, ...this.ids })));
  }

  /** The practitioner took leave over this visit: offer the nearest free slot, or move there (clinic setting). */
  async practitionerUnavailable(notice: PractitionerUnavailableNotice): Promise<void> {
    const from = Date.parse(notice?.from);
    const to = Date.parse(notice?.to);
    const leave = `${from}/${to}`;
    if (!this.durable || Number.isNaN(from) || Number.isNaN(to) || this.handledLeaves.has(leave)) return;
    await this.exclusively(async () => {
      const a = this.appointment;
      if (!a || this.ended || !MOVABLE.has(a.status) || !(Date.parse(a.startsAt) < to && from < Date.parse(a.endsAt))) return;
      if (this.handledLeaves.has(leave)) return;
      this.handledLeaves.add(leave);
      const { slot, autoRescheduleOnLeave } = await db.findSlotNearAppointment(this.ids);
      if (slot && autoRescheduleOnLeave) {
        try {
          await this.move({ actorUserId: null, startsAt: slot.startsAt });
          return;
        } catch {
          // Taken meanwhile: offer it instead (the refusal is in the status query).
        }
      }
      this.offeredSlot = slot;
      this.tell('appointment-practitioner-unavailable', slot ? { offeredStartsAt: slot.startsAt } : {});
    });
  }

  // ───────────── the body's steps ─────────────

  /** Reminder times and the no-show deadline for the current time, from settings and preferences as they are now. */
  async replan(): Promise<void> {
    const stamp = this.stamp;
    const a = this.appointment!;
    this.plan = await db.planJourney({ ...this.ids, startsAt: a.startsAt, armedAt: new Date(this.armedAt).toISOString() });
    this.plannedFor = stamp;
  }

  confirm(): void {
    if (this.appointment!.status === 'CONFIRMED') this.tell('appointment-confirmed');
  }

  /** The next timed step: a reminder not yet sent (confirmed visits only) or the no-show deadline. */
  nextStep(): Step | null {
    const a = this.appointment!;
    if (!this.plan || this.plannedFor !== this.stamp || !MOVABLE.has(a.status)) return null;
    const steps: Step[] = [
      ...(a.status === 'CONFIRMED' ? this.plan.reminders.map((r) => ({ kind: 'reminder' as const, key: r.key, at: Date.parse(r.at) })) : []),
      { kind: 'noShow', key: 'no-show', at: Date.parse(this.plan.noShowAt) },
    ];
    return steps.filter((s) => !this.done.has(`${this.revision}:${s.key}`)).sort((x, y) => x.at - y.at)[0] ?? null;
  }

  /**
   * Sleeps until `step` is due or something changes (a reschedule, a status, a message to send).
   * True when the step is due now; false means plan again first.
   */
  async waitFor(step: Step | null): Promise<boolean> {
    if (step && step.at <= now()) return true;
    const changed = () => this.stamp !== this.plannedFor || this.outbox.length > 0;
    if (step) await condition(changed, Math.max(1, step.at - now()));
    else await condition(changed);
    return false;
  }

  async take(step: Step): Promise<void> {
    await this.exclusively(async () => {
      // Re-checked under the lock: a handler may have moved or ended the visit meanwhile.
      const still = this.nextStep();
      if (!still || still.key !== step.key || still.at > now()) return;
      this.done.add(`${this.revision}:${step.key}`);
      if (step.kind === 'reminder') {
        if (now() < Date.parse(this.appointment!.startsAt)) this.tell('appointment-reminder');
        return;
      }
      try {
        this.appointment = await db.markNoShow({ ...this.ids, actorUserId: null });
      } catch (err) {
        if (!refusalOf(err)) throw err;
        this.appointment = await db.loadAppointment(this.ids); // changed outside the journey: follow the row
      }
    });
  }

  /** Sends what the handlers and steps queued, in order, worded with the latest plan. */
  async flush(): Promise<void> {
    for (let m = this.outbox.shift(); m; m = this.outbox.shift()) {
      await sendMessage({
        idempotencyKey: `appointment-${this.input.appointmentId}-m${m.seq}-${m.template}`,
        clinicId: this.input.clinicId,
        recipient: { kind: 'patient', id: this.appointment!.patientId },
        template: m.template,
        params: { clinicName: this.plan!.clinicName, timezone: this.plan!.timezone, startsAt: m.startsAt, ...m.params },
      });
    }
  }

  /** The last messages, then the follow-up journey when the visit was completed with one. */
  async close(): Promise<void> {
    await this.flush();
    if (this.appointment!.status !== 'COMPLETED' || this.followUp?.followUpInDays === undefined) return;
    const a = this.appointment!;
    const workflowId = followUpWorkflowId(a.id);
    try {
      // A child that outlives this journey (it sleeps for days after the visit closed).
      await startChild<typeof followUp>('followUp', {
        workflowId,
        taskQueue: BOOKING_TASK_QUEUE,
        args: [{ clinicId: a.clinicId, appointmentId: a.id, dueAt: new Date(now() + this.followUp.followUpInDays * DAY_MS).toISOString(), actorUserId: this.followUp.actorUserId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SA.ClinicId, value: a.clinicId }, { key: SA.PatientId, value: a.patientId }, { key: SA.PractitionerId, value: a.practitionerId },
          { key: SA.AppointmentId, value: a.id }, { key: SA.JourneyKind, value: 'followUp' },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    this.followUpWorkflowId = workflowId;
  }

  // ───────────── internals ─────────────

  /** One change at a time: a handler waits for the one before it and then re-checks what it found. */
  private async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => !this.busy);
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  /** The one reschedule logic (update, signal, leave). actorUserId null: the journey itself. */
  private async move(request: Omit<RescheduleRequest, 'actorUserId'> & { actorUserId: string | null }): Promise<AppointmentView> {
    try {
      this.appointment = await db.rescheduleAppointment({ ...request, ...this.ids });
    } catch (err) {
      this.recordRefusal(err, request.startsAt);
      throw err;
    }
    this.revision += 1;
    this.armedAt = now();
    this.lastRescheduleError = null;
    this.offeredSlot = null;
    this.tell('appointment-rescheduled');
    return this.appointment;
  }

  private recordRefusal(err: unknown, requestedStartsAt: string): void {
    const refusal = refusalOf(err);
    const message = refusal?.message ?? (err instanceof Error ? err.message : 'The reschedule failed');
    this.lastRescheduleError = { type: refusal?.type ?? 'REFUSED', message, requestedStartsAt, at: new Date(now()).toISOString() };
  }

  /** Queues a message for the body to send; journeys recorded before the patch send none. */
  private tell(template: string, params: Record<string, string> = {}): void {
    if (!this.durable) return;
    this.outbox.push({ seq: ++this.messages, template, startsAt: this.appointment!.startsAt, params });
  }
}

/**
 * The booking journey as it ran before SERIAL_JOURNEY_PATCH (workflows/booking.ts), kept unchanged so
 * that journeys started by it replay: handlers ran their own local activities and the body started a
 * child workflow per message. Do not change this code; new behaviour goes into workflows/booking.ts.
 *
 * Its flaw (why it was replaced): handler and body coroutines both issued commands, so their order
 * depended on how local-activity resolutions were grouped into activations, which differs between a
 * live run and a replay once a local activity outlives a workflow task (TMPRL1100).
 */
export async function legacyBooking(input: BookingInput): Promise<BookingStatus> {
  const journey = new Journey(input, patched(DURABLE_JOURNEY_PATCH));

  setHandler(statusQuery, () => journey.status());
  setHandler(bookUpdate, (request) => journey.book(request), { validator: (_request) => journey.assertAwaitingBooking() });
  setHandler(cancelUpdate, (request) => journey.cancel(request), { validator: (_request) => journey.assertOpen() });
  setHandler(rescheduleUpdate, (request) => journey.reschedule(request), { validator: (_request) => journey.assertMovable() });
  setHandler(rescheduleSignal, (request) => journey.rescheduleBySignal(request));
  setHandler(checkInUpdate, (request) => journey.checkIn(request), { validator: (_request) => journey.assertOpen() });
  setHandler(completeUpdate, (request) => journey.complete(request), { validator: (_request) => journey.assertOpen() });
  setHandler(noShowUpdate, (request) => journey.noShow(request), { validator: (_request) => journey.assertOpen() });
  setHandler(practitionerUnavailableSignal, (notice) => journey.practitionerUnavailable(notice));

  if (input.adopted && journey.durable) await journey.adopt();
  const decided = journey.phase !== 'AWAITING_BOOKING' || await condition(() => journey.phase !== 'AWAITING_BOOKING', BOOK_DEADLINE);
  if (!decided) journey.phase = 'NOT_BOOKED';
  if (journey.phase === 'BOOKED') {
    if (journey.durable) {
      await journey.replan();
      journey.confirm();
      while (!journey.ended) {
        await journey.flush();
        const step = journey.nextStep();
        if (await journey.waitFor(step)) await journey.take(step!);
        else await journey.replan();
      }
      await journey.close();
    } else {
      await condition(() => journey.ended);
    }
    journey.phase = 'ENDED';
  }
  await condition(allHandlersFinished);
  return journey.status();
}
