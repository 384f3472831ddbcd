// Campaigns as workflows see them: ids, pacing and what the paging activity answers. A campaign
// workflow carries ids and counters, never a recipient list or a body.

export const CAMPAIGN_STATUSES = [
  'draft', // created; recipients may be uploaded
  'running', // started: its recipients are handed to delivery, page by page (after sendAt)
  'paused', // held: nothing new is handed over, its emails not yet sent are paused
  'cancelled', // the rest will never be sent; what was sent stays sent
  'completed', // every recipient was handed over and every email has finished
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export function isCampaignFinished(status: CampaignStatus): boolean {
  return status === 'cancelled' || status === 'completed';
}

/** How fast a campaign hands its recipients over, fixed when it starts (visible in its input). */
export interface CampaignPacing {
  /** At most this many of its emails unfinished at once (the sliding window). */
  window: number;
  /** At most this many recipients handed over by one activity. */
  pageSize: number;
  /** Pages (and polls) per workflow run before continue-as-new, so the history stays bounded. */
  pagesPerRun: number;
  /** Recipients handed over per second, at most; absent: as fast as the window allows. */
  ratePerSecond?: number;
}

/** What a run hands to the next one (continue-as-new). */
export interface CampaignCarry {
  /** The last recipient handed over (keyset on campaign_recipients.id), as text: it is a bigint. */
  cursor: string | null;
  handedOver: number;
  exhausted: boolean;
  inFlight: number;
  paused: boolean;
  tokens: number;
  tokensAt: number;
  runs: number;
}

export interface SendCampaignInput {
  campaignId: string;
  tenantId: string;
  /** ISO time; absent means at once. */
  sendAt?: string;
  pacing: CampaignPacing;
  carried?: CampaignCarry;
}

/** What one paging activity did. */
export interface PageResult {
  /** Recipients handed over by this call (their emails stored and their workflows started). */
  handedOver: number;
  cursor: string | null;
  /** No recipient is left after the cursor. */
  exhausted: boolean;
  /** The campaign's emails not finished yet, after this call. */
  inFlight: number;
  /** The tenant's daily quota is used up: try again after this long. */
  quotaRetryAfterMs?: number;
}

export interface CampaignOutcome {
  status: 'completed' | 'cancelled';
  handedOver: number;
}

export const SEND_CAMPAIGN_WORKFLOW = 'sendCampaign';
export const START_BATCH_WORKFLOW = 'startBatch';

export function campaignWorkflowId(campaignId: string): string {
  return `campaign-${campaignId}`;
}

/** The durable starter of one batch of emails (POST /v1/emails/batch). */
export function batchWorkflowId(batchId: string): string {
  return `batch-${batchId}`;
}

// Refusals of a campaign control (an update's validator), answered to the caller.
export const CAMPAIGN_FINISHED = 'CampaignFinished';
export const CAMPAIGN_ALREADY_PAUSED = 'CampaignAlreadyPaused';
export const CAMPAIGN_NOT_PAUSED = 'CampaignNotPaused';
