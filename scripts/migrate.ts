import { loadConfigOrExit } from '../shared/config';
import { createDataSource } from '../shared/db/data-source';
import { ensureDatabase } from '../shared/db/ensure-database';

/** Creates the database if missing and applies pending migrations (never `synchronize`). */
async function main() {
  const config = loadConfigOrExit();
  if (await ensureDatabase(config.DATABASE_URL)) process.stdout.write('database created\n');
  const ds = await createDataSource({ url: config.DATABASE_URL, poolSize: 2 }).initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    process.stdout.write(applied.length ? applied.map((m) => `applied ${m.name}\n`).join('') : 'schema up to date\n');
  } finally {
    await ds.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
