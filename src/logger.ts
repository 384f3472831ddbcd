import pino from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { currentLogContext } from './telemetry/context';

// One log format for the whole of Herald: pino's JSON lines, one object per line, with the
// request and email context of the code that logs (src/telemetry/context.ts). The Temporal
// Runtime's own logs (SDK, workflows, activities, Core) are forwarded into it. On a terminal the
// same lines are printed readable (pino-pretty) unless LOG_FORMAT says otherwise.

export type Logger = pino.Logger;
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  format?: LogFormat;
  /** Where JSON lines go (stdout by default); tests capture them. */
  destination?: pino.DestinationStream;
}

export function createLogger(level: string, name: string, options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'auto';
  const readable = format === 'pretty' || (format === 'auto' && !options.destination && process.stdout.isTTY === true);
  const destination = readable
    ? pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : options.destination;
  return pino(
    {
      level,
      name,
      mixin: () => currentLogContext() ?? {},
      // What the call names wins over the context.
      mixinMergeStrategy: (mergeObject, mixinObject) => ({ ...mixinObject, ...mergeObject }),
    },
    destination ?? pino.destination(1),
  );
}

const LEVELS: Record<LogLevel, pino.Level> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The Temporal Runtime's logger, writing into pino: SDK messages, workflow and activity context
 * loggers (with their workflowId, activityType, ... and Herald's log context) and, with log
 * forwarding on, Core's.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    // The task token is an opaque binary handle: noise in a log line.
    const {
      error,
      sdkComponent,
      taskToken: _taskToken,
      ...rest
    } = (meta ?? {}) as LogMetadata & { error?: unknown; sdkComponent?: string; taskToken?: unknown };
    const fields: Record<string, unknown> = { ...rest, component: sdkComponent ? `temporal-${sdkComponent}` : 'temporal' };
    if (error !== undefined) fields.err = error;
    logger[LEVELS[level] ?? 'info'](fields, message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}
