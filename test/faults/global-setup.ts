import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../../src/dev/temporal-cli';
import { freePort } from '../../src/dev/temporal-dev-server';
import { ensureSmtpSink } from '../support/smtp-sink';
import { initCluster } from './lib/pg-cluster';

// Once per run: a PostgreSQL cluster of the suite's own (a scenario restarts it), the Temporal
// CLI and Postfix's smtp-sink (both fetched into the cache when missing), and a run folder for
// logs and figures.
export default async function globalSetup() {
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-faults-'));
  // The postgres user (cluster) and nobody (smtp-sink) must be able to reach their folders inside.
  chmodSync(dir, 0o755);
  const cli = await resolveTemporalCli(process.env.TEMPORAL_CLI);
  ensureSmtpSink();
  const pg = await initCluster(dir, await freePort());
  process.env.HERALD_FAULTS_RUN_DIR = dir;
  process.env.HERALD_FAULTS_PG_DIR = pg.dir;
  process.env.HERALD_FAULTS_PG_PORT = String(pg.port);
  process.env.HERALD_FAULTS_TEMPORAL_CLI = cli;
  process.env.HERALD_FAULTS_STARTED_AT = String(started);
  console.log(`\nfault suite: run folder ${dir} (logs of every process), PostgreSQL on 127.0.0.1:${pg.port}`);
}
