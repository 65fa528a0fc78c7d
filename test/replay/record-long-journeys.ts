import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { adminToken, createClinic } from '../support/fixtures';
import { client, type Res } from '../support/http';
import { startStack } from '../support/stack';

/**
 * Runs one course and two series on the real stack and returns what to export, by history file
 * name: workflow id, and the run for a run closed by continue-as-new. Each is driven to its end.
 */
export async function runLongJourneysToRecord(): Promise<{ runs: Record<string, { workflowId: string; runId?: string }>; stop: () => Promise<void> }> {
  const stack = await startStack({ queues: ['booking', 'therapy'] });
  const api = client(stack.baseUrl);
  const su = await adminToken(api);
  const ok = (res: Res, status: number) => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
  const post = (path: string, body: unknown) => api.post(path, body, c.tokens.RECEPTIONIST, c.h);
  ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { courseDayMinutes: 120 } }, su, c.h), 200);
  for (const code of ['PK-SNEHANA-SWEDANA', 'PK-VIRECHANA', 'PK-REVIEW']) {
    ok(await api.post('/api/v1/services', { code, name: code, kind: 'PANCHAKARMA_SESSION', durationMinutes: 60 }, su, c.h), 201);
  }
  for (let i = 0; i < 2; i++) {
    const user = ok(await api.post('/api/v1/users', { email: `t${i}-${randomUUID().slice(0, 8)}@test.local`, name: 'Therapist', role: 'NURSE', password: `pw-${randomUUID()}` }, su, c.h), 201);
    const p = ok(await api.post('/api/v1/practitioners', { userId: user.body.id, locationIds: [c.locationId], therapist: true }, su, c.h), 201);
    const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00', locationId: c.locationId }));
    ok(await api.put(`/api/v1/practitioners/${p.body.id}/schedule`, { rules, exceptions: [] }, su, c.h), 200);
  }
  const date = (days: number) => DateTime.now().setZone('Asia/Kolkata').plus({ days }).toISODate()!;
  const runs: Record<string, { workflowId: string; runId?: string }> = {};

  // A virechana-14 course: booked, one session moved and one skipped, paused, resumed, cancelled.
  const course = ok(await post('/api/v1/therapy-series', { patientId: c.patientId, templateCode: 'virechana-14', locationId: c.locationId, practitionerId: c.practitionerId, startDate: date(3), time: '10:00' }), 201).body;
  ok(await post(`/api/v1/therapy-series/${course.id}/sessions/2/reschedule`, { startsAt: new Date(Date.parse(course.sessions[1].startsAt) + 3600_000).toISOString() }), 200);
  ok(await post(`/api/v1/therapy-series/${course.id}/sessions/3/skip`, { reason: 'replay' }), 200);
  ok(await post(`/api/v1/therapy-series/${course.id}/pause`, { reason: 'replay' }), 200);
  ok(await post(`/api/v1/therapy-series/${course.id}/resume`, { date: date(6) }), 200);
  ok(await post(`/api/v1/therapy-series/${course.id}/cancel`, { reason: 'replay' }), 200);
  runs['therapy-encrypted-paused-resumed-cancelled'] = { workflowId: course.workflowId };

  // A daily series: a taken slot skipped, a staff skip, a re-plan, cancelled from a date.
  const first = DateTime.fromISO(`${date(4)}T09:00`, { zone: 'Asia/Kolkata' });
  ok(await post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: first.plus({ days: 1 }).toUTC().toISO() }), 201);
  const series = ok(await post('/api/v1/appointment-series', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: first.toUTC().toISO(), rrule: 'FREQ=DAILY;COUNT=6' }), 201).body;
  ok(await post(`/api/v1/appointment-series/${series.id}/skip`, { startsAt: series.occurrences[2].startsAt }), 200);
  ok(await api.patch(`/api/v1/appointment-series/${series.id}`, { rrule: 'FREQ=DAILY;COUNT=5' }, c.tokens.RECEPTIONIST, c.h), 200);
  ok(await post(`/api/v1/appointment-series/${series.id}/cancel`, { from: series.occurrences[3].startsAt }), 200);
  runs['series-encrypted-skipped-replanned-cancelled'] = { workflowId: series.workflowId };

  // A weekly series booked a year ahead: its first run ends in continue-as-new.
  ok(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { seriesHorizonDays: 800 } }, su, c.h), 200);
  const long = ok(await post('/api/v1/appointment-series', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: first.plus({ hours: 3 }).toUTC().toISO(), rrule: 'FREQ=WEEKLY;COUNT=60' }), 201).body;
  // The first run may have continued as new already: its id is in every run's start event.
  const latest = await stack.deps.temporal.workflow.getHandle(long.workflowId).fetchHistory();
  const firstRunId = latest.events![0].workflowExecutionStartedEventAttributes!.firstExecutionRunId!;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    const d = await stack.deps.temporal.workflow.getHandle(long.workflowId, firstRunId).describe();
    if (d.status.name !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  runs['series-encrypted-continued-as-new'] = { workflowId: long.workflowId, runId: firstRunId };

  for (const { workflowId } of [runs['therapy-encrypted-paused-resumed-cancelled'], runs['series-encrypted-skipped-replanned-cancelled']]) {
    await stack.deps.temporal.workflow.getHandle(workflowId).result();
  }
  return { runs, stop: () => stack.stop() };
}
