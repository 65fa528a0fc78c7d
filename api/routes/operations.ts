import type { DataSource } from 'typeorm';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { ALL_TASK_QUEUES } from '../../shared/config';

interface Check { status: 'up' | 'down'; latencyMs: number; error?: string }

async function timed(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), timeoutMs); })]);
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (err as Error).message.slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL, Redis, Temporal, and the pollers on each task queue (a queue nobody polls is a stuck journey). */
export async function detailedHealth(deps: { dataSource: DataSource; redis: Redis; temporal: Client; namespace: string }) {
  const svc = deps.temporal.workflowService;
  const [postgres, redis, temporal, queues] = await Promise.all([
    timed(() => deps.dataSource.query('SELECT 1')),
    timed(() => deps.redis.ping()),
    timed(() => svc.getSystemInfo({})),
    Promise.all(ALL_TASK_QUEUES.map(async (name) => {
      let pollers = { workflow: 0, activity: 0 };
      const check = await timed(async () => {
        const [wf, act] = await Promise.all([1, 2].map((taskQueueType) =>
          svc.describeTaskQueue({ namespace: deps.namespace, taskQueue: { name }, taskQueueType })));
        pollers = { workflow: wf.pollers?.length ?? 0, activity: act.pollers?.length ?? 0 };
      });
      return [name, { ...check, pollers }] as const;
    })),
  ]);
  const taskQueues = Object.fromEntries(queues);
  const up = [postgres, redis, temporal].every((c) => c.status === 'up');
  return { status: up ? 'up' : 'down', checks: { postgres, redis, temporal }, taskQueues };
}
