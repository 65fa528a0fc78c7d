import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleConverters } from '../shared/temporal/data-converter';

/** Production workers load this pre-built bundle instead of bundling at start. */
async function main() {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), ...workflowBundleConverters });
  const out = path.resolve(__dirname, '..', 'workflow-bundle.js');
  await fs.writeFile(out, code);
  process.stdout.write(`workflow bundle written to ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
