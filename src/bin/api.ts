import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { startApiServer } from '../api/server';
import { onShutdownSignal } from './shutdown';

// Production entry point: the API (and SMTP submission when SMTP_SUBMISSION_PORT is set). Needs
// TEMPORAL_ADDRESS and a migrated DATABASE_URL.
async function main() {
  const config = parseConfig();
  const logger = createLogger(config.logLevel, 'herald-api');
  const api = await startApiServer(config, config.temporal.address ?? '127.0.0.1:7233', logger);
  logger.info({ url: api.url }, 'API listening');
  if (api.submission) logger.info(api.submission, 'SMTP submission listening');
  onShutdownSignal(() => api.stop());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
