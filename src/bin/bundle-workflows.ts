import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createLogger, temporalLogger } from '../logger';
import { DEFAULT_BUNDLE_PATH, WORKFLOW_BUNDLE_OPTIONS } from '../worker/create-worker';

// Run by `npm run build`: the worker then loads this bundle instead of bundling at every start.
// Quiet unless something is wrong: the bundler's warnings and errors only.
async function main() {
  const logger = createLogger('warn', 'herald-build');
  const { code } = await bundleWorkflowCode({ ...WORKFLOW_BUNDLE_OPTIONS, logger: temporalLogger(logger) });
  writeFileSync(DEFAULT_BUNDLE_PATH, code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
