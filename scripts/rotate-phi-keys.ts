import { parseArgs } from 'node:util';
import { z } from 'zod';
import { progressReporter } from '../shared/cli/progress';
import { loadConfigOrExit } from '../shared/config';
import { parseKeyring } from '../shared/crypto/keyring';
import { rotatePatientKeys } from '../shared/crypto/rotate-patient-keys';
import { rotateUserKeys } from '../shared/crypto/user-pii';
import { createAppDataSource } from '../shared/db/data-source';

const USAGE = `Re-encrypts patient PHI and accounts' names, emails and phones still under an older key with the
current (last) key of PHI_ENCRYPTION_KEYS (accounts only in a run without --clinic).

  node dist/scripts/rotate-phi-keys.js [--batch-size 500] [--clinic <clinic id>]
  npm run rotate-keys -- [options]

Safe to interrupt (Ctrl-C finishes the batch in flight) and to run again: it continues with the rows
still under old keys. Keep the old keys listed until it reports nothing left. BLIND_INDEX_KEY is not
rotated by this command.
`;

const EXIT = { done: 0, failed: 1, rowsLeft: 3, interrupted: 130 } as const;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'batch-size': { type: 'string' }, clinic: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.done;
  }
  const batchSize = z.coerce.number().int().min(1).max(10_000).safeParse(values['batch-size'] ?? 500);
  const clinicId = z.uuid().optional().safeParse(values.clinic);
  if (!batchSize.success || !clinicId.success) {
    process.stderr.write(`${!batchSize.success ? '--batch-size must be an integer from 1 to 10000' : '--clinic must be a clinic id (uuid)'}\n\n${USAGE}`);
    return EXIT.failed;
  }

  const config = loadConfigOrExit();
  const ring = parseKeyring(config.PHI_ENCRYPTION_KEYS);
  // The application's restricted role is enough (SELECT and UPDATE on patients, clinic by clinic under row-level security).
  const ds = await createAppDataSource({ url: config.DATABASE_URL, poolSize: 2, applicationName: 'clinic-rotate-phi-keys', appRole: config.DATABASE_APP_ROLE }).initialize();
  const stop = new AbortController();
  const onSignal = () => {
    // A second Ctrl-C does not wait for the batch; nothing is lost either way (it rolls back).
    if (stop.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('\nstopping after the current batch (Ctrl-C again to quit now)\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    process.stderr.write(`re-encrypting patient PHI under key ${ring.currentId}${clinicId.data ? ` (clinic ${clinicId.data})` : ''}\n`);
    const progress = progressReporter(process.stderr, 'patients ');
    let last = { processed: 0, total: 0 };
    const result = await rotatePatientKeys(ds, ring, {
      batchSize: batchSize.data,
      clinicId: clinicId.data,
      signal: stop.signal,
      onProgress: (processed, total) => {
        last = { processed, total };
        progress.update(processed, total);
      },
    });
    progress.finish(last.processed, last.total);
    if (result.interrupted) {
      process.stderr.write(`interrupted: ${result.processed} re-encrypted, ${result.remaining} still under old keys; run again to continue\n`);
      return EXIT.interrupted;
    }
    if (result.remaining > 0) {
      process.stderr.write(`${result.processed} re-encrypted; ${result.remaining} were written under an old key meanwhile (a process without the new key?): run again\n`);
      return EXIT.rowsLeft;
    }
    process.stderr.write(`done: ${result.processed} re-encrypted; every patient is under key ${ring.currentId}\n`);
    if (clinicId.data) return EXIT.done;
    // Accounts (names, emails, phones) are not clinic data: only a whole run re-seals them.
    const users = await rotateUserKeys(ds, ring, { batchSize: batchSize.data, signal: stop.signal });
    if (stop.signal.aborted) return EXIT.interrupted;
    process.stderr.write(`done: ${users} accounts re-encrypted; every account is under key ${ring.currentId}\n`);
    return EXIT.done;
  } finally {
    await ds.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`key rotation failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT.failed);
  },
);
