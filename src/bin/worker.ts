import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { startWorker } from '../worker/start';
import { onShutdownSignal } from './shutdown';

// Production entry point: a worker alone. Needs TEMPORAL_ADDRESS, DATABASE_URL and SMTP_URL (or
// SMTP_GATEWAYS / SMTP_GATEWAYS_FILE).
async function main() {
  const config = parseConfig();
  const logger = createLogger(config.logLevel, 'herald-worker');
  if (!config.smtp.gateways) throw new Error('SMTP_URL or SMTP_GATEWAYS (or SMTP_GATEWAYS_FILE) is required for the worker');
  const worker = await startWorker(config, config.temporal.address ?? '127.0.0.1:7233', config.smtp.gateways, logger);
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  onShutdownSignal(() => worker.stop());
  await worker.done;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
