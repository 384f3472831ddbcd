import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineSignal,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks';
import { WEBHOOK_ENDPOINT_DISABLED, WEBHOOK_WORK_SIGNAL, type ClaimedDelivery, type WebhookDispatchInput } from '../shared';
import { failureMessage } from './profiles';
import { WebhookLanes } from './webhook-lanes';

export const webhookWorkSignal = defineSignal(WEBHOOK_WORK_SIGNAL);

/** A dispatcher with nothing to do for this long ends; the next delivery starts a new one. */
const IDLE_MS = 5 * 60_000;
/** Continue-as-new well before Temporal's 51,200 events (or sooner if the server suggests it). */
const HISTORY_EVENTS = 10_000;

/**
 * The deliveries of one webhook endpoint: woken by a signal whenever the pump stored new ones, it
 * claims them from PostgreSQL and delivers each as an activity under a RetryPolicy that spans the
 * give-up window (72 h by default), one email's deliveries after the other. It runs on the webhook
 * task queue, apart from email delivery, and carries delivery ids only.
 */
export async function deliverWebhooks(input: WebhookDispatchInput): Promise<void> {
  const { endpointId, policy } = input;
  const lanes = new WebhookLanes(policy.concurrency, Math.max(50, policy.concurrency * 10));
  const { claimWebhookDeliveries, webhookGaveUp } = proxyLocalActivities<
    Pick<WebhookActivities, 'claimWebhookDeliveries' | 'webhookGaveUp'>
  >({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const { deliverWebhook } = proxyActivities<Pick<WebhookActivities, 'deliverWebhook'>>({
    summary: 'POST to the endpoint, under the retry policy',
    startToCloseTimeout: policy.timeoutMs + 10_000,
    scheduleToCloseTimeout: policy.giveUpAfterMs,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumIntervalMs,
      nonRetryableErrorTypes: [WEBHOOK_ENDPOINT_DISABLED],
    },
  });

  let work = true; // a new run looks for pending deliveries at once
  let changed = false;
  let stopped = false;
  setHandler(webhookWorkSignal, () => {
    work = true;
  });
  const deliveries = new CancellationScope();
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS;

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      await deliverWebhook(delivery.id);
    } catch (err) {
      if (isCancellation(err)) return;
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === WEBHOOK_ENDPOINT_DISABLED)
        stopped = true;
      else await webhookGaveUp(delivery.id, failureMessage(err));
    } finally {
      lanes.finish(delivery);
      changed = true;
    }
  }

  for (;;) {
    if (stopped) {
      // Disabled or deleted: what is under way is abandoned, what waits stays pending in PostgreSQL.
      deliveries.cancel();
      return;
    }
    if (work && lanes.room() > 0 && !historyFull()) {
      work = false;
      const claim = await claimWebhookDeliveries(endpointId, lanes.ids(), lanes.room());
      if (claim.endpoint !== 'enabled') {
        stopped = true;
        continue;
      }
      for (const delivery of claim.deliveries) lanes.add(delivery);
      if (claim.more) work = true;
    }
    for (const delivery of lanes.start()) void deliveries.run(() => deliver(delivery));
    if (lanes.idle()) {
      if (historyFull()) await continueAsNew<typeof deliverWebhooks>(input);
      if (!(await condition(() => work || stopped, IDLE_MS))) return;
      continue;
    }
    changed = false;
    await condition(() => changed || stopped || (work && lanes.room() > 0 && !historyFull()));
  }
}
