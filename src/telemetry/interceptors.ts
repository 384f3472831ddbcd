import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { LOG_CONTEXT_HEADER, type LogContext } from '../shared';
import { currentLogContext, withLogContext } from './context';

// The client side and the activity side of log-context propagation (the workflow side is
// src/workflows/interceptors.ts): a workflow started while handling a request carries that
// request's id, and the email, tenant or endpoint its input names, to every activity it runs.

const CONTEXT_FIELDS = ['emailId', 'tenantId', 'endpointId'] as const;

function contextOfStart(workflowId: string, args: unknown[]): LogContext {
  const input = (args[0] ?? {}) as Record<string, unknown>;
  const context: LogContext = { ...currentLogContext(), workflowId };
  for (const field of CONTEXT_FIELDS) if (typeof input[field] === 'string') context[field] = input[field] as string;
  return context;
}

function withContext(headers: Headers, context: LogContext): Headers {
  return { ...headers, [LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) };
}

/** For every Client that starts workflows (API, worker's orphan sweep and webhook pump). */
export const logContextClientInterceptor: WorkflowClientInterceptor = {
  startWithDetails: (input, next) =>
    next({ ...input, headers: withContext(input.headers, contextOfStart(input.options.workflowId, input.options.args)) }),
  signalWithStart: (input, next) =>
    next({ ...input, headers: withContext(input.headers, contextOfStart(input.options.workflowId, input.options.args)) }),
};

/** Every activity runs in its workflow's log context: pino lines and Temporal's activity logger carry it. */
export const logContextActivityInterceptor: ActivityInterceptorsFactory = (ctx) => {
  let context: LogContext = { workflowId: ctx.info.workflowExecution?.workflowId };
  return {
    inbound: {
      execute(input, next) {
        const header = input.headers[LOG_CONTEXT_HEADER];
        const carried = header ? (defaultPayloadConverter.fromPayload(header) as LogContext | undefined) : undefined;
        context = { ...carried, workflowId: ctx.info.workflowExecution?.workflowId };
        return withLogContext(context, () => next(input));
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next({ ...input, ...context }),
    },
  };
};

/** The interceptors of every Herald Client: `new Client({ connection, interceptors: clientInterceptors })`. */
export const clientInterceptors = { workflow: [logContextClientInterceptor] };
