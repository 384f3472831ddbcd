import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { SEND_CAMPAIGN_WORKFLOW, type SendCampaignInput } from '../shared';
import { CAMPAIGN_UPDATES, type CampaignControlName, type CampaignView } from '../workflows/campaign-messages';
import type { ControlRequest } from '../workflows/messages';

// What the campaign service does to campaign workflows through the Temporal client, exactly as
// the temporal CLI would.

export interface CampaignWorkflows {
  /** Starts a campaign's workflow; repeated while it runs (or once it has closed), a no-op. */
  start(workflowId: string, input: SendCampaignInput, summary: string): Promise<void>;
  control(workflowId: string, name: CampaignControlName, request: ControlRequest): Promise<CampaignView>;
}

export function createCampaignWorkflows(client: Client, taskQueue: string): CampaignWorkflows {
  return {
    async start(workflowId, input, summary) {
      try {
        await client.workflow.start(SEND_CAMPAIGN_WORKFLOW, {
          workflowId,
          taskQueue,
          args: [input],
          staticSummary: summary,
          priority: { fairnessKey: input.tenantId },
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    },
    async control(workflowId, name, request) {
      return client.workflow
        .getHandle(workflowId)
        .executeUpdate<CampaignView, [ControlRequest]>(CAMPAIGN_UPDATES[name].name, { args: [request] });
    },
  };
}
