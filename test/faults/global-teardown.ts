import { rmSync } from 'node:fs';
import path from 'node:path';
import { clusterFromEnv, clusterRunning, stopCluster } from './lib/pg-cluster';
import { printSummary } from './lib/summary';

// Prints the summary table, stops the suite's PostgreSQL cluster and removes its data (the
// logs of every process stay in the run folder).
export default async function globalTeardown() {
  try {
    printSummary();
  } finally {
    const pg = clusterFromEnv();
    if (clusterRunning(pg)) stopCluster(pg, 'fast');
    rmSync(path.join(pg.dir, 'data'), { recursive: true, force: true });
  }
}
