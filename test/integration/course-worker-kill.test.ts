import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * A course survives its worker (SPEC §6: durable journeys). The real worker entry point
 * (dist/workers/main.js, built by `npm test`) serves the booking and therapy queues; it is
 * SIGKILLed while the course is booking its 14 sessions, and a new one takes over: every session
 * is booked, and none twice (the activity finds the row its id already wrote).
 */
const ENTRY = path.resolve(__dirname, '../../dist/workers/main.js');

let stack: Stack;
let api: Api;
let c: ClinicFixture;

const startWorker = (): ChildProcess => spawn(process.execPath, [ENTRY], {
  env: { ...process.env, WORKER_TASK_QUEUES: 'booking,therapy', LOG_LEVEL: 'warn', WORKER_SHUTDOWN_GRACE_SECONDS: '1' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const exited = (p: ChildProcess) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())));
function ok(res: Res, status: number, what: string): Res {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

beforeAll(async () => {
  stack = await startStack({ queues: [] }); // no in-process workers: the child processes do the work
  api = client(stack.baseUrl);
  const su = await adminToken(api);
  c = await createClinic(api, su, ['RECEPTIONIST']);
  ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { courseDayMinutes: 60 } }, su, c.h), 200, 'settings');
  for (const code of ['PK-SNEHANA-SWEDANA', 'PK-VIRECHANA', 'PK-REVIEW']) {
    ok(await api.post('/api/v1/services', { code, name: code, kind: 'PANCHAKARMA_SESSION', durationMinutes: 60 }, su, c.h), 201, code);
  }
  for (let i = 0; i < 2; i++) {
    const user = ok(await api.post('/api/v1/users', { email: `t${i}-${randomUUID().slice(0, 8)}@test.local`, name: 'Therapist', role: 'NURSE', password: `pw-${randomUUID()}` }, su, c.h), 201, 'user');
    const p = ok(await api.post('/api/v1/practitioners', { userId: user.body.id, locationIds: [c.locationId], therapist: true }, su, c.h), 201, 'therapist');
    const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: c.locationId }));
    ok(await api.put(`/api/v1/practitioners/${p.body.id}/schedule`, { rules, exceptions: [] }, su, c.h), 200, 'schedule');
  }
}, 120_000);
afterAll(() => stack?.stop());

it('a worker killed mid-course loses no session and books none twice', async () => {
  const first = startWorker();
  const seriesSessions = async () => (await stack.deps.dataSource.query(
    `SELECT count(*)::int AS n FROM appointments WHERE clinic_id = $1 AND series_id IS NOT NULL`, [c.clinicId]))[0].n as number;
  const startDate = DateTime.now().setZone('Asia/Kolkata').plus({ days: 2 }).toISODate();
  const request = api.post('/api/v1/therapy-series', { patientId: c.patientId, templateCode: 'virechana-14', locationId: c.locationId, practitionerId: c.practitionerId, startDate, time: '09:00' }, c.tokens.RECEPTIONIST, c.h);
  // Kill as soon as the first sessions land, so the rest are still to book.
  for (const deadline = Date.now() + 60_000; (await seriesSessions()) < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
  first.kill('SIGKILL');
  await exited(first);
  const atKill = await seriesSessions();
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(14);
  const second = startWorker();
  try {
    const res = ok(await request, 201, 'course');
    expect(res.body.sessions.map((s: any) => s.status)).toEqual(Array(14).fill('BOOKED'));
    const rows: { id: string; starts_at: Date }[] = await stack.deps.dataSource.query(
      `SELECT id, starts_at FROM appointments WHERE clinic_id = $1 AND series_id = $2 ORDER BY starts_at`, [c.clinicId, res.body.id]);
    expect(rows.map((r) => r.id)).toEqual(res.body.sessions.map((s: any) => s.appointmentId));
    expect(await seriesSessions()).toBe(14);
    // Each session's journey exists once, as a child of the course.
    for (const s of [res.body.sessions[0], res.body.sessions[13]]) {
      const child = await stack.deps.temporal.workflow.getHandle(`appointment-${s.appointmentId}`).describe();
      expect(child.parentExecution?.workflowId).toBe(res.body.workflowId);
    }
  } finally {
    second.kill('SIGTERM');
    await exited(second);
  }
}, 240_000);
