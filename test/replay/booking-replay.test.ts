import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { idFromKey } from '../../api/commands/idempotency';
import { createDataConverter } from '../../shared/temporal/data-converter';
import { bookingWorkflowId } from '../../workflows/booking-api';
import { adminToken, createClinic, nextSlot } from '../support/fixtures';
import { client } from '../support/http';
import { readableHistory } from '../support/history-scan';
import { installQuietRuntime } from '../support/runtime';
import { startStack } from '../support/stack';
import { DURABLE_JOURNEY_PATCH } from '../../workflows/booking';
import { runJourneysToRecord } from './record-journeys';
import { runPaymentsToRecord } from './record-payments';

/**
 * Workflow code must replay every history it ever produced (running journeys last weeks).
 * Checked-in histories were recorded from real runs: `RECORD_HISTORIES=1 npm test -- test/replay`
 * records new ones; keep the old files so a change that breaks them fails here.
 *
 * `booking-encrypted-*` were recorded through the payload codec under the fixed test keys of
 * global-setup; the others predate the codec (plain json payloads, which the codec passes through).
 * `booking-serial-*` and `followup-encrypted-serial-*` come from the serial journey (SERIAL_JOURNEY_PATCH: messages as
 * activities, kind instructions), recorded with maxCachedWorkflows 0.
 * `booking-journey-*` and `followup-*` are journeys since durable reminders (DURABLE_JOURNEY_PATCH):
 * reminders, reschedules by update and signal, leave, no-show, completion and follow-ups.
 * Recording never overwrites a file: a history is the record of the code that produced it.
 */
const DIR = path.join(__dirname, 'histories');
const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} } as never;
const dataConverter = () => createDataConverter(process.env.PHI_ENCRYPTION_KEYS!);
const replayOptions = () => ({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, dataConverter: dataConverter() });

/** Exported the way staff would (Web UI / CLI "download history"), in proto3 JSON; an existing file is kept. */
function exportHistory(name: string, workflowId: string): void {
  const file = path.join(DIR, `${name}.json`);
  if (fs.existsSync(file)) return;
  const json = execFileSync(process.env.TEMPORAL_CLI_PATH!, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', process.env.TEMPORAL_ADDRESS!]);
  fs.writeFileSync(file, json);
}

async function recordJourneyHistories(run: typeof runJourneysToRecord = runJourneysToRecord): Promise<void> {
  const { ids, stop } = await run();
  try {
    for (const [name, workflowId] of Object.entries(ids)) exportHistory(name, workflowId);
  } finally {
    await stop();
  }
}

async function recordBookingHistories(): Promise<void> {
  const stack = await startStack();
  try {
    const api = client(stack.baseUrl);
    const c = await createClinic(api, await adminToken(api));
    const book = (startsAt: string, headers: Record<string, string> = {}) => api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt }, c.tokens.RECEPTIONIST, { ...c.h, ...headers });
    const booked = await book(nextSlot());
    await api.post(`/api/v1/appointments/${booked.body.id}/cancel`, { reason: 'test' }, c.tokens.RECEPTIONIST, c.h);
    expect((await book(booked.body.startsAt)).status).toBe(201); // the slot is free again
    const refused = await book(booked.body.startsAt, { 'idempotency-key': 'replay-refused' });
    expect(refused.status).toBe(409);
    const journeys = {
      'booking-encrypted-booked-then-cancelled': booked.body.workflowId,
      'booking-encrypted-slot-taken': bookingWorkflowId(idFromKey(c.userIds.RECEPTIONIST, 'replay-refused')),
    };
    for (const [name, workflowId] of Object.entries(journeys)) {
      await stack.deps.temporal.workflow.getHandle(workflowId).result();
      exportHistory(name, workflowId);
    }
  } finally {
    await stack.stop();
  }
}

/** Patch ids the workflow recorded (core's "core_patch" markers keep their data in clear: it is bookkeeping). */
function patchIds(file: string): string[] {
  const { events } = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as { events: { eventType: string; markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[] };
  return events
    .filter((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED' && e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details['patch-data'].payloads[0].data, 'base64').toString('utf8')).id);
}

describe('booking workflow replay', () => {
  beforeAll(async () => {
    installQuietRuntime();
    if (process.env.RECORD_HISTORIES) {
      await recordBookingHistories();
      await recordJourneyHistories();
    }
    // Payment journeys alone (RECORD_PAYMENT_HISTORIES=1), or with the rest.
    if (process.env.RECORD_HISTORIES || process.env.RECORD_PAYMENT_HISTORIES) await recordJourneyHistories(runPaymentsToRecord);
  }, 180_000);

  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('has codec-encrypted histories, whose payloads hold nothing in clear', () => {
    const encrypted = files.filter((f) => f.includes('encrypted'));
    expect(encrypted.length).toBeGreaterThan(0);
    for (const file of encrypted) {
      const raw = fs.readFileSync(path.join(DIR, file), 'utf8');
      expect(raw).toContain(Buffer.from('binary/encrypted').toString('base64'));
      // The start input (appointment and clinic ids) is sealed; only search attributes and core's marker bookkeeping stay plain.
      const start = JSON.parse(raw).events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
      expect(Buffer.from(start.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
      expect(Buffer.from(start.data, 'base64').toString('latin1')).not.toContain('clinicId');
    }
  });

  it('holds no secret in any recorded history, read through the codec (issue 8 item 6)', async () => {
    // Field names that carry credentials or one-time secrets; a template's `code` param is the OTP.
    const secretField = /"(code|password|passwordHash|refreshToken|accessToken|mfaToken|totpSecret|secret|token)"\s*:/i;
    const found: string[] = [];
    for (const file of files) {
      const readable = await readableHistory(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
      expect(readable).toMatch(/"clinicId":"[0-9a-f-]{36}"/); // decoded payloads, not ciphertext
      const hit = secretField.exec(readable);
      if (hit) found.push(`${file}: ${hit[0]}`);
    }
    expect(found).toEqual([]);
  });

  it('has booking histories from both sides of the durable-journey patch, and follow-up histories', () => {
    const booking = files.filter((f) => f.startsWith('booking-'));
    const durable = booking.filter((f) => patchIds(f).includes(DURABLE_JOURNEY_PATCH));
    expect(durable.sort()).toEqual(booking.filter((f) => f.startsWith('booking-journey-')).sort());
    expect(durable.length).toBeGreaterThanOrEqual(4);
    expect(booking.length - durable.length).toBeGreaterThanOrEqual(2);
    expect(files.filter((f) => f.startsWith('followup-')).length).toBeGreaterThanOrEqual(2);
  });

  it('has payment histories', () => {
    expect(files.filter((f) => f.startsWith('payment-')).length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('replays %s without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    await expect(Worker.runReplayHistory(replayOptions(), history, file)).resolves.toBeUndefined();
  });

  it('needs the codec to replay an encrypted history (the payloads really are sealed)', async () => {
    const file = files.find((f) => f.includes('encrypted') && f.includes('cancelled'))!;
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    // The workflow cannot read its sealed input; its own failure message is encoded too ("Encoded failure").
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } }, history, file)).rejects.toThrow(/workflow task failure.*Encoded failure/s);
  });

  it('detects non-determinism (the replayer can fail)', async () => {
    // The same history against a workflow that schedules a timer instead of a local activity.
    const file = files.find((f) => f.includes('encrypted') && f.includes('cancelled')) ?? files.find((f) => f.includes('cancelled'))!;
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/divergent-booking'), logger: quiet });
    await expect(Worker.runReplayHistory({ workflowBundle: { code }, dataConverter: dataConverter() }, history, file)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
