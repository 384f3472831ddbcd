import type { Config } from '../config';
import { freePort } from '../dev/temporal-dev-server';
import type { Logger } from '../logger';
import { createMetrics, type Metrics } from '../metrics';
import { startMetricsServer, type MetricsServer } from '../metrics/server';
import { installTemporalRuntime, temporalRuntimeMetrics } from './runtime';

export interface ProcessTelemetry {
  metrics: Metrics;
  server: MetricsServer;
}

/**
 * A process's metrics registry and its /metrics listener; in a process that runs a worker, the
 * Temporal Runtime too (its logs into pino, its worker metrics merged into /metrics). Call first
 * thing, before any Temporal connection.
 */
export async function startProcessTelemetry(
  config: Config,
  logger: Logger,
  opts: { port: number; worker: boolean },
): Promise<ProcessTelemetry> {
  let more: (() => Promise<string>) | undefined;
  if (opts.worker) {
    const address = `127.0.0.1:${config.metrics.temporalPort ?? (await freePort())}`;
    installTemporalRuntime(logger, address);
    more = () => temporalRuntimeMetrics(address);
  }
  const metrics = createMetrics({ processMetrics: true });
  const server = await startMetricsServer({ registry: metrics.registry, host: config.metrics.host, port: opts.port, more });
  return { metrics, server };
}
