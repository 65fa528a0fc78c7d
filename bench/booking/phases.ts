import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { createDataConverter } from '../../shared/temporal/data-converter';
import { NOOP_TASK_QUEUE, noopJourney, noopUpdate } from '../noop-workflow';
import { note, onCleanup } from '../support/harness';
import { closedLoop, cpuSeconds, diff, RunResult } from '../support/measure';
import type { Seed } from './seed';

/** One measured phase: closed-loop results and the CPU seconds each process used meanwhile. */
export interface Phase { label: string; run: RunResult; cpu: Record<string, number> }

export type Op = (i: number) => Promise<string>;

/** Warm-up (not measured), then `count` operations by `clients` callers with CPU read from /proc around them. */
export async function measure(label: string, op: Op, opts: { count: number; clients: number; warmup: number; pids: Record<string, number> }): Promise<Phase> {
  note(`${label}: ${opts.warmup} warm-up, then ${opts.count} measured with ${opts.clients} client(s)`);
  const warm = await closedLoop(opts.warmup, opts.clients, op);
  if (warm.firstError) throw new Error(`${label} warm-up failed: ${String((warm.firstError as Error).message ?? warm.firstError)}`);
  const self = process.cpuUsage();
  const before = cpuSeconds(opts.pids);
  const run = await closedLoop(opts.count, opts.clients, op);
  const cpu = diff(cpuSeconds(opts.pids), before);
  const used = process.cpuUsage(self);
  cpu['bench client'] = (used.user + used.system) / 1e6;
  return { label, run, cpu };
}

/** POST /api/v1/appointments over keep-alive HTTP, as any client would; each booking its own practitioner and half-hour. */
/** Slots handed out so far, across phases: every booking of the run gets a (practitioner, half-hour) of its own. */
let seq = 0;

export function bookingOp(baseUrl: string, seed: Seed, clients: number): Op {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  onCleanup('http agent', () => agent.destroy());
  const day0 = (() => { const d = new Date(); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 2); })();
  const headers = { authorization: `Bearer ${seed.token}`, 'x-clinic-id': seed.clinicId, 'content-type': 'application/json' };
  return (i) => {
    const s = seq++;
    const body = JSON.stringify({
      patientId: seed.patientIds[i % seed.patientIds.length], practitionerId: seed.practitionerIds[s % seed.practitionerIds.length],
      serviceId: seed.serviceId, locationId: seed.locationId,
      startsAt: new Date(day0 + Math.floor(s / seed.practitionerIds.length) * 30 * 60_000).toISOString(),
    });
    return new Promise<string>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: '/api/v1/appointments', method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
      req.on('error', reject);
      req.end(body);
    });
  };
}

/** The baseline: update-with-start of a workflow whose update returns at once, from this process to the no-op worker process. */
export async function noopOp(temporalAddress: string, phiKeys: string): Promise<Op> {
  const connection = await Connection.connect({ address: temporalAddress });
  onCleanup('close the no-op client connection', () => connection.close());
  const temporal = new Client({ connection, dataConverter: createDataConverter(phiKeys) });
  return async () => {
    const start = new WithStartWorkflowOperation(noopJourney, { workflowId: `noop-${randomUUID()}`, taskQueue: NOOP_TASK_QUEUE, args: [], workflowIdConflictPolicy: 'FAIL' });
    const echo = await temporal.workflow.executeUpdateWithStart(noopUpdate, { args: ['ok'], startWorkflowOperation: start });
    return echo === 'ok' ? 'ok' : `unexpected ${echo}`;
  };
}
