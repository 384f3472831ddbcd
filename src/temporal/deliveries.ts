import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import { DELIVER_EMAIL_WORKFLOW, type DeliverEmailInput } from '../shared';
import {
  cancelRequestedSignal,
  pauseUpdate,
  rescheduleUpdate,
  resumeUpdate,
  sendNowUpdate,
  type ControlName,
  type ControlRequest,
  type DeliveryState,
  type RescheduleRequest,
} from '../workflows/definitions';
import { typedSearchAttributesFor } from './search-attributes';

// Client-side operations on delivery workflows: what the API does to one email.

export interface Deliveries {
  start(workflowId: string, input: DeliverEmailInput, summary: string): Promise<void>;
  /**
   * Waits (bounded) for the run to close. A failed email's status is written before its run
   * ends, and the run's last step must not land on top of a re-drive.
   */
  waitUntilClosed(workflowId: string, timeoutMs?: number): Promise<void>;
  /** A new run for an email whose last run failed (same workflow id, same Message-ID). */
  redrive(workflowId: string, input: DeliverEmailInput, summary: string): Promise<void>;
  /** Asks for cancellation and waits (bounded) for the workflow to settle. */
  cancel(workflowId: string, request: ControlRequest, settleMs?: number): Promise<void>;
  control(workflowId: string, name: ControlName, request: ControlRequest | RescheduleRequest): Promise<DeliveryState>;
}

const UPDATES = { reschedule: rescheduleUpdate, sendNow: sendNowUpdate, pause: pauseUpdate, resume: resumeUpdate };

export function createDeliveries(client: Client, taskQueue: string): Deliveries {
  const options = (workflowId: string, input: DeliverEmailInput, summary: string) => ({
    workflowId,
    taskQueue,
    args: [input] as [DeliverEmailInput],
    typedSearchAttributes: typedSearchAttributesFor(input, input.sendAt ? 'scheduled' : 'queued'),
    staticSummary: summary,
  });
  return {
    async start(workflowId, input, summary) {
      try {
        await client.workflow.start(DELIVER_EMAIL_WORKFLOW, {
          ...options(workflowId, input, summary),
          // A start repeated while the run is open returns that run; once it has closed, the id
          // is not reused (PostgreSQL's unique idempotency key guards beyond retention).
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      } catch (err) {
        // Already ran to completion: the email has its outcome, nothing to start.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    },
    async waitUntilClosed(workflowId, timeoutMs = 10_000) {
      const closed = client.workflow.getHandle(workflowId).result().catch(() => undefined);
      await Promise.race([closed, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    },
    async redrive(workflowId, input, summary) {
      await client.workflow.start(DELIVER_EMAIL_WORKFLOW, {
        ...options(workflowId, input, summary),
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
    },
    async cancel(workflowId, request, settleMs = 15_000) {
      const handle = client.workflow.getHandle(workflowId);
      await handle.signal(cancelRequestedSignal, request);
      await handle.cancel();
      const settled = handle.result().catch(() => undefined);
      await Promise.race([settled, new Promise((r) => setTimeout(r, settleMs).unref())]);
    },
    async control(workflowId, name, request) {
      const handle = client.workflow.getHandle(workflowId);
      return handle.executeUpdate<DeliveryState, [ControlRequest]>(UPDATES[name].name, { args: [request] });
    },
  };
}
