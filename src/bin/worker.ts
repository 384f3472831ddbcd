import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { startWorker } from '../worker/start';
import { onShutdownSignal } from './shutdown';

// Production entry point: a worker alone. Needs TEMPORAL_ADDRESS, DATABASE_URL and SMTP_URL.
async function main() {
  const config = parseConfig();
  const logger = createLogger(config.logLevel, 'herald-worker');
  if (!config.smtp.url) throw new Error('SMTP_URL is required for the worker');
  const worker = await startWorker(config, config.temporal.address ?? '127.0.0.1:7233', config.smtp.url, logger);
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  onShutdownSignal(() => worker.stop());
  await worker.done;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
