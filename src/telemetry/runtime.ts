import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { temporalLogger, type Logger } from '../logger';

// The Temporal Runtime of a worker process: its logs (SDK, workflow and activity loggers, and
// Core's, forwarded) go into pino; its worker metrics are served by Core's Prometheus exporter on
// a loopback port of its own, which Herald's /metrics merges in (every name herald_temporal_*).

export const TEMPORAL_METRIC_PREFIX = 'herald_temporal_';

export interface RuntimeTelemetry {
  /** host:port of Core's Prometheus exporter, when metrics are on. */
  metricsAddress?: string;
}

/** Installs the process's Temporal Runtime; once per process, before any NativeConnection. */
export function installTemporalRuntime(logger: Logger, metricsAddress?: string): RuntimeTelemetry {
  Runtime.install({
    logger: temporalLogger(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      ...(metricsAddress
        ? {
            metrics: {
              metricPrefix: TEMPORAL_METRIC_PREFIX,
              prometheus: { bindAddress: metricsAddress, useSecondsForDurations: true, countersTotalSuffix: true, unitSuffix: true },
            },
          }
        : {}),
    },
  });
  return { metricsAddress };
}

/** The text Core's exporter serves, for merging into /metrics ('' when it cannot be read). */
export async function temporalRuntimeMetrics(metricsAddress: string): Promise<string> {
  try {
    const res = await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}
