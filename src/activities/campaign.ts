import { Context } from '@temporalio/activity';
import type { CampaignService } from '../campaigns/service';
import type { PageResult } from '../shared';
import type { ControlRequest } from '../workflows/messages';

export interface CampaignActivityDeps {
  campaigns: Pick<CampaignService, 'handOverPage' | 'applyControl' | 'cancelRest' | 'complete'>;
}

/** Keeps Temporal told this worker is alive while a step starts or signals many workflows. */
async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = ctx.info.heartbeatTimeoutMs ? setInterval(() => ctx.heartbeat(), ctx.info.heartbeatTimeoutMs / 3) : undefined;
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** The steps of a campaign workflow; each is idempotent (a retry after a crash does no harm). */
export function createCampaignActivities({ campaigns }: CampaignActivityDeps) {
  return {
    async handOverPage(campaignId: string, afterId: string | null, limit: number): Promise<PageResult> {
      return withHeartbeat(() => campaigns.handOverPage(campaignId, afterId, limit));
    },
    async applyCampaignControl(campaignId: string, kind: 'pause' | 'resume', request: ControlRequest): Promise<void> {
      await withHeartbeat(() => campaigns.applyControl(campaignId, kind, request));
    },
    async cancelCampaignRest(campaignId: string, request: ControlRequest): Promise<void> {
      await withHeartbeat(() => campaigns.cancelRest(campaignId, request));
    },
    async completeCampaign(campaignId: string): Promise<void> {
      await campaigns.complete(campaignId);
    },
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;
