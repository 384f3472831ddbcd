// The log context a workflow start carries to its workflow and activities, as a Temporal header:
// set by the client interceptor (src/telemetry/interceptors.ts), passed on by the workflow
// interceptors (src/workflows/interceptors.ts), read by the activity interceptor.

export const LOG_CONTEXT_HEADER = 'herald-log-context';

export interface LogContext {
  requestId?: string;
  emailId?: string;
  tenantId?: string;
  workflowId?: string;
  endpointId?: string;
}
