import fs from 'node:fs';
import { dropDatabase } from '../../shared/db/ensure-database';

export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env.TEST_TEMPORAL_PID);
  if (pid) {
    try { process.kill(-pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  if (process.env.DATABASE_URL && !process.env.KEEP_TEST_DB) await dropDatabase(process.env.DATABASE_URL);
  if (process.env.TEST_RUN_DIR) fs.rmSync(process.env.TEST_RUN_DIR, { recursive: true, force: true });
}
