import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CampaignStatus } from '../shared';
import type { ControlRequest } from './messages';

// The messages a campaign workflow answers. The API and the temporal CLI send the same ones:
//   temporal workflow update execute --workflow-id campaign-<id> --name pause --input '{"actor":"ops"}'
//   temporal workflow signal --workflow-id campaign-<id> --name pause

/** Where a campaign's workflow stands, as the `state` query and every control's answer show it. */
export interface CampaignView {
  campaignId: string;
  /** `running` includes waiting for sendAt; `cancelling` until the rest is cancelled. */
  status: CampaignStatus | 'cancelling';
  paused: boolean;
  sendAt?: string;
  /** Recipients handed to delivery so far. */
  handedOver: number;
  /** Its emails not finished, at the last look. */
  inFlight: number;
  /** Every recipient has been handed over. */
  exhausted: boolean;
  /** Runs of this workflow so far (continue-as-new). */
  runs: number;
}

export const campaignStateQuery = defineQuery<CampaignView>('state');

export const CAMPAIGN_CONTROL_NAMES = ['pause', 'resume', 'cancel'] as const;
export type CampaignControlName = (typeof CAMPAIGN_CONTROL_NAMES)[number];

// Each control as a validated update (it answers once applied) and as a signal of the same name
// (a signal that does not apply now is ignored).
export const CAMPAIGN_UPDATES = {
  pause: defineUpdate<CampaignView, [ControlRequest?]>('pause'),
  resume: defineUpdate<CampaignView, [ControlRequest?]>('resume'),
  cancel: defineUpdate<CampaignView, [ControlRequest?]>('cancel'),
};
export const CAMPAIGN_SIGNALS = {
  pause: defineSignal<[ControlRequest?]>('pause'),
  resume: defineSignal<[ControlRequest?]>('resume'),
  cancel: defineSignal<[ControlRequest?]>('cancel'),
};
