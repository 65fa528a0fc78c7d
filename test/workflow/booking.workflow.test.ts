import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Duration } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../shared/temporal/data-converter';
import {
  BOOKING_TASK_QUEUE, BookingStatus, bookUpdate, cancelUpdate, checkInUpdate, completeUpdate, practitionerUnavailableSignal, rescheduleSignal,
  rescheduleUpdate, statusQuery,
} from '../../workflows/booking-api';
import { followUpWorkflowId } from '../../workflows/follow-up-api';
import { NOTIFICATIONS_TASK_QUEUE } from '../../workflows/notification-api';
import { installQuietRuntime, takeNondeterminismErrors } from '../support/runtime';
import { STUB_NAMESPACE } from '../support/temporal-server';
import { stubActivities } from './stub-activities';

/**
 * The booking workflow's logic on the real dev server with stubbed activities (no database, no
 * providers): its own namespace, so these workers never take the integration tests' tasks.
 */
jest.setTimeout(120_000);
const dataConverter = () => createDataConverter(process.env.PHI_ENCRYPTION_KEYS!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  installQuietRuntime();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: process.env.TEMPORAL_ADDRESS!, namespace: STUB_NAMESPACE, client: { dataConverter: dataConverter() } });
});
afterAll(async () => {
  await env?.teardown();
  expect(takeNondeterminismErrors()).toEqual([]);
});

/** Runs `body` with booking and notifications workers serving `activities`. */
async function withWorkers<T>(activities: object, body: () => Promise<T>, maxCachedWorkflows = 50): Promise<T> {
  const workers = await Promise.all([BOOKING_TASK_QUEUE, NOTIFICATIONS_TASK_QUEUE].map((taskQueue) => Worker.create({
    connection: env.nativeConnection, namespace: STUB_NAMESPACE, taskQueue, activities, dataConverter: dataConverter(),
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, maxCachedWorkflows,
    workflowFailureErrorTypes: { '*': ['NondeterminismError'] },
  })));
  let result: T | undefined;
  let failure: unknown;
  const running = workers.map((w) => w.run());
  try {
    result = await body();
  } catch (err) {
    failure = err;
  } finally {
    workers.forEach((w) => w.shutdown());
    await Promise.all(running);
  }
  if (failure) throw failure;
  return result!;
}

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

async function book(opts: { startsAt?: string; workflowTaskTimeout?: Duration } = {}): Promise<WorkflowHandle> {
  const appointmentId = randomUUID();
  const workflowId = `appointment-${appointmentId}`;
  const startsAt = opts.startsAt ?? inMinutes(60);
  await env.client.workflow.executeUpdateWithStart(bookUpdate, {
    args: [{
      actorUserId: randomUUID(), patientId: randomUUID(), practitionerId: randomUUID(), serviceId: randomUUID(), locationId: randomUUID(),
      roomId: null, startsAt, endsAt: new Date(Date.parse(startsAt) + 30 * 60_000).toISOString(), mode: 'IN_PERSON', requiresPayment: false,
    }],
    startWorkflowOperation: new WithStartWorkflowOperation('booking', {
      workflowId, taskQueue: BOOKING_TASK_QUEUE, args: [{ appointmentId, clinicId: randomUUID() }], workflowIdConflictPolicy: 'FAIL',
      ...(opts.workflowTaskTimeout ? { workflowTaskTimeout: opts.workflowTaskTimeout } : {}),
    }),
  });
  return env.client.workflow.getHandle(workflowId);
}

async function replays(handle: WorkflowHandle): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, dataConverter: dataConverter() }, history, handle.workflowId);
}

const eventNames = async (handle: WorkflowHandle) => ((await handle.fetchHistory()).events ?? [])
  .map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k])!.replace(/EventAttributes$/, ''));

describe('booking workflow with stubbed activities', () => {
  it("holds only the INSERT in the book update's workflow task: planning comes after the reply", async () => {
    const stubs = stubActivities();
    await withWorkers(stubs.activities, async () => {
      const handle = await book();
      await handle.executeUpdate(cancelUpdate, { args: [{ actorUserId: randomUUID(), reason: 'test' }] });
      await handle.result();
      const events = await eventNames(handle);
      // The first task's commands run up to the next task: one local activity (the INSERT), the
      // confirmation scheduled on the notifications queue, and a 1 ms timer that yields the task.
      const first = events.slice(events.indexOf('workflowTaskCompleted') + 1, events.indexOf('workflowTaskScheduled', 3));
      expect(first.filter((e) => e === 'markerRecorded')).toHaveLength(2); // the patch marker and the INSERT
      expect(first).toEqual(expect.arrayContaining(['activityTaskScheduled', 'timerStarted', 'workflowExecutionUpdateCompleted']));
      expect(first).not.toContain('startChildWorkflowExecutionInitiated');
      expect(stubs.calls.map((c) => c.name).slice(0, 2)).toEqual(['bookAppointment', expect.stringMatching(/planJourney|sendAppointmentMessage/)]);
      expect(stubs.calls.filter((c) => c.name === 'sendAppointmentMessage').map((c) => (c.input as { template: string }).template))
        .toEqual(['appointment-confirmed', 'appointment-cancelled']);
      await replays(handle);
    });
  });

  it('replays journeys whose local activities outlive a workflow task while updates and signals arrive', async () => {
    // Under load a local activity can take longer than the workflow task: core then completes the task
    // (a heartbeat) and new updates arrive while it runs. The journey before SERIAL_JOURNEY_PATCH met
    // TMPRL1100 on replay of exactly this ("Child workflow machine does not handle this event:
    // WorkflowExecutionUpdateCompleted").
    const stubs = stubActivities({ delays: { planJourney: 2500, findSlotNearAppointment: 2500 } });
    await withWorkers(stubs.activities, async () => {
      const journeys = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
        const handle = await book({ workflowTaskTimeout: '2s' });
        await sleep(200 * i);
        if (i % 3 === 0) await handle.signal(practitionerUnavailableSignal, { from: new Date().toISOString(), to: inMinutes(120) });
        if (i % 2 === 0) await handle.executeUpdate(rescheduleUpdate, { args: [{ actorUserId: randomUUID(), startsAt: inMinutes(90) }] });
        await handle.executeUpdate(cancelUpdate, { args: [{ actorUserId: randomUUID(), reason: 'test' }] });
        expect(await handle.result()).toMatchObject({ phase: 'ENDED', appointmentStatus: 'CANCELLED' });
        return handle;
      }));
      for (const handle of journeys) await replays(handle);
    });
  });

  it('serves queued requests in order, each answered; a bad staff signal is recorded, not thrown', async () => {
    const stubs = stubActivities({ delays: { rescheduleAppointment: 300 } });
    await withWorkers(stubs.activities, async () => {
      const handle = await book();
      const actorUserId = randomUUID();
      await handle.signal(rescheduleSignal, { startsAt: 'soon' } as never);
      const [moved, checkedIn] = await Promise.all([
        handle.executeUpdate(rescheduleUpdate, { args: [{ actorUserId, startsAt: inMinutes(120) }] }),
        sleep(50).then(() => handle.executeUpdate(checkInUpdate, { args: [{ actorUserId }] })),
      ]);
      expect(moved.startsAt).toBe(checkedIn.startsAt);
      expect(checkedIn.status).toBe('CHECKED_IN');
      const status = await handle.query<BookingStatus>(statusQuery);
      expect(status).toMatchObject({ reschedules: 1, lastRescheduleError: null, appointmentStatus: 'CHECKED_IN' });
      const refused = await handle.executeUpdate(rescheduleUpdate, { args: [{ actorUserId, startsAt: inMinutes(180) }] }).catch((err: Error) => err);
      expect((refused as Error & { cause?: Error }).cause?.message).toMatch(/CHECKED_IN/);
      await handle.executeUpdate(completeUpdate, { args: [{ actorUserId }] });
      await handle.result();
      await replays(handle);
    });
  });

  it("sends the kind's after-care after a completion, then starts the kind's default follow-up", async () => {
    const stubs = stubActivities({
      plan: (req) => ({
        clinicName: 'Stub Clinic', timezone: 'Asia/Kolkata', reminders: [], noShowAt: new Date(Date.parse(req.startsAt) + 60_000).toISOString(),
        kind: 'PANCHAKARMA_SESSION', preparation: [], defaultFollowUpInDays: 7,
        afterCare: [{ key: 'after-rest-and-warm-food', instruction: 'rest-and-warm-food', at: new Date(Date.now() + 1500).toISOString() }],
      }),
    });
    await withWorkers(stubs.activities, async () => {
      const handle = await book();
      const actorUserId = randomUUID();
      await handle.executeUpdate(checkInUpdate, { args: [{ actorUserId }] });
      const completedAt = Date.now();
      await handle.executeUpdate(completeUpdate, { args: [{ actorUserId }] });
      const result = await handle.result();
      expect(Date.now() - completedAt).toBeGreaterThanOrEqual(1000);
      expect(result).toMatchObject({ appointmentStatus: 'COMPLETED', afterCare: [{ key: 'after-rest-and-warm-food', sent: true }], followUpWorkflowId: followUpWorkflowId(handle.workflowId.slice('appointment-'.length)) });
      const instruction = stubs.calls.find((c) => c.name === 'sendAppointmentMessage' && (c.input as { template: string }).template === 'service-instruction');
      expect(instruction?.input).toMatchObject({ params: { kind: 'PANCHAKARMA_SESSION', key: 'rest-and-warm-food' } });
      const followUp = await env.client.workflow.getHandle(result.followUpWorkflowId!).describe();
      expect(followUp.status.name).toBe('RUNNING');
      await env.client.workflow.getHandle(result.followUpWorkflowId!).terminate('test over');
      await replays(handle);
    });
  });
});
