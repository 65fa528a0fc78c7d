import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { startSmtpServer, SmtpStandIn } from '../support/smtp-server';
import { Stack, startStack } from '../support/stack';

/**
 * The real worker entry point (dist/workers/main.js, built by `npm test`) as a separate process:
 * WORKER_TASK_QUEUES, graceful SIGTERM, and SIGKILL in the middle of bookings.
 */
const ENTRY = path.resolve(__dirname, '../../dist/workers/main.js');

let stack: Stack;
let api: Api;
let c: ClinicFixture;
let smtp: SmtpStandIn | undefined;

function startWorker(queues = 'booking', env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [ENTRY], {
    env: { ...process.env, WORKER_TASK_QUEUES: queues, LOG_LEVEL: 'warn', WORKER_SHUTDOWN_GRACE_SECONDS: '5', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

async function pollers(queue: string): Promise<number> {
  const res = await stack.deps.temporal.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: 1 });
  return res.pollers?.length ?? 0;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exited = (p: ChildProcess) => new Promise<number | null>((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', (code) => resolve(code))));

beforeAll(async () => {
  stack = await startStack({ queues: [] }); // no in-process workers: the child processes do the work
  api = client(stack.baseUrl);
  c = await createClinic(api, await adminToken(api));
});
// Stopping replays every workflow started meanwhile (hundreds here): more than the default hook time on a loaded machine.
afterAll(async () => {
  await stack?.stop();
  await smtp?.stop();
}, 180_000);

const book = (startsAt: string) => api.post('/api/v1/appointments', {
  patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt,
}, c.tokens.RECEPTIONIST, c.h);

describe('worker processes', () => {
  it('serves the queues named in WORKER_TASK_QUEUES and drains on SIGTERM', async () => {
    const worker = startWorker('booking');
    try {
      await waitFor(async () => (await pollers('booking')) > 0, 30_000, 'booking pollers');
      expect((await book(nextSlot())).status).toBe(201);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toBe(0);
  });

  it('loses and duplicates no booking when a worker is SIGKILLed mid-load', async () => {
    const first = startWorker('booking');
    await waitFor(async () => (await pollers('booking')) > 0, 30_000, 'booking pollers');
    const slots = Array.from({ length: 120 }, () => nextSlot());
    const booked = async () => (await stack.deps.dataSource.query(
      `SELECT count(*)::int AS n FROM appointments WHERE clinic_id = $1 AND starts_at = ANY ($2::timestamptz[])`, [c.clinicId, slots]))[0].n as number;
    const requests = slots.map((s) => book(s));
    // Kill as soon as the first booking lands, so the rest are mid-flight.
    await waitFor(async () => (await booked()) > 0, 30_000, 'first booking', 5);
    first.kill('SIGKILL');
    await exited(first);
    const atKill = await booked();
    expect(atKill).toBeLessThan(slots.length);
    const second = startWorker('booking');
    try {
      const results = await Promise.all(requests);
      expect(results.map((r) => r.status)).toEqual(slots.map(() => 201));
      expect(await booked()).toBe(slots.length);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
  }, 120_000);

  it('drains on SIGTERM mid-load: every activity in flight finishes once, none is lost or run again', async () => {
    smtp = await startSmtpServer();
    smtp.slowDown(300);
    const api2 = api;
    const su = await adminToken(api2);
    const d = await createClinic(api2, su, ['RECEPTIONIST', 'DOCTOR']);
    const patient = await api2.post('/api/v1/patients', { firstName: 'Mira', lastName: 'Das', dateOfBirth: '1990-02-03', sex: 'female', email: `mira-${d.slug}@test.local` }, su, d.h);
    expect(patient.status).toBe(201);
    const env = { SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>' };
    const first = startWorker('booking,notifications', env);
    let second: ChildProcess | undefined;
    try {
      await waitFor(async () => (await pollers('booking')) > 0 && (await pollers('notifications')) > 0, 30_000, 'pollers');
      const slots = Array.from({ length: 30 }, () => nextSlot());
      // Each booking's journey sends one confirmation: a deliverMessage activity on the notifications queue.
      const requests = slots.map((startsAt) => api2.post('/api/v1/appointments', {
        patientId: patient.body.id, practitionerId: d.practitionerId, serviceId: d.serviceId, locationId: d.locationId, startsAt,
      }, d.tokens.RECEPTIONIST, d.h));
      // A delivery is in flight in this worker (the server holds it 300 ms): stop the worker now.
      await waitFor(async () => smtp!.transactions > 0, 60_000, 'a delivery in flight', 5);
      first.kill('SIGTERM');
      second = startWorker('booking,notifications', env);
      expect(await exited(first)).toBe(0);

      const results = await Promise.all(requests);
      expect(results.map((r) => r.status)).toEqual(slots.map(() => 201));
      const ids = results.map((r) => r.body.id as string);
      const confirmations = async () => (await stack.deps.dataSource.query(
        `SELECT status, attempts FROM notifications WHERE clinic_id = $1 AND template = 'appointment-confirmed' AND idempotency_key = ANY ($2::text[])`,
        [d.clinicId, ids.map((id) => `appointment-${id}-m1-appointment-confirmed`)])) as { status: string; attempts: number }[];
      await waitFor(async () => (await confirmations()).filter((n) => n.status === 'SENT').length === ids.length, 60_000, 'every confirmation sent');
      // Once each: an activity abandoned by the stopping worker would have been tried again (attempts 2) after its timeout.
      expect((await confirmations()).map((n) => n.attempts)).toEqual(ids.map(() => 1));
      const sentHere = new Set(smtp.messages.map((m) => m.messageId));
      expect(sentHere.size).toBe(smtp.messages.length);
      // Each confirmation reached the server once, and no SMTP transaction was a repeat of another (the stand-in
      // keeps one message per Message-ID); the journeys may also send other messages than the confirmation.
      expect(smtp.messages.filter((m) => m.subject.startsWith('Appointment confirmed')).length).toBe(ids.length);
      expect(smtp.transactions).toBe(smtp.messages.length);
      expect((await stack.deps.dataSource.query(`SELECT count(*)::int AS n FROM appointments WHERE clinic_id = $1`, [d.clinicId]))[0].n).toBe(ids.length);
    } finally {
      if (first.exitCode === null) first.kill('SIGKILL');
      second?.kill('SIGTERM');
      if (second) await exited(second);
    }
  }, 180_000);
});
