import path from 'node:path';
import { DEV_SMTP_SUBMISSION_PORT, developmentTargets, parseConfig } from '../config';
import { createLogger } from '../logger';
import { ensureDatabase, migrate } from '../db/migrate';
import { provideDatabase } from '../dev/default-database';
import { resolveTemporalCli } from '../dev/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../dev/temporal-dev-server';
import { startMailSink, type MailSink } from '../dev/mail-sink';
import { startApiServer, type RunningApi } from '../api/server';
import { startWorker } from '../worker/start';
import { createSql } from '../db/sql';
import { createTenantStore } from '../db/tenants';
import { createTenantAdmin } from '../tenants/admin';
import { DEFAULT_GATEWAY, DEFAULT_TENANT } from '../shared';
import { startProcessTelemetry } from '../telemetry/process';
import { onShutdownSignal } from './shutdown';
import { UNSUBSCRIBE_PATH } from '../campaigns/unsubscribe';

// `npm start`: the whole stack with embedded defaults, state kept under HERALD_DATA_DIR so a
// second start picks up where the first stopped. One process: one log, one /metrics (API and
// worker metrics together, on METRICS_PORT).
async function main() {
  const bootConfig = parseConfig();
  const logger = createLogger(bootConfig.logLevel, 'herald', { format: bootConfig.logFormat });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, 'error while stopping'));
  };
  onShutdownSignal(stopAll, logger);

  try {
    const telemetry = await startProcessTelemetry(bootConfig, logger, { port: bootConfig.metrics.apiPort, worker: true });
    stops.push(() => telemetry.server.stop());
    // Which PostgreSQL is only known once it runs (embedded, or found at the default URL): the
    // rest of the stack gets the boot config with that URL. Development allows webhooks to http
    // and loopback targets, unless the environment says otherwise.
    const database = await provideDatabase(bootConfig);
    if (database.embedded) {
      stops.push(() => database.embedded!.stop());
      logger.info(database.note);
    }
    // SMTP submission listens here even when SMTP_SUBMISSION_PORT is unset (the production entry
    // points open no listener then).
    const submission = { ...bootConfig.submission, port: bootConfig.submission.port ?? DEV_SMTP_SUBMISSION_PORT };
    const config = {
      ...bootConfig,
      databaseUrl: database.url,
      submission,
      webhooks: { ...bootConfig.webhooks, targets: developmentTargets(bootConfig) },
    };

    let temporalAddress = config.temporal.address;
    let temporal: DevServer | undefined;
    if (!temporalAddress) {
      const cli = await resolveTemporalCli(config.temporal.cli, (m) => logger.info(m));
      temporal = await startTemporalDevServer({
        cli,
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        dbFile: path.join(config.dataDir, 'temporal.sqlite'),
        logFile: path.join(config.dataDir, 'temporal.log'),
      });
      stops.push(() => temporal!.stop());
      temporalAddress = temporal.address;
    }

    await ensureDatabase(config.databaseUrl);
    await migrate(config.databaseUrl);

    let sink: MailSink | undefined;
    let gateways = config.smtp.gateways;
    if (!gateways) {
      sink = await startMailSink(path.join(config.dataDir, 'mail'), config.smtp.devPort);
      stops.push(() => sink!.close());
      gateways = [{ name: DEFAULT_GATEWAY, url: sink.url, priority: 0 }];
    }

    const dev = await developmentKey(config.databaseUrl, config.dataDir);

    const worker = await startWorker(config, temporalAddress, gateways, logger, telemetry.metrics);
    stops.push(() => worker.stop());
    // The API starts deliveries on the worker's connection, eagerly (BENCHMARKS.md, "Eager workflow start").
    const api = await startApiServer(config, worker.connection, logger, telemetry.metrics);
    stops.push(() => api.stop());

    const { allowHttp, allowPrivateTargets } = config.webhooks.targets;
    const webhookTargets = [allowHttp ? 'http URLs' : '', allowPrivateTargets ? 'loopback and private addresses' : '']
      .filter(Boolean)
      .join(', ');
    const banner = [
      'Herald is running',
      `  API:              ${api.url}   (POST /v1/emails, GET /v1/emails/:id; /docs)`,
      api.submission ? `  SMTP submission:  ${submissionLine(config.http.host, api.submission)}` : '',
      `  Development key:  ${dev.key}`,
      `                    (in ${dev.file}; tenant "${DEFAULT_TENANT}"${dev.anyDomain ? ', which sends from any domain until you give it domains: npx herald tenant update default --domain example.com' : ''})`,
      `  Temporal:         ${temporalAddress}${temporal ? ' (dev server, state in ' + path.join(config.dataDir, 'temporal.sqlite') + ')' : ''}`,
      temporal?.uiUrl ? `  Temporal Web UI:  ${temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows` : '',
      `  PostgreSQL:       ${config.databaseUrl.replace(/\/\/[^@]*@/, '//')}`,
      sink
        ? `  SMTP gateway:     ${sink.url} (development sink; mail lands in ${sink.dir})`
        : `  SMTP gateways:    ${gateways.map((g) => `${g.name} ${withoutPassword(g.url)}${g.ratePerSecond ? ` (${g.ratePerSecond}/s)` : ''}`).join(', ')}`,
      `  Metrics:          ${telemetry.server.url}   (API, worker and Temporal worker metrics)`,
      webhookTargets
        ? `  Webhooks:         ${webhookTargets} allowed (development; WEBHOOK_ALLOW_HTTP=false, WEBHOOK_ALLOW_PRIVATE_TARGETS=false refuse them)`
        : '  Webhooks:         https and public hosts only',
      config.unsubscribe
        ? `  Unsubscribe:      campaign emails link to ${config.unsubscribe.publicUrl}${UNSUBSCRIBE_PATH}/... (one-click)`
        : '  Unsubscribe:      no List-Unsubscribe links in campaign emails (set PUBLIC_URL and UNSUBSCRIBE_SECRET)',
      'Ctrl-C stops everything.',
    ].filter((l) => l !== '');
    // Readable on a terminal; one structured line (with the same facts) elsewhere.
    if (process.stdout.isTTY && config.logFormat !== 'json') process.stdout.write(`\n${banner.join('\n')}\n\n`);
    else {
      logger.info(
        {
          api: api.url,
          smtpSubmission: api.submission,
          metrics: telemetry.server.url,
          temporal: temporalAddress,
          webUi: temporal?.uiUrl,
          devKeyFile: dev.file,
          webhookTargets: config.webhooks.targets,
          unsubscribeLinks: config.unsubscribe ? `${config.unsubscribe.publicUrl}${UNSUBSCRIBE_PATH}` : null,
        },
        'Herald is running',
      );
      if (webhookTargets)
        logger.warn({ webhookTargets: config.webhooks.targets }, `webhooks: ${webhookTargets} allowed (development stack)`);
    }
    await worker.done;
  } catch (err) {
    logger.error({ err }, 'herald could not start');
    await stopAll();
    process.exit(1);
  }
}

/** The development key of the default tenant (created on first run, kept in the data dir). */
async function developmentKey(databaseUrl: string, dataDir: string) {
  const sql = createSql(databaseUrl, 1);
  try {
    const key = await createTenantAdmin(sql).ensureDevKey(dataDir);
    const tenant = await createTenantStore(sql).get(DEFAULT_TENANT);
    return { ...key, anyDomain: tenant?.anySendingDomain ?? false };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Where to submit over SMTP, and how: the user name is not read, the password is the key. */
function submissionLine(host: string, smtp: NonNullable<RunningApi['submission']>): string {
  const at = host === '0.0.0.0' ? '127.0.0.1' : host;
  const tls = smtp.starttls ? 'STARTTLS' : 'no TLS: AUTH from loopback only';
  const implicit = smtp.tlsPort !== undefined ? `, implicit TLS on ${at}:${smtp.tlsPort}` : '';
  return `${at}:${smtp.port} (${tls}${implicit}; AUTH PLAIN/LOGIN, any user name, password = the key)`;
}

/** Credentials never reach a terminal or a log. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

main();
