import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { DELIVER_EMAIL_WORKFLOW, type DeliverEmailInput } from '../shared';
import { typedSearchAttributesFor } from './search-attributes';

// Client-side operations on delivery workflows, shared by the API and the tools.

export interface Deliveries {
  start(workflowId: string, input: DeliverEmailInput): Promise<void>;
}

export function createDeliveries(client: Client, taskQueue: string): Deliveries {
  return {
    async start(workflowId, input) {
      try {
        await client.workflow.start(DELIVER_EMAIL_WORKFLOW, {
          workflowId,
          taskQueue,
          args: [input],
          // A start repeated while the run is open returns that run; once it has closed, the
          // id is not reused (PostgreSQL's unique idempotency key guards beyond retention).
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: typedSearchAttributesFor(input, input.sendAt ? 'scheduled' : 'queued'),
          staticSummary: `Deliver email ${input.emailId}`,
        });
      } catch (err) {
        // Already ran to completion: the email has its outcome, nothing to start.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    },
  };
}
