import path from 'node:path';
import { parseConfig } from '../config';
import { createLogger } from '../logger';
import { ensureDatabase, migrate } from '../db/migrate';
import { provideDatabase } from '../dev/default-database';
import { resolveTemporalCli } from '../dev/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../dev/temporal-dev-server';
import { startMailSink, type MailSink } from '../dev/mail-sink';
import { startApiServer } from '../api/server';
import { startWorker } from '../worker/start';
import { createSql } from '../db/sql';
import { createTenantStore } from '../db/tenants';
import { createTenantAdmin } from '../tenants/admin';
import { DEFAULT_GATEWAY, DEFAULT_TENANT } from '../shared';
import { onShutdownSignal } from './shutdown';

// `npm start`: the whole stack with embedded defaults, state kept under HERALD_DATA_DIR so a
// second start picks up where the first stopped.
async function main() {
  const bootConfig = parseConfig();
  const logger = createLogger(bootConfig.logLevel, 'herald');
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, 'error while stopping'));
  };
  onShutdownSignal(stopAll);

  try {
    // Which PostgreSQL is only known once it runs (embedded, or found at the default URL): the
    // rest of the stack gets the boot config with that URL.
    const database = await provideDatabase(bootConfig);
    if (database.embedded) {
      stops.push(() => database.embedded!.stop());
      console.log(database.note);
    }
    const config = { ...bootConfig, databaseUrl: database.url };

    let temporalAddress = config.temporal.address;
    let temporal: DevServer | undefined;
    if (!temporalAddress) {
      const cli = await resolveTemporalCli(config.temporal.cli);
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

    const worker = await startWorker(config, temporalAddress, gateways, logger);
    stops.push(() => worker.stop());
    const api = await startApiServer(config, temporalAddress, logger);
    stops.push(() => api.stop());

    console.log(
      [
        '',
        'Herald is running',
        `  API:              ${api.url}   (POST /v1/emails, GET /v1/emails/:id)`,
        `  Development key:  ${dev.key}`,
        `                    (in ${dev.file}; tenant "${DEFAULT_TENANT}"${dev.anyDomain ? ', which sends from any domain until you give it domains: npx herald tenant update default --domain example.com' : ''})`,
        `  Temporal:         ${temporalAddress}${temporal ? ' (dev server, state in ' + path.join(config.dataDir, 'temporal.sqlite') + ')' : ''}`,
        temporal?.uiUrl ? `  Temporal Web UI:  ${temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows` : '',
        `  PostgreSQL:       ${config.databaseUrl.replace(/\/\/[^@]*@/, '//')}`,
        sink
          ? `  SMTP gateway:     ${sink.url} (development sink; mail lands in ${sink.dir})`
          : `  SMTP gateways:    ${gateways.map((g) => `${g.name} ${withoutPassword(g.url)}${g.ratePerSecond ? ` (${g.ratePerSecond}/s)` : ''}`).join(', ')}`,
        '',
        'Ctrl-C stops everything.',
      ]
        .filter((l) => l !== '')
        .join('\n'),
    );
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

/** Credentials never reach a terminal or a log. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

main();
