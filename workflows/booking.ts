import { ActivityFailure, ApplicationFailure, TemporalFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished, condition, ParentClosePolicy, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, startChild,
} from '@temporalio/workflow';
import type { BookingActivities } from '../activities/booking';
import type { AppointmentMessage, JourneyActivities, JourneyPlan } from '../activities/journey';
import type { NotificationActivities } from '../activities/notifications';
import { parseRescheduleSignal } from '../shared/journey/signals';
import { MOVABLE_STATUSES, nextStep, sleepFor, Step, stepAction, TERMINAL_STATUSES } from '../shared/journey/steps';
import {
  ActorRequest, AppointmentView, BOOKING_TASK_QUEUE, BookingFailure, BookingInput, BookingPhase, BookingStatus, BookRequest, bookUpdate,
  CancelRequest, cancelUpdate, checkInUpdate, CompleteRequest, completeUpdate, noShowUpdate, PractitionerUnavailableNotice,
  practitionerUnavailableSignal, RescheduleError, RescheduleRequest, rescheduleSignal, rescheduleUpdate, statusQuery,
} from './booking-api';
import { DURABLE_JOURNEY_PATCH, legacyBooking } from './booking-legacy';
import type { followUp } from './follow-up';
import { followUpWorkflowId } from './follow-up-api';
import { JOURNEY_MESSAGE_ATTEMPTS, NOTIFICATIONS_TASK_QUEUE, NotificationFailure } from './notification-api';
import { paymentSettledSignal, type PaymentSettledNotice } from './payment-api';
import { startPaymentJourney } from './payment-start';
import { SA } from './search-attributes';

export { DURABLE_JOURNEY_PATCH };

/**
 * Journeys started since this patch run the code below; earlier ones replay legacyBooking
 * (workflows/booking-legacy.ts) unchanged. What changed in the workflow's shape:
 * - one coroutine issues every command: update and signal handlers only queue a request and wait
 *   for its answer, the body serves the requests one at a time (no handler runs an activity);
 * - the `book` update's workflow task holds only the INSERT (a local activity) and schedules the
 *   confirmation; the plan is made in the next workflow task, after the reply;
 * - messages are activities of the journey on the notifications queue, not child workflows;
 * - the service kind's preparation and after-care instructions and its default follow-up.
 */
export const SERIAL_JOURNEY_PATCH = 'serial-appointment-journey';
/** Journeys since this patch start the payment journey that holds (and releases) an unpaid booking. */
export const PAYMENT_HOLD_PATCH = 'payment-hold-journey';

// Database writes and reads: local activities avoid a task-queue round trip while keeping retries and
// history. Only the body calls them, one at a time (see SERIAL_JOURNEY_PATCH).
// Unbounded: the journey's own steps (plan, no-show) must outlast a database outage, since giving
// up would end an appointment's journey for good. What never heals cannot loop: refusals are
// BookingFailure types and data errors are non-retryable (activities/data-errors.ts), and a caller
// waiting on an update has the API's deadline (WORKFLOW_CALL_TIMEOUT_MS).
const db = proxyLocalActivities<BookingActivities & JourneyActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    nonRetryableErrorTypes: Object.values(BookingFailure),
  },
});

// Providers go down for minutes: back off up to a minute between tries (about two minutes over
// JOURNEY_MESSAGE_ATTEMPTS); the activity dead-letters the row on its last attempt.
const notify = proxyActivities<JourneyActivities>({
  taskQueue: NOTIFICATIONS_TASK_QUEUE,
  // Each provider call has its own deadline (NOTIFY_PROVIDER_TIMEOUT_MS); up to three channels per attempt.
  startToCloseTimeout: '45 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: JOURNEY_MESSAGE_ATTEMPTS,
    nonRetryableErrorTypes: Object.values(NotificationFailure),
  },
});

// Dead-letters a message whose last attempt timed out (the activity could not do it itself): a
// database write, retried for about ten minutes, then given up (the row stays PENDING, visible as such).
const { markNotificationUndelivered } = proxyActivities<NotificationActivities>({
  taskQueue: NOTIFICATIONS_TASK_QUEUE,
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 15 },
});

/** A workflow started without its `book` update (it should not happen) does not linger. */
const BOOK_DEADLINE = '5 minutes';
const DAY_MS = 86_400_000;

/** Workflow time: the sandbox's clock reads the current workflow task's start time, the same on replay. */
const now = () => new Date().getTime();

type Request =
  | { kind: 'book'; body: BookRequest }
  | { kind: 'cancel'; body: CancelRequest }
  | { kind: 'reschedule'; body: RescheduleRequest }
  | { kind: 'rescheduleSignal'; body: unknown }
  | { kind: 'checkIn' | 'noShow'; body: ActorRequest }
  | { kind: 'complete'; body: CompleteRequest }
  | { kind: 'leave'; body: PractitionerUnavailableNotice }
  | { kind: 'paymentSettled'; body: PaymentSettledNotice };

/** A queued request; `answer` is set by the body, which wakes the update handler waiting for it. */
interface Pending {
  request: Request;
  answer?: { value: AppointmentView | null } | { error: TemporalFailure };
}

interface QueuedMessage { seq: number; template: string; startsAt: string; params: Record<string, string> }

const refused = (type: keyof typeof BookingFailure, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** The business refusal inside an activity failure (SLOT_TAKEN, MIN_NOTICE…), if that is what it is. */
function refusalOf(err: unknown): ApplicationFailure | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type && cause.type in BookingFailure ? cause : null;
}

class Journey {
  phase: BookingPhase = 'AWAITING_BOOKING';
  appointment: AppointmentView | null = null;
  private plan: JourneyPlan | null = null;
  /** The revision (visit time) the plan was made for: a plan for another time is not acted on. */
  private plannedFor = -1;
  /** Bumped by every successful reschedule: reminders and the no-show deadline follow the new time. */
  private revision = 0;
  /** When the visit got its current time: steps already due then are skipped. */
  private armedAt = 0;
  /** Steps taken, as `<revision>:<key>`: each step of a given time is taken once. */
  private readonly done = new Set<string>();
  private readonly inbox: Pending[] = [];
  private readonly outbox: QueuedMessage[] = [];
  private messages = 0;
  /** Message activities scheduled and not yet settled; the journey ends only when none is. */
  private messagesInFlight = 0;
  /** Messages whose activity failed without dead-lettering the row (its last attempt timed out). */
  private readonly undelivered: QueuedMessage[] = [];
  private lastRescheduleError: RescheduleError | null = null;
  private offeredSlot: { startsAt: string; endsAt: string } | null = null;
  private followUp: CompleteRequest | null = null;
  private followUpWorkflowId: string | null = null;
  /** Leaves already acted on (the API re-sends every overlapping leave when a schedule is saved again). */
  private readonly handledLeaves = new Set<string>();

  constructor(private readonly input: BookingInput) {}

  get ended(): boolean {
    return this.appointment !== null && TERMINAL_STATUSES.has(this.appointment.status);
  }

  private get ids() {
    return { appointmentId: this.input.appointmentId, clinicId: this.input.clinicId };
  }

  private taken = (key: string) => this.done.has(`${this.revision}:${key}`);

  status(): BookingStatus {
    const sent = (steps: { key: string; at: string }[] | undefined) => (steps ?? []).map((s) => ({ key: s.key, at: s.at, sent: this.taken(s.key) }));
    return {
      phase: this.phase,
      appointmentStatus: this.appointment?.status ?? null,
      version: this.appointment?.version ?? null,
      startsAt: this.appointment?.startsAt ?? null,
      practitionerId: this.appointment?.practitionerId ?? null,
      reminders: sent(this.plan?.reminders),
      preparation: sent(this.plan?.preparation),
      afterCare: sent(this.plan?.afterCare),
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
    if (!MOVABLE_STATUSES.has(this.appointment!.status)) throw refused('NOT_RESCHEDULABLE', `Appointment is ${this.appointment!.status}`);
  }

  // ───────────── handlers: queue, then wait for the body's answer ─────────────

  async ask(request: Request): Promise<AppointmentView> {
    const pending: Pending = { request };
    this.inbox.push(pending);
    await condition(() => pending.answer !== undefined);
    const answer = pending.answer!;
    if ('error' in answer) throw answer.error;
    return answer.value!;
  }

  /** A signal cannot be answered: the body acts on it, refusals go to the status query. */
  notice(request: Request): void {
    this.inbox.push({ request });
  }

  // ───────────── the body ─────────────

  async run(): Promise<BookingStatus> {
    if (this.input.adopted) await this.adopt();
    // The `book` update came with the start: it is queued already, and no deadline timer is needed.
    else if (this.inbox.length === 0 && !(await condition(() => this.inbox.length > 0, BOOK_DEADLINE))) this.phase = 'NOT_BOOKED';
    await this.serveInbox();
    if (this.phase === 'BOOKED') {
      // The `book` reply goes out when this workflow task completes: it holds the INSERT and the
      // confirmation's scheduling, nothing that waits. The plan (a local activity) comes in the next task.
      this.sendOutbox();
      await sleep(1);
      // An unpaid booking is held by its payment journey, which releases it when the clinic's hold runs out.
      if (this.appointment?.status === 'PENDING_PAYMENT' && patched(PAYMENT_HOLD_PATCH)) await startPaymentJourney(this.appointment);
      await this.live();
      this.phase = 'ENDED';
    }
    await this.finish();
    return this.status();
  }

  /** Until the visit ends (and after a completion, until its after-care is sent). */
  private async live(): Promise<void> {
    for (;;) {
      await this.serveInbox();
      this.sendOutbox();
      this.deadLetterUndelivered();
      if (this.ended && this.appointment!.status !== 'COMPLETED') return;
      // The plan depends on the visit's time only (steps are chosen by status): a check-in or a
      // completion needs none, a completion's after-care is in the plan already.
      if (this.plannedFor !== this.revision && (!this.ended || !this.plan)) {
        await this.replan();
        continue;
      }
      const step = nextStep(this.appointment!.status, this.plan, this.taken);
      if (!step && this.ended) return;
      if (step && step.at <= now()) {
        await this.take(step);
        continue;
      }
      const woken = () => this.inbox.length > 0 || this.outbox.length > 0 || this.undelivered.length > 0;
      const timeout = sleepFor(step, now());
      if (timeout === undefined) await condition(woken);
      else await condition(woken, timeout);
    }
  }

  /** The follow-up, the last messages, and every request still queued answered. */
  private async finish(): Promise<void> {
    await this.startFollowUp();
    for (;;) {
      await this.serveInbox();
      this.sendOutbox();
      this.deadLetterUndelivered();
      if (this.messagesInFlight === 0 && this.outbox.length === 0 && this.inbox.length === 0) break;
      await condition(() => this.inbox.length > 0 || this.outbox.length > 0 || this.undelivered.length > 0 || this.messagesInFlight === 0);
    }
    await condition(allHandlersFinished);
  }

  private async serveInbox(): Promise<void> {
    for (let p = this.inbox.shift(); p; p = this.inbox.shift()) {
      try {
        p.answer = { value: await this.perform(p.request) };
      } catch (err) {
        // Anything but a Temporal failure is a bug in this code: fail the workflow task (it is retried after a fix).
        if (!(err instanceof TemporalFailure)) throw err;
        p.answer = { error: err };
      }
    }
  }

  private async perform(r: Request): Promise<AppointmentView | null> {
    switch (r.kind) {
      case 'book': return this.book(r.body);
      case 'cancel': return this.cancel(r.body);
      case 'reschedule': return this.reschedule(r.body);
      case 'rescheduleSignal': return this.rescheduleBySignal(r.body);
      case 'checkIn': return this.change(() => db.checkInAppointment({ ...r.body, ...this.ids }));
      case 'noShow': return this.change(() => db.markNoShow({ ...r.body, ...this.ids }));
      case 'complete': {
        const a = await this.change(() => db.completeAppointment({ ...r.body, ...this.ids }));
        this.followUp = r.body;
        return a;
      }
      case 'leave': return this.practitionerUnavailable(r.body);
      case 'paymentSettled': return this.followPayment(r.body);
    }
  }

  private async book(request: BookRequest): Promise<AppointmentView> {
    // A replayed request (same Idempotency-Key) gets the booking already made.
    if (this.appointment) return this.appointment;
    if (this.phase !== 'AWAITING_BOOKING') throw refused('NOT_FOUND', 'This booking journey has ended');
    try {
      this.appointment = await db.bookAppointment({ ...request, ...this.ids });
    } catch (err) {
      this.phase = 'NOT_BOOKED';
      throw err;
    }
    this.armedAt = now();
    this.phase = 'BOOKED';
    if (this.appointment.status === 'CONFIRMED') this.tell('appointment-confirmed');
    return this.appointment;
  }

  /** The payment journey changed the row (paid → CONFIRMED, hold expired → CANCELLED): follow it and tell the patient. */
  private async followPayment(notice: PaymentSettledNotice): Promise<null> {
    if (!this.appointment || this.ended) return null;
    const before = this.appointment.status;
    this.appointment = await db.loadAppointment(this.ids);
    if (this.appointment.status === 'CONFIRMED' && before !== 'CONFIRMED') this.tell('appointment-confirmed');
    if (this.appointment.status === 'CANCELLED' && before !== 'CANCELLED') this.tell(notice?.outcome === 'HOLD_EXPIRED' ? 'appointment-hold-expired' : 'appointment-cancelled');
    return null;
  }

  /** A booking another journey made (a follow-up): take the row as it is. */
  private async adopt(): Promise<void> {
    this.appointment = await db.loadAppointment(this.ids);
    this.armedAt = now();
    this.phase = 'BOOKED';
    if (this.appointment.status === 'CONFIRMED') this.tell('appointment-confirmed');
  }

  private async change(write: () => Promise<AppointmentView>): Promise<AppointmentView> {
    this.assertOpenOrRefuse();
    return (this.appointment = await write());
  }

  /** Validators ran when the request was accepted; a request queued behind another re-checks here. */
  private assertOpenOrRefuse(): void {
    if (!this.appointment) throw refused('NOT_FOUND', 'Nothing is booked yet');
    if (this.ended) throw refused('INVALID_TRANSITION', `Appointment is ${this.appointment.status}`);
  }

  private async cancel(request: CancelRequest): Promise<AppointmentView> {
    if (this.ended) throw refused('NOT_CANCELLABLE', `Appointment is ${this.appointment!.status}`);
    this.appointment = await db.cancelAppointment({ ...request, ...this.ids });
    this.tell('appointment-cancelled');
    return this.appointment;
  }

  private async reschedule(request: RescheduleRequest): Promise<AppointmentView> {
    try {
      this.assertOpenOrRefuse();
      if (!MOVABLE_STATUSES.has(this.appointment!.status)) throw refused('NOT_RESCHEDULABLE', `Appointment is ${this.appointment!.status}`);
    } catch (err) {
      this.recordRefusal(err, request.startsAt);
      throw err;
    }
    return this.move(request);
  }

  /** Same logic as the update; a signal cannot answer, so a refusal is kept for the status query. */
  private async rescheduleBySignal(raw: unknown): Promise<null> {
    const request = parseRescheduleSignal(raw);
    if (typeof request === 'string') {
      this.lastRescheduleError = { type: 'INVALID_REQUEST', message: request, requestedStartsAt: null, at: new Date(now()).toISOString() };
      return null;
    }
    try {
      await this.reschedule(request);
    } catch (err) {
      if (!(err instanceof TemporalFailure)) throw err;
      this.recordRefusal(err, request.startsAt);
    }
    return null;
  }

  /** The practitioner took leave over this visit: offer the nearest free slot, or move there (clinic setting). */
  private async practitionerUnavailable(notice: PractitionerUnavailableNotice): Promise<null> {
    const from = Date.parse(notice?.from);
    const to = Date.parse(notice?.to);
    const leave = `${from}/${to}`;
    const a = this.appointment;
    if (Number.isNaN(from) || Number.isNaN(to) || this.handledLeaves.has(leave)) return null;
    if (!a || this.ended || !MOVABLE_STATUSES.has(a.status) || !(Date.parse(a.startsAt) < to && from < Date.parse(a.endsAt))) return null;
    this.handledLeaves.add(leave);
    const { slot, autoRescheduleOnLeave } = await db.findSlotNearAppointment(this.ids);
    if (slot && autoRescheduleOnLeave) {
      try {
        await this.move({ actorUserId: null, startsAt: slot.startsAt });
        return null;
      } catch (err) {
        if (!(err instanceof TemporalFailure)) throw err;
        // Taken meanwhile: offer it instead (the refusal is in the status query).
      }
    }
    this.offeredSlot = slot;
    this.tell('appointment-practitioner-unavailable', slot ? { offeredStartsAt: slot.startsAt } : {});
    return null;
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

  /** Steps, the kind's instructions and the no-show deadline for the current time and status, from settings as they are now. */
  private async replan(): Promise<void> {
    const revision = this.revision;
    const a = this.appointment!;
    this.plan = await db.planJourney({ ...this.ids, startsAt: a.startsAt, endsAt: a.endsAt, armedAt: new Date(this.armedAt).toISOString() });
    this.plannedFor = revision;
  }

  private async take(step: Step): Promise<void> {
    this.done.add(`${this.revision}:${step.key}`);
    const action = stepAction(step, now(), Date.parse(this.appointment!.startsAt));
    if (action === 'message') {
      if (step.kind === 'reminder') this.tell('appointment-reminder');
      else this.tell('service-instruction', { kind: this.plan!.kind ?? '', key: step.instruction! });
    } else if (action === 'markNoShow') {
      try {
        this.appointment = await db.markNoShow({ ...this.ids, actorUserId: null });
      } catch (err) {
        if (!refusalOf(err)) throw err;
        this.appointment = await db.loadAppointment(this.ids); // changed outside the journey: follow the row
      }
    }
  }

  /** Queues a message; the body schedules it (sendOutbox) before it next waits. */
  private tell(template: string, params: Record<string, string> = {}): void {
    this.outbox.push({ seq: ++this.messages, template, startsAt: this.appointment!.startsAt, params });
  }

  /**
   * Schedules each queued message as an activity on the notifications queue. Not awaited: the body
   * goes on with its timers while a provider is retried. The callbacks only record the outcome.
   */
  private sendOutbox(): void {
    for (let m = this.outbox.shift(); m; m = this.outbox.shift()) {
      const message = m;
      const request: AppointmentMessage = { ...this.ids, seq: message.seq, template: message.template, startsAt: message.startsAt, params: message.params };
      this.messagesInFlight += 1;
      void notify.sendAppointmentMessage(request).then(
        () => { this.messagesInFlight -= 1; },
        (err: unknown) => {
          this.messagesInFlight -= 1;
          // A refused message (unknown template, bad params) is FAILED already; a timed-out last attempt is not.
          const cause = err instanceof ActivityFailure ? err.cause : null;
          if (!(cause instanceof ApplicationFailure && cause.nonRetryable)) this.undelivered.push(message);
        },
      );
    }
  }

  private deadLetterUndelivered(): void {
    for (let m = this.undelivered.shift(); m; m = this.undelivered.shift()) {
      this.messagesInFlight += 1;
      const idempotencyKey = `appointment-${this.input.appointmentId}-m${m.seq}-${m.template}`;
      void markNotificationUndelivered({ idempotencyKey, clinicId: this.input.clinicId, reason: 'RETRIES_EXHAUSTED' })
        .finally(() => { this.messagesInFlight -= 1; });
    }
  }

  /** After a completion: the follow-up staff named, else the service kind's default. */
  private async startFollowUp(): Promise<void> {
    const a = this.appointment;
    if (!a || a.status !== 'COMPLETED' || !this.followUp) return;
    const days = this.followUp.followUpInDays ?? this.plan?.defaultFollowUpInDays ?? undefined;
    if (days === undefined || days === null) return;
    const workflowId = followUpWorkflowId(a.id);
    try {
      // A child that outlives this journey (it sleeps for days after the visit closed).
      await startChild<typeof followUp>('followUp', {
        workflowId,
        taskQueue: BOOKING_TASK_QUEUE,
        args: [{ clinicId: a.clinicId, appointmentId: a.id, dueAt: new Date(now() + days * DAY_MS).toISOString(), actorUserId: this.followUp.actorUserId }],
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
}

/**
 * One appointment, from booking to its end (SPEC §6): confirmation, reminders at the clinic's
 * offsets and the service kind's preparation outside the patient's quiet hours, check-in, no-show
 * after the grace period, completion with its after-care and follow-up. Reschedules (update, staff
 * signal, practitioner leave) re-arm the timers; a cancel ends it.
 */
export async function booking(input: BookingInput): Promise<BookingStatus> {
  if (!patched(SERIAL_JOURNEY_PATCH)) return legacyBooking(input);
  const journey = new Journey(input);

  setHandler(statusQuery, () => journey.status());
  setHandler(bookUpdate, (body) => journey.ask({ kind: 'book', body }), { validator: (_body) => journey.assertAwaitingBooking() });
  setHandler(cancelUpdate, (body) => journey.ask({ kind: 'cancel', body }), { validator: (_body) => journey.assertOpen() });
  setHandler(rescheduleUpdate, (body) => journey.ask({ kind: 'reschedule', body }), { validator: (_body) => journey.assertMovable() });
  setHandler(rescheduleSignal, (body) => journey.notice({ kind: 'rescheduleSignal', body }));
  setHandler(checkInUpdate, (body) => journey.ask({ kind: 'checkIn', body }), { validator: (_body) => journey.assertOpen() });
  setHandler(completeUpdate, (body) => journey.ask({ kind: 'complete', body }), { validator: (_body) => journey.assertOpen() });
  setHandler(noShowUpdate, (body) => journey.ask({ kind: 'noShow', body }), { validator: (_body) => journey.assertOpen() });
  setHandler(practitionerUnavailableSignal, (body) => journey.notice({ kind: 'leave', body }));
  setHandler(paymentSettledSignal, (body) => journey.notice({ kind: 'paymentSettled', body }));

  return journey.run();
}
