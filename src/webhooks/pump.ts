import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import type { EndpointRef, FanOutPlan, OutboxBatch, WebhookStore } from '../db/webhooks';
import { webhookEventsOf, withEvents, type EmailWebhookHistory } from './events';

// The webhook pump of a worker process: it takes the timeline entries the outbox trigger noted
// (only for tenants with an enabled endpoint), turns them into webhook messages and one delivery
// per subscribed endpoint, in one transaction, then wakes each endpoint's dispatcher workflow
// (signal-with-start). It never touches an SMTP attempt: the timeline is written first, by the
// delivery, and read here afterwards. A sweep re-wakes dispatchers whose signal may have been lost
// (Temporal unreachable at that moment): the deliveries wait in PostgreSQL meanwhile.

export interface PumpDeps {
  store: Pick<WebhookStore, 'fanOut' | 'endpointsToDispatch'>;
  /** Signal-with-start of the endpoint's dispatcher. */
  dispatch(endpoint: EndpointRef): Promise<void>;
  logger: Logger;
  pollIntervalMs: number;
  /** email.delivery_delayed at most once per this window per email. */
  delayedEveryMs: number;
  /** Deliveries not tried for this long are re-dispatched (longer than the policy's longest wait). */
  staleAfterMs: number;
  sweepIntervalMs?: number;
  batchSize?: number;
  /** Serve these tenants only (test files that share one database, each with its own task queue). */
  tenantIds?: string[];
}

export interface WebhookPump {
  /** One round: fan out what the outbox holds, wake the endpoints. Returns the entries taken. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/** The messages and deliveries of a batch of timeline entries: the pure part of the pump. */
export function planFanOut(
  batch: OutboxBatch,
  delayedEveryMs: number,
  newId: () => string = () => `msg_${randomUUID().replace(/-/g, '')}`,
): FanOutPlan {
  const plan: FanOutPlan = { messages: [], deliveries: [] };
  const histories = new Map<string, EmailWebhookHistory>(batch.histories);
  for (const entry of batch.entries) {
    const email = batch.emails.get(entry.emailId);
    if (!email) continue; // removed since (an accept that could not start its workflow)
    const history = histories.get(email.id) ?? { announced: new Set<string>() };
    const events = webhookEventsOf(entry, email, history, delayedEveryMs);
    histories.set(email.id, withEvents(history, entry, events));
    for (const event of events) {
      const id = newId();
      const recipient = (event.payload.data.recipient as { address?: string } | undefined)?.address ?? null;
      plan.messages.push({
        id,
        tenantId: email.tenantId,
        emailId: email.id,
        eventId: entry.id,
        type: event.type,
        recipient,
        body: JSON.stringify(event.payload),
        occurredAt: entry.at,
      });
      for (const endpoint of batch.endpoints) {
        if (endpoint.tenantId === email.tenantId && endpoint.events.includes(event.type)) {
          plan.deliveries.push({ endpointId: endpoint.id, messageId: id, emailId: email.id });
        }
      }
    }
  }
  return plan;
}

export function startWebhookPump(deps: PumpDeps): WebhookPump {
  const batchSize = deps.batchSize ?? 500;
  const sweepIntervalMs = deps.sweepIntervalMs ?? 60_000;
  let lastSweep = Date.now();
  let stopped = false;
  let wake: (() => void) | undefined;

  async function dispatchAll(endpoints: EndpointRef[]): Promise<void> {
    await Promise.all(
      endpoints.map((e) =>
        deps
          .dispatch(e)
          .catch((err) =>
            deps.logger.warn(
              { err, endpointId: e.endpointId, tenantId: e.tenantId },
              'webhook dispatcher not woken; the sweep will try again',
            ),
          ),
      ),
    );
  }

  async function runOnce(): Promise<number> {
    const { taken, endpoints } = await deps.store.fanOut(batchSize, (batch) => planFanOut(batch, deps.delayedEveryMs), deps.tenantIds);
    await dispatchAll(endpoints);
    if (Date.now() - lastSweep >= sweepIntervalMs) {
      lastSweep = Date.now();
      await dispatchAll(await deps.store.endpointsToDispatch(deps.staleAfterMs, deps.tenantIds));
    }
    return taken;
  }

  const loop = (async () => {
    while (!stopped) {
      let taken = 0;
      try {
        taken = await runOnce();
      } catch (err) {
        deps.logger.warn({ err }, 'webhook pump round failed; trying again');
      }
      // A full batch means more is waiting: go on at once.
      if (taken < batchSize && !stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deps.pollIntervalMs);
          wake = () => (clearTimeout(timer), resolve());
        });
      }
    }
  })();

  return {
    runOnce,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
