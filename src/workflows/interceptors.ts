import { defaultPayloadConverter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import type { Payload } from '@temporalio/common';
import { LOG_CONTEXT_HEADER, SEARCH_ATTRIBUTE_KEYS, type LogContext } from '../shared';

/** A delivery's email and tenant, from its search attributes: known from its very first line. */
function fromSearchAttributes(): LogContext {
  const attributes = workflowInfo().typedSearchAttributes;
  const emailId = attributes.get(SEARCH_ATTRIBUTE_KEYS.emailId);
  const tenantId = attributes.get(SEARCH_ATTRIBUTE_KEYS.tenant);
  return { ...(emailId ? { emailId } : {}), ...(tenantId ? { tenantId } : {}) };
}

/**
 * Passes the log context of a workflow's start (request id, email, tenant) to every activity it
 * schedules and to its own log lines; a continued run keeps it. Bundled with the workflows. (The
 * SDK's own "Workflow started" line comes before the header is read: it has the email and tenant
 * from the search attributes, not yet the request id.)
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  let header: Payload | undefined;
  let attributes: LogContext = {};
  const carry = <T extends { headers: Record<string, Payload> }>(input: T): T =>
    header ? { ...input, headers: { ...input.headers, [LOG_CONTEXT_HEADER]: header } } : input;
  return {
    inbound: [
      {
        execute(input, next) {
          header = input.headers[LOG_CONTEXT_HEADER];
          if (header) attributes = (defaultPayloadConverter.fromPayload(header) as LogContext | undefined) ?? {};
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(carry(input)),
        scheduleLocalActivity: (input, next) => next(carry(input)),
        continueAsNew: (input, next) => next(carry(input)),
        getLogAttributes: (input, next) => next({ ...input, ...fromSearchAttributes(), ...attributes }),
      },
    ],
  };
};
