import { createDataSource } from '../../shared/db/data-source';
import { dropDatabase, ensureDatabase } from '../../shared/db/ensure-database';

/**
 * What every benchmark shares: options from argv/env, output (figures on stdout, progress on stderr),
 * and cleanup that runs on success, error and Ctrl-C so no server or database is left behind.
 */

export function option(name: string, envName: string, fallback: string): string {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}` && argv[i + 1] !== undefined) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return process.env[envName] ?? fallback;
}

export function intOption(name: string, envName: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = Number(option(name, envName, String(fallback)));
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name}/${envName} must be an integer from ${min} to ${max}`);
  return v;
}

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const note = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const cleanups: { what: string; run: () => Promise<unknown> | unknown }[] = [];
let cleaning: Promise<void> | null = null;
let interrupted = false;

export const onCleanup = (what: string, run: () => Promise<unknown> | unknown) => { cleanups.push({ what, run }); };

/** Runs the registered cleanups once, newest first, each bounded to 15 s. */
export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const { what, run } of cleanups.reverse()) {
      try {
        await Promise.race([
          Promise.resolve().then(run),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 15 s')), 15_000).unref()),
        ]);
      } catch (err) {
        note(`cleanup "${what}" failed: ${(err as Error).message}`);
      }
    }
    cleanups.length = 0;
  })();
  return cleaning;
}

/** Set by SIGINT/SIGTERM: load loops stop and no report is printed. */
export const isInterrupted = () => interrupted;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    note(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** A fresh, migrated database for one benchmark run, dropped at cleanup. Returns its URL. */
export async function freshDatabase(base: string, label: string): Promise<string> {
  const dbName = `clinic_bench_${label}_${Date.now()}_${process.pid}`;
  const databaseUrl = `${base}/${dbName}`;
  note(`creating database ${dbName}`);
  await ensureDatabase(databaseUrl);
  onCleanup(`drop database ${dbName}`, () => dropDatabase(databaseUrl));
  const ds = await createDataSource({ url: databaseUrl, poolSize: 2 }).initialize();
  try { await ds.runMigrations({ transaction: 'each' }); } finally { await ds.destroy(); }
  return databaseUrl;
}
