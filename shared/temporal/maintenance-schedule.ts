import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from '../logger';
import { MAINTENANCE_TASK_QUEUE, PURGE_SCHEDULE_ID, PurgeInput } from '../../workflows/maintenance-api';

export interface PurgeScheduleSettings {
  everyMinutes: number;
  graceHours: number;
}

/**
 * Creates the purge schedule, or brings an existing one to these settings: safe to call from every
 * worker that serves the `maintenance` queue, at every start, concurrently. One run at a time
 * (SKIP), and a missed run is not made up beyond one interval: the next run purges the same rows.
 */
export async function ensurePurgeSchedule(client: Client, settings: PurgeScheduleSettings, log?: Logger): Promise<void> {
  const every = settings.everyMinutes * 60_000;
  const args: [PurgeInput] = [{ graceHours: settings.graceHours }];
  const action = { type: 'startWorkflow' as const, workflowType: 'purgeExpired', taskQueue: MAINTENANCE_TASK_QUEUE, args };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: every };
  try {
    await client.schedule.create({ scheduleId: PURGE_SCHEDULE_ID, spec: { intervals: [{ every }] }, action, policies });
    log?.info({ scheduleId: PURGE_SCHEDULE_ID, everyMinutes: settings.everyMinutes }, 'maintenance schedule created');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(PURGE_SCHEDULE_ID).update((previous) => ({
      ...previous, spec: { intervals: [{ every }] }, action: { ...previous.action, ...action }, policies: { ...previous.policies, ...policies },
    }));
  }
}
