import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import {
  batchWorkflowId,
  DELIVER_EMAIL_WORKFLOW,
  initialStatus,
  searchAttributesAtStart,
  START_BATCH_WORKFLOW,
  type DeliverEmailInput,
} from '../shared';
import {
  cancelRequestedSignal,
  CONTROL_SIGNALS,
  CONTROL_UPDATES,
  type ControlName,
  type ControlRequest,
  type DeliveryView,
  type RescheduleRequest,
} from '../workflows/messages';

// What the service does to delivery workflows through the Temporal client, exactly as the
// temporal CLI would.

export interface DeliveryWorkflows {
  /** Starts the run of a new email; repeated while it is open (or once closed), it is a no-op. */
  start(workflowId: string, input: DeliverEmailInput, summary: string): Promise<void>;
  /** A new run for an email whose last run failed (same workflow id, same Message-ID). */
  redrive(workflowId: string, input: DeliverEmailInput, summary: string): Promise<void>;
  /**
   * Waits (bounded) for the run to close. A failed email's status is written before its run
   * ends, and the run's last step must not land on top of a re-drive.
   */
  waitUntilClosed(workflowId: string, timeoutMs?: number): Promise<void>;
  /** Asks for cancellation and waits (bounded) for the workflow to settle. */
  cancel(workflowId: string, request: ControlRequest, settleMs?: number): Promise<void>;
  control(workflowId: string, name: ControlName, request: ControlRequest | RescheduleRequest): Promise<DeliveryView>;
  exists(workflowId: string): Promise<boolean>;
  /** Starts the durable starter of a batch (workflow batch-<id>), which starts each email's workflow. */
  startBatch(batchId: string, emailIds: string[]): Promise<void>;
  /** A control as a signal (ignored by a delivery it does not apply to); a closed or unknown workflow is skipped. */
  signal(workflowId: string, name: 'pause' | 'resume', request: ControlRequest): Promise<void>;
  /** Asks for cancellation without waiting for it; throws WorkflowNotFoundError when there is no run. */
  requestCancel(workflowId: string, request: ControlRequest): Promise<void>;
}

/** gRPC status codes of a Temporal server that cannot be reached or does not answer in time. */
const OUTAGE_CODES = [14 /* UNAVAILABLE */, 4 /* DEADLINE_EXCEEDED */];

/** Whether an error (or one of its causes) says the Temporal server is out of reach, not that it refused a request. */
export function isTemporalOutage(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e) && OUTAGE_CODES.includes(e.code)) return true;
  }
  return false;
}

export interface DeliveryWorkflowOptions {
  /**
   * Ask the server to hand a new email's first workflow task straight back to a worker of this
   * process (eager workflow start): no matching round trip. Only for a client built on the
   * NativeConnection of a worker polling `taskQueue` in the same process (`npm start`).
   */
  eagerStart?: boolean;
}

export function createDeliveryWorkflows(
  client: Client,
  taskQueue: string,
  { eagerStart = false }: DeliveryWorkflowOptions = {},
): DeliveryWorkflows {
  const options = (workflowId: string, input: DeliverEmailInput, summary: string) => ({
    workflowId,
    taskQueue,
    args: [input] as [DeliverEmailInput],
    typedSearchAttributes: searchAttributesAtStart(input, initialStatus(input.sendAt)),
    staticSummary: summary,
    // Per-tenant fairness: the server dispatches backlogged tasks of each tenant in turn, so one
    // tenant's flood does not hold back another's mail (needs the server's fairness config;
    // activities inherit it).
    priority: { fairnessKey: input.tenantId },
  });
  const settle = (workflowId: string, ms: number) =>
    Promise.race([
      client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => undefined),
      new Promise((r) => setTimeout(r, ms).unref()),
    ]);
  return {
    async start(workflowId, input, summary) {
      try {
        await client.workflow.start(DELIVER_EMAIL_WORKFLOW, {
          ...options(workflowId, input, summary),
          // A start repeated while the run is open returns that run; once it has closed, the id
          // is not reused (PostgreSQL's unique idempotency key guards beyond retention).
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          requestEagerStart: eagerStart,
        });
      } catch (err) {
        // Already ran to completion: the email has its outcome, nothing to start.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    },
    async redrive(workflowId, input, summary) {
      await client.workflow.start(DELIVER_EMAIL_WORKFLOW, {
        ...options(workflowId, input, summary),
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
    },
    async waitUntilClosed(workflowId, timeoutMs = 10_000) {
      await settle(workflowId, timeoutMs);
    },
    async cancel(workflowId, request, settleMs = 15_000) {
      const handle = client.workflow.getHandle(workflowId);
      await handle.signal(cancelRequestedSignal, request);
      await handle.cancel();
      await settle(workflowId, settleMs);
    },
    async control(workflowId, name, request) {
      return client.workflow
        .getHandle(workflowId)
        .executeUpdate<DeliveryView, [ControlRequest]>(CONTROL_UPDATES[name].name, { args: [request] });
    },
    async startBatch(batchId, emailIds) {
      await client.workflow.start(START_BATCH_WORKFLOW, {
        workflowId: batchWorkflowId(batchId),
        taskQueue,
        args: [{ emailIds }],
        staticSummary: `Starts the deliveries of a batch of ${emailIds.length} email(s)`,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    },
    async signal(workflowId, name, request) {
      try {
        await client.workflow.getHandle(workflowId).signal(CONTROL_SIGNALS[name], request);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },
    async requestCancel(workflowId, request) {
      const handle = client.workflow.getHandle(workflowId);
      await handle.signal(cancelRequestedSignal, request);
      await handle.cancel();
    },
    async exists(workflowId) {
      try {
        await client.workflow.getHandle(workflowId).describe();
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
