import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CampaignActivities } from '../activities/campaign';
import type { CampaignOutcome, SendCampaignInput } from '../shared';
import { CAMPAIGN_CONTROL_NAMES, CAMPAIGN_SIGNALS, CAMPAIGN_UPDATES, campaignStateQuery } from './campaign-messages';
import { CampaignState } from './campaign-state';
import { DEFAULT_ACTOR } from './delivery-state';
import type { ControlRequest } from './messages';

// Database work and Temporal client calls: retried without limit, quickly (PostgreSQL or the
// Temporal frontend may be away for a while; every activity here is idempotent).
const campaign = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * One campaign: hands its recipients to the delivery path page by page (each becomes an email
 * with its own deliverEmail workflow, started by the paging activity with a deterministic
 * workflow id, so this workflow has no children), keeping at most `window` of them unfinished
 * and to the campaign's rate. Pause, resume and cancel apply to the campaign as a whole: its
 * emails not yet sent are paused, resumed or cancelled with it. It continues as new every
 * `pagesPerRun` steps, so its history stays bounded whatever the list's size.
 */
export async function sendCampaign(input: SendCampaignInput): Promise<CampaignOutcome> {
  const { campaignId } = input;
  const state = new CampaignState(input);

  setHandler(campaignStateQuery, () => state.view());
  for (const name of CAMPAIGN_CONTROL_NAMES) {
    const control = state.controls[name];
    // The same control as an update (it answers once its effect is applied) and as a signal.
    setHandler(
      CAMPAIGN_UPDATES[name],
      async (req?: ControlRequest) => {
        control.apply(req);
        if (name === 'cancel') await condition(() => state.finished !== undefined);
        else {
          const seq = state.lastEffectSeq();
          await condition(() => state.isApplied(seq) || state.finished !== undefined);
        }
        return state.view();
      },
      { validator: control.validate },
    );
    setHandler(CAMPAIGN_SIGNALS[name], (req?: ControlRequest) => {
      if (state.accepts(control, req)) control.apply(req);
    });
  }

  try {
    for (;;) {
      const step = state.next();
      if (step.kind === 'apply') {
        const { effect } = step;
        await campaign.applyCampaignControl(campaignId, effect.kind, { actor: effect.actor, reason: effect.reason });
        state.effectApplied();
      } else if (step.kind === 'cancel') {
        await campaign.cancelCampaignRest(campaignId, state.cancelRequest!);
        state.finish('cancelled');
        break;
      } else if (step.kind === 'complete') {
        await campaign.completeCampaign(campaignId);
        state.finish('completed');
        break;
      } else if (step.kind === 'wait') {
        if (step.ms === undefined) await condition(() => state.hasWork());
        else await condition(() => state.hasWork(), step.ms);
      } else {
        const result = await campaign.handOverPage(campaignId, state.cursor, step.limit);
        if (state.paged(result, step.limit)) await condition(() => state.hasWork(), state.pollDelayMs());
      }
      if (!state.hasWork() && (state.shouldContinueAsNew() || workflowInfo().continueAsNewSuggested)) {
        // Updates under way finish in this run; one that arrives meanwhile is served first.
        await condition(() => allHandlersFinished() || state.hasWork());
        if (!state.hasWork()) await continueAsNew<typeof sendCampaign>(state.carry());
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // `temporal workflow cancel`: the same as the cancel control, then the run ends cancelled.
    const request = state.cancelRequest ?? { actor: DEFAULT_ACTOR, reason: 'workflow cancelled' };
    await CancellationScope.nonCancellable(() => campaign.cancelCampaignRest(campaignId, request));
    state.finish('cancelled');
    throw err;
  }
  await condition(allHandlersFinished);
  return { status: state.finished!, handedOver: state.handedOver };
}
