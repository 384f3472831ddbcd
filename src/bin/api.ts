import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { startApiServer } from '../api/server';
import { startProcessTelemetry } from '../telemetry/process';
import { onShutdownSignal } from './shutdown';

// Production entry point: the API (and SMTP submission when SMTP_SUBMISSION_PORT is set). Needs
// TEMPORAL_ADDRESS and a migrated DATABASE_URL.
const config = parseConfig();
const logger = createLogger(config.logLevel, 'herald-api', { format: config.logFormat });

async function main() {
  const { metrics, server } = await startProcessTelemetry(config, logger, { port: config.metrics.apiPort, worker: false });
  const api = await startApiServer(config, config.temporal.address ?? '127.0.0.1:7233', logger, metrics);
  logger.info({ url: api.url, metrics: server.url }, 'API listening');
  if (api.submission) logger.info(api.submission, 'SMTP submission listening');
  onShutdownSignal(async () => {
    await api.stop();
    await server.stop();
  }, logger);
}

main().catch((err) => {
  logger.fatal({ err }, 'the API could not start');
  process.exit(1);
});
