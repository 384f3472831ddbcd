import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { startProcessTelemetry } from '../telemetry/process';
import { startWorker } from '../worker/start';
import { onShutdownSignal } from './shutdown';

// Production entry point: a worker alone. Needs TEMPORAL_ADDRESS, DATABASE_URL and SMTP_URL (or
// SMTP_GATEWAYS / SMTP_GATEWAYS_FILE).
const config = parseConfig();
const logger = createLogger(config.logLevel, 'herald-worker', { format: config.logFormat });

async function main() {
  if (!config.smtp.gateways) throw new Error('SMTP_URL or SMTP_GATEWAYS (or SMTP_GATEWAYS_FILE) is required for the worker');
  const { metrics, server } = await startProcessTelemetry(config, logger, { port: config.metrics.workerPort, worker: true });
  const worker = await startWorker(config, config.temporal.address ?? '127.0.0.1:7233', config.smtp.gateways, logger, metrics);
  logger.info({ taskQueue: config.temporal.taskQueue, metrics: server.url }, 'worker running');
  onShutdownSignal(() => worker.stop(), logger);
  await worker.done;
  await server.stop();
}

main().catch((err) => {
  logger.fatal({ err }, 'the worker stopped');
  process.exit(1);
});
