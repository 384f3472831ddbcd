import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { addToLogContext } from '../telemetry/context';
import type { Sql } from '../db/sql';
import { createEmailStore, DailyQuotaExceeded, type EmailFilter, type EmailRef, type ListCursor, type StartRef } from '../db/emails';
import { createLifecycleStore } from '../db/lifecycle';
import { createOrphanStore, type OrphanCandidate } from '../db/orphans';
import {
  batchWorkflowId,
  boundedSearchLists,
  isTerminal,
  maySendFrom,
  recipientDomains,
  recipientsOf,
  truncate,
  workflowIdFor,
  type Address,
  type Attachment,
  type DeliverEmailInput,
  type DeliveryPolicy,
  type EmailContent,
  type EmailSource,
  type EmailStatus,
  type SubmittedMessage,
  type Tenant,
} from '../shared';
import type { ControlName, ControlRequest, DeliveryView, RescheduleRequest } from '../workflows/messages';
import { DeliveryError, emailFinished, senderNotAllowed } from './errors';
import type { DeliveryWorkflows } from './workflows';

// The delivery service: accepts an email, starts its workflow, controls, cancels and re-drives
// deliveries. The API routes, the orphan sweep, batches, campaigns and SMTP submission call it;
// the workflow input is built here and nowhere else.

/** A validated email, as a caller hands it to Herald. */
export interface EmailSubmission {
  from: Address;
  subject: string;
  content: EmailContent;
  attachments: Attachment[];
  metadata: Record<string, unknown>;
  tags: string[];
  /** ISO date-time; absent means now. */
  sendAt?: string;
  /** Where it came in: the API unless said otherwise. */
  source?: EmailSource;
  /** A message handed over whole (SMTP submission): stored and sent as it is, never composed. */
  submitted?: SubmittedMessage & {
    /** Its own Message-ID (the client's, or the one added at acceptance). */
    messageId: string;
    /** Every address its From and Sender headers name: each must be of the tenant's domains, like MAIL FROM. */
    authors: string[];
  };
}

export interface Accepted {
  id: string;
  status: EmailStatus;
  workflowId: string;
  /** The idempotency key had been used with the same request: nothing new was stored. */
  replayed: boolean;
}

export interface DeliveryServiceDeps {
  sql: Sql;
  workflows: DeliveryWorkflows;
  policy: DeliveryPolicy;
  messageIdDomain: string;
  logger: Logger;
  /** Counts accepted emails (the API's); left out where nothing accepts (the worker's sweep). */
  metrics?: Pick<Metrics, 'emailAccepted'>;
}

/** Who steers a delivery through the service (shown in the timeline). */
const API_ACTOR = 'api';
export const UNACKNOWLEDGED_REASON = 'not acknowledged: the API stopped between storing the email and starting its delivery';

/** Email ids are UUIDs; anything else cannot name an email (not found, not looked up). */
const EMAIL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Idempotency: the same key must come with the same request, its body byte for byte as received
 * (hashed as it is: no second copy of a 14 MB body is made to compare it).
 */
export function requestHash(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.ceil((midnight - now.getTime()) / 1000);
}

/** The one-line summary shown for a delivery in the Temporal Web UI. */
export function deliverySummary(recipients: Address[], subject: string): string {
  return summaryLine({ firstRecipient: recipients[0]?.address ?? '', recipients: recipients.length, subject });
}

function summaryLine({ firstRecipient, recipients, subject }: StartRef['summary']): string {
  const more = recipients > 1 ? ` (+${recipients - 1})` : '';
  return truncate(`To ${firstRecipient}${more}: "${subject}"`, 200);
}

/** One item of a batch, validated: the email, its idempotency key, its request's hash. */
export interface BatchItem {
  submission: EmailSubmission;
  idempotencyKey?: string;
  requestHash: string;
}

/** Workflow starts (or signals) in flight at once from one call: the Temporal frontend is shared. */
const START_CONCURRENCY = 16;

/** Runs `fn` over the items, `limit` at a time; throws the first error once all have settled. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item).catch((err) => (failure ??= err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}

export function createDeliveryService({ sql, workflows, policy, messageIdDomain, logger, metrics }: DeliveryServiceDeps) {
  const emails = createEmailStore(sql);
  const lifecycle = createLifecycleStore(sql);
  const orphans = createOrphanStore(sql);

  /**
   * The workflow input of an email; re-driven and recovered emails are sent now (no sendAt). It
   * carries ids and the search lists, bounded (DESIGN.md invariant 7), never the content.
   */
  const inputFor = (
    email: { id: string; tenantId: string; domains: string[]; tags: string[] },
    sendAt?: string | null,
  ): DeliverEmailInput => ({
    emailId: email.id,
    tenantId: email.tenantId,
    sendAt: sendAt ?? undefined,
    policy,
    ...boundedSearchLists({ recipientDomains: email.domains, tags: email.tags }),
  });

  async function refOf(tenantId: string, id: string): Promise<EmailRef> {
    const ref = EMAIL_ID.test(id) ? await emails.findRef(tenantId, id) : undefined;
    if (!ref) throw new DeliveryError('not-found', 'Email not found');
    addToLogContext({ emailId: ref.id, workflowId: ref.workflowId });
    return ref;
  }

  async function currentStatus(id: string): Promise<EmailStatus> {
    return (await emails.status(id)) ?? 'cancelled';
  }

  async function redriveOne(ref: EmailRef): Promise<void> {
    await workflows.waitUntilClosed(ref.workflowId);
    if (!(await lifecycle.prepareRedrive(ref.id, API_ACTOR))) throw new DeliveryError('not-failed', 'The email is no longer failed');
    try {
      await workflows.redrive(ref.workflowId, inputFor(ref), `Re-drive of email ${ref.id}`);
    } catch (err) {
      await lifecycle.abandonRedrive(ref.id, 'the new run could not be started');
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new DeliveryError('still-running', 'The previous delivery of this email is still closing; try again shortly');
      }
      throw err;
    }
  }

  /** Starts the workflows of these emails (idempotent: a running or finished one is left as it is). */
  async function startAll(refs: StartRef[]): Promise<void> {
    await eachLimited(refs, START_CONCURRENCY, (ref) =>
      workflows.start(ref.workflowId, inputFor(ref, ref.sendAt), summaryLine(ref.summary)),
    );
  }

  const quotaExceeded = (quota: number) =>
    new DeliveryError('quota-exceeded', `The daily quota of ${quota} emails is used up`, {
      detail: 'the quota counts emails accepted per UTC day',
      quota,
      retryAfterS: secondsUntilUtcMidnight(),
    });

  return {
    /**
     * Stores the email and starts its workflow; the caller's 202 means both happened. With an
     * idempotency key already used with the same request, returns that email (and starts its
     * workflow if an earlier try stopped short).
     */
    async accept(
      tenant: Tenant,
      submission: EmailSubmission,
      options: { idempotencyKey?: string; requestHash: string },
    ): Promise<Accepted> {
      const { submitted } = submission;
      const senders = submitted ? [submitted.mailFrom, ...submitted.authors] : [submission.from.address];
      const refused = senders.find((address) => !maySendFrom(tenant, address));
      if (refused !== undefined) throw senderNotAllowed(tenant, refused);
      const id = randomUUID();
      const tenantId = tenant.id;
      const recipients = recipientsOf(submission.content);
      const stored = await emails
        .insert({
          id,
          tenantId,
          workflowId: workflowIdFor(id),
          messageId: submitted?.messageId ?? `<${id}@${messageIdDomain}>`,
          ...submission,
          idempotencyKey: options.idempotencyKey,
          requestHash: options.requestHash,
          dailyQuota: tenant.dailyQuota,
        })
        .catch((err) => {
          if (!(err instanceof DailyQuotaExceeded)) throw err;
          throw quotaExceeded(err.quota);
        });
      // The rest of this request's lines (the workflow start, the access line) name the email.
      addToLogContext({ emailId: stored.id, workflowId: stored.workflowId });
      if (!stored.created && stored.requestHash !== options.requestHash) {
        throw new DeliveryError('idempotency-key-reused', 'This Idempotency-Key was used with a different request body', {
          detail: `email ${stored.id} was created with this key`,
        });
      }
      try {
        // Repeated for a replayed key while the email is still waiting: a no-op when it runs.
        if (stored.created || stored.status === 'queued' || stored.status === 'scheduled') {
          const input = inputFor(
            { id: stored.id, tenantId, domains: recipientDomains(recipients), tags: submission.tags },
            stored.sendAt ?? undefined,
          );
          await workflows.start(stored.workflowId, input, deliverySummary(recipients, submission.subject));
        }
      } catch (err) {
        logger.error({ err, emailId: stored.id, tenantId, workflowId: stored.workflowId }, 'could not start the delivery workflow');
        if (stored.created && !options.idempotencyKey) await emails.remove(stored.id);
        throw new DeliveryError('temporal-unavailable', 'The email could not be queued; try again', {
          detail: options.idempotencyKey ? 'retry with the same Idempotency-Key' : 'nothing was stored',
        });
      }
      if (stored.created) metrics?.emailAccepted(tenantId);
      logger.info(
        { emailId: stored.id, tenantId, workflowId: stored.workflowId, status: stored.status, replayed: !stored.created },
        'email accepted',
      );
      return { id: stored.id, status: stored.status, workflowId: stored.workflowId, replayed: !stored.created };
    },

    /**
     * A batch: every item the tenant may send is stored in one transaction (counted against the
     * daily quota together: a batch past it is refused whole), then one durable starter workflow
     * is started for the batch, which starts each email's own workflow. A 202 for an item means
     * it is stored and its start is in Temporal's hands. Items refused come back as their
     * DeliveryError, in place. Temporal unreachable: nothing new is kept (keyed items stay, as
     * for one email).
     */
    async acceptBatch(tenant: Tenant, items: BatchItem[]): Promise<Array<Accepted | DeliveryError>> {
      const results: Array<Accepted | DeliveryError | undefined> = items.map((item) =>
        maySendFrom(tenant, item.submission.from.address) ? undefined : senderNotAllowed(tenant, item.submission.from.address),
      );
      const batchId = randomUUID();
      const accepted = items.flatMap((item, index) => (results[index] ? [] : [{ item, index }]));
      const stored = await emails
        .insertMany(
          accepted.map(({ item }) => {
            const id = randomUUID();
            return {
              id,
              tenantId: tenant.id,
              workflowId: workflowIdFor(id),
              messageId: `<${id}@${messageIdDomain}>`,
              ...item.submission,
              idempotencyKey: item.idempotencyKey,
              requestHash: item.requestHash,
            };
          }),
          batchId,
          tenant.dailyQuota,
        )
        .catch((err) => {
          if (err instanceof DailyQuotaExceeded) throw quotaExceeded(err.quota);
          throw err;
        });
      const toStart = new Set<string>();
      stored.forEach((ref, i) => {
        const { item, index } = accepted[i];
        if (!ref.created && ref.requestHash !== item.requestHash) {
          results[index] = new DeliveryError('idempotency-key-reused', 'This Idempotency-Key was used with a different request body', {
            detail: `email ${ref.id} was created with this key`,
          });
          return;
        }
        // A replayed key whose email still waits is started again: a no-op when it runs.
        if (ref.created || ref.status === 'queued' || ref.status === 'scheduled') toStart.add(ref.id);
        results[index] = { id: ref.id, status: ref.status, workflowId: ref.workflowId, replayed: !ref.created };
        if (ref.created) metrics?.emailAccepted(tenant.id);
      });
      if (toStart.size > 0) {
        try {
          await workflows.startBatch(batchId, [...toStart]);
        } catch (err) {
          logger.error({ err, batchId }, 'could not start the batch starter workflow');
          await emails.removeMany(stored.filter((ref, i) => ref.created && !accepted[i].item.idempotencyKey).map((ref) => ref.id));
          throw new DeliveryError('temporal-unavailable', 'The batch could not be queued; try again', {
            detail: 'nothing was stored, except the emails with an idempotencyKey: retry with the same keys',
          });
        }
      }
      return results as Array<Accepted | DeliveryError>;
    },

    /** Starts the workflows of stored emails still waiting for theirs (the batch starter's activity). */
    async startStored(emailIds: string[]): Promise<number> {
      const refs = await emails.startRefs(emailIds);
      await startAll(refs);
      return refs.length;
    },

    startAll,

    /**
     * Steers many deliveries at once (a campaign's): pause and resume as signals (a delivery
     * they do not apply to ignores them), cancel as a cancellation (one without a run is
     * cancelled in PostgreSQL). Does not wait for them to settle.
     */
    async steerAll(
      refs: Array<{ id: string; workflowId: string }>,
      control: 'pause' | 'resume' | 'cancel',
      request: ControlRequest,
    ): Promise<void> {
      await eachLimited(refs, START_CONCURRENCY, async (ref) => {
        if (control !== 'cancel') return workflows.signal(ref.workflowId, control, request);
        try {
          await workflows.requestCancel(ref.workflowId, request);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          await lifecycle.cancel(ref.id, request.actor ?? API_ACTOR, request.reason ?? 'cancelled');
        }
      });
    },

    async get(tenantId: string, id: string) {
      const found = EMAIL_ID.test(id) ? await emails.find(tenantId, id) : undefined;
      if (!found) throw new DeliveryError('not-found', 'Email not found');
      addToLogContext({ emailId: found.email.id, workflowId: found.email.workflowId });
      return found;
    },

    list(tenantId: string, filter: EmailFilter, limit: number, cursor?: ListCursor) {
      return emails.list(tenantId, filter, limit, cursor);
    },

    async events(tenantId: string, id: string) {
      return emails.events((await refOf(tenantId, id)).id);
    },

    /** Cancels unless the gateway already has the email; returns the status it ends in. */
    async cancel(tenantId: string, id: string, reason = 'cancelled through the API'): Promise<{ id: string; status: EmailStatus }> {
      const ref = await refOf(tenantId, id);
      if (ref.status === 'cancelled') return { id: ref.id, status: ref.status };
      if (isTerminal(ref.status)) throw emailFinished(ref.status);
      try {
        await workflows.cancel(ref.workflowId, { actor: API_ACTOR, reason });
      } catch (err) {
        // No run to cancel (its start never happened): cancel the record itself.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        await lifecycle.cancel(ref.id, API_ACTOR, reason);
      }
      const status = await currentStatus(ref.id);
      if (status === 'sent' || status === 'failed') throw emailFinished(status);
      return { id: ref.id, status };
    },

    /** Reschedule, send now, pause or resume: sent to the workflow as an update, which answers. */
    async control(
      tenantId: string,
      id: string,
      name: ControlName,
      request: Omit<ControlRequest, 'actor'> | Omit<RescheduleRequest, 'actor'>,
    ): Promise<DeliveryView> {
      const ref = await refOf(tenantId, id);
      if (isTerminal(ref.status)) throw emailFinished(ref.status);
      try {
        return await workflows.control(ref.workflowId, name, { ...request, actor: API_ACTOR });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          throw new DeliveryError('not-applicable', err.cause?.message ?? err.message, { emailStatus: await currentStatus(ref.id) });
        }
        if (err instanceof WorkflowNotFoundError) throw emailFinished(await currentStatus(ref.id));
        throw err;
      }
    },

    /** Re-drives a failed email: a new run of its workflow, the same Message-ID. */
    async redrive(tenantId: string, id: string): Promise<void> {
      const ref = await refOf(tenantId, id);
      if (ref.status !== 'failed') {
        throw new DeliveryError('not-failed', `Only a failed email can be sent again; this one is ${ref.status}`, {
          emailStatus: ref.status,
        });
      }
      await redriveOne(ref);
    },

    /** Re-drives the failed emails matching a filter; returns how many matched and which were re-driven. */
    async redriveFailed(tenantId: string, filter: EmailFilter, limit: number): Promise<{ matched: number; ids: string[] }> {
      const failed = await emails.failedRefs(tenantId, filter, limit);
      const ids: string[] = [];
      for (const ref of failed) {
        if (
          await redriveOne(ref).then(
            () => true,
            () => false,
          )
        )
          ids.push(ref.id);
      }
      return { matched: failed.length, ids };
    },

    /**
     * Settles an email stored without a workflow (the API died between the two). With an
     * idempotency key the caller's retry would resume it, so it is started; without one the
     * caller never had a 202 and has likely sent it again, so it is cancelled rather than risk
     * a duplicate. A workflow that exists is only late: left alone.
     */
    async settleOrphan(orphan: OrphanCandidate): Promise<'running' | 'started' | 'cancelled'> {
      if (await workflows.exists(orphan.workflowId)) return 'running';
      // A campaign's email is owned by its campaign; a batch's by its starter once that exists
      // (the batch had its 202 then).
      const owned = orphan.campaignId !== null || (orphan.batchId !== null && (await workflows.exists(batchWorkflowId(orphan.batchId))));
      if (!orphan.hasIdempotencyKey && !owned) {
        await lifecycle.cancel(orphan.id, 'herald', UNACKNOWLEDGED_REASON);
        return 'cancelled';
      }
      await workflows.start(orphan.workflowId, inputFor(orphan), `Recovered delivery of email ${orphan.id}`);
      await orphans.recordRecovered(orphan.id);
      return 'started';
    },
  };
}

export type DeliveryService = ReturnType<typeof createDeliveryService>;
