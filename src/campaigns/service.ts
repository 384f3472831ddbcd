import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Logger } from '../logger';
import type { WebhookService } from '../webhooks/service';
import type { Sql } from '../db/sql';
import {
  CampaignNotDraft,
  createCampaignStore,
  TooManyRecipients,
  type CampaignRow,
  type PageRecipient,
  type RecipientFilter,
} from '../db/campaigns';
import type { StartRef } from '../db/emails';
import type { DeliveryService } from '../deliveries/service';
import { DeliveryError } from '../deliveries/errors';
import {
  campaignWorkflowId,
  domainOf,
  EMAIL_STATUSES,
  isCampaignFinished,
  maySendFrom,
  workflowIdFor,
  type Address,
  type CampaignStatus,
  type EmailStatus,
  type PageResult,
  type Tenant,
} from '../shared';
import type { CampaignControlName } from '../workflows/campaign-messages';
import type { ControlRequest } from '../workflows/messages';
import { recipientOf } from './recipients';
import { createTemplateCache } from './render';
import { analyzeTemplates, RenderError, type CampaignTemplates } from './template';
import { readUpload, UploadError, type UploadFormat } from './upload';
import type { CampaignSettings } from './settings';
import type { CampaignWorkflows } from './workflows';

// The campaign service: create a campaign, take its recipients, start it, steer it, show its
// progress; and the steps its workflow's activities take (hand a page over, apply a control,
// cancel the rest, complete). Each recipient is handed to the delivery service as an email of
// the tenant: the same workflow, statuses, retries and controls as any other email.

/** A validated campaign, as a caller hands it to Herald. */
export interface CampaignSubmission {
  from: Address;
  subject: string;
  text?: string;
  html?: string;
  tags: string[];
  /** The variables the templates may use (optional: when given, any other is refused). */
  variables?: string[];
  sendAt?: string;
  ratePerSecond?: number;
}

export interface UploadReport {
  added: number;
  duplicates: number;
  /** On the tenant's suppression list: skipped, never sent to. */
  suppressed: number;
  invalid: number;
  /** The first invalid rows (at most MAX_REPORTED_ROWS), by line. */
  invalidRows: Array<{ line: number; error: string }>;
  /** The campaign's recipients after this upload. */
  recipients: number;
}

export interface CampaignProgress {
  campaign: CampaignRow;
  /** Recipients by where they stand: `waiting` (not handed over yet) and each email status. */
  counts: Record<'waiting' | EmailStatus, number>;
  /** Emails sent per second over the last minute. */
  currentRatePerSecond: number;
  estimatedCompletionAt: Date | null;
}

export interface CampaignServiceDeps {
  sql: Sql;
  deliveries: Pick<DeliveryService, 'startAll' | 'steerAll'>;
  workflows: CampaignWorkflows;
  messageIdDomain: string;
  settings: CampaignSettings;
  logger: Logger;
  /** Tells the tenant's webhook endpoints (campaign.completed); left out where nothing completes campaigns (the API). */
  webhooks?: Pick<WebhookService, 'publish'>;
}

/** Invalid rows listed in an upload's answer; all are counted. */
export const MAX_REPORTED_ROWS = 1000;
/** Rows per INSERT while an upload streams in. */
const INSERT_BATCH = 1000;
const CAMPAIGN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_ACTOR = 'api';

const templatesOf = (c: Pick<CampaignRow, 'subject' | 'textBody' | 'htmlBody'>): CampaignTemplates => ({
  subject: c.subject,
  text: c.textBody,
  html: c.htmlBody,
});

function msUntilUtcMidnight(now = new Date()): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime();
}

const finished = (status: CampaignStatus) =>
  new DeliveryError('campaign-finished', `The campaign is already ${status}`, {
    detail: 'a cancelled or completed campaign cannot be changed',
  });

export function createCampaignService({ sql, deliveries, workflows, messageIdDomain, settings, logger, webhooks }: CampaignServiceDeps) {
  const store = createCampaignStore(sql);
  const compiled = createTemplateCache((id) => store.get(id).then((c) => c && templatesOf(c)));

  async function campaignOf(tenantId: string, id: string): Promise<CampaignRow> {
    const found = CAMPAIGN_ID.test(id) ? await store.find(tenantId, id) : undefined;
    if (!found) throw new DeliveryError('not-found', 'Campaign not found');
    return found;
  }

  async function progressOf(campaign: CampaignRow): Promise<CampaignProgress> {
    const { byStatus, sentLastMinute } = await store.progress(campaign.id);
    const counts = Object.fromEntries(EMAIL_STATUSES.map((s) => [s, byStatus[s] ?? 0])) as Record<EmailStatus, number>;
    const handedOver = Object.values(counts).reduce((a, b) => a + b, 0);
    const runningFor = campaign.startedAt ? (Date.now() - campaign.startedAt.getTime()) / 1000 : 0;
    const currentRatePerSecond = runningFor > 0 ? sentLastMinute / Math.min(60, Math.max(1, runningFor)) : 0;
    const left = campaign.recipients - counts.sent - counts.failed - counts.cancelled;
    const estimatedCompletionAt =
      campaign.status === 'running' && currentRatePerSecond > 0 ? new Date(Date.now() + (left / currentRatePerSecond) * 1000) : null;
    return {
      campaign,
      counts: { waiting: Math.max(0, campaign.recipients - handedOver), ...counts },
      currentRatePerSecond,
      estimatedCompletionAt,
    };
  }

  return {
    async create(tenant: Tenant, submission: CampaignSubmission): Promise<CampaignRow> {
      if (!maySendFrom(tenant, submission.from.address)) {
        const domain = domainOf(submission.from.address);
        throw new DeliveryError('sender-not-allowed', `This tenant may not send from ${domain}`, {
          detail: `the from address must be of one of the tenant's sending domains: ${tenant.sendingDomains.join(', ') || '(none)'}`,
          domain,
        });
      }
      const { variables } = analyzeTemplates(
        { subject: submission.subject, text: submission.text, html: submission.html },
        submission.variables,
      );
      const id = randomUUID();
      return store.insert({ ...submission, id, tenantId: tenant.id, workflowId: campaignWorkflowId(id), variables });
    },

    async get(tenantId: string, id: string): Promise<CampaignProgress> {
      return progressOf(await campaignOf(tenantId, id));
    },

    /**
     * Reads an upload as it streams in and stores its recipients in batches, in one transaction:
     * a refused upload (too large, unreadable CSV, not a draft) keeps nothing. Invalid rows are
     * counted and reported by line; repeated addresses are counted as duplicates, suppressed
     * addresses (the tenant's list) as suppressed, and neither becomes an email.
     */
    async upload(tenantId: string, id: string, format: UploadFormat, body: ReadableStream<Uint8Array> | null): Promise<UploadReport> {
      const campaign = await campaignOf(tenantId, id);
      if (campaign.status !== 'draft') throw notDraft(campaign.status);
      const templates = templatesOf(campaign);
      const spec = analyzeTemplates(templates);
      const subjectOf = (await compiled(campaign.id)).subject;
      const invalidRows: UploadReport['invalidRows'] = [];
      const limits = { maxBytes: settings.uploadMaxBytes, maxLineBytes: settings.maxLineBytes };
      try {
        const stored = await store.upload(campaign.id, settings.maxRecipients, async (insert) => {
          let invalid = 0;
          let batch: Array<{ address: string; variables: Record<string, string> }> = [];
          for await (const row of readUpload(body, format, limits, spec.variables)) {
            const recipient = 'error' in row ? row : recipientOf(row.fields, spec, subjectOf);
            if ('error' in recipient) {
              invalid++;
              if (invalidRows.length < MAX_REPORTED_ROWS) invalidRows.push({ line: row.line, error: recipient.error });
              continue;
            }
            batch.push(recipient);
            if (batch.length >= INSERT_BATCH) {
              await insert(batch);
              batch = [];
            }
          }
          await insert(batch);
          return { invalid };
        });
        return { ...stored, invalidRows: invalidRows.sort((a, b) => a.line - b.line) };
      } catch (err) {
        if (err instanceof CampaignNotDraft) throw notDraft(err.status);
        const kept = `${(err as Error).message}; nothing of this upload was kept`;
        if (err instanceof TooManyRecipients) throw new DeliveryError('too-many-recipients', 'Too many recipients', { detail: kept });
        if (err instanceof UploadError && err.kind === 'too-large')
          throw new DeliveryError('upload-too-large', 'The upload is too large', { detail: kept });
        if (err instanceof UploadError) throw new DeliveryError('invalid-upload', 'The upload cannot be read', { detail: kept });
        throw err;
      }
    },

    /** Starts a draft (or starts again the workflow of a campaign already started: a no-op while it runs). */
    async start(tenant: Tenant, id: string): Promise<CampaignProgress> {
      const campaign = await campaignOf(tenant.id, id);
      if (isCampaignFinished(campaign.status)) throw finished(campaign.status);
      if (!maySendFrom(tenant, campaign.fromAddress)) {
        throw new DeliveryError('sender-not-allowed', `This tenant may not send from ${domainOf(campaign.fromAddress)}`, {
          domain: domainOf(campaign.fromAddress),
        });
      }
      let marked = false;
      if (campaign.status === 'draft') {
        if (campaign.recipients === 0)
          throw new DeliveryError('no-recipients', 'The campaign has no recipients', {
            detail: 'upload them first: POST /v1/campaigns/{id}/recipients',
          });
        marked = await store.markStarted(campaign.id, API_ACTOR);
      }
      try {
        await workflows.start(
          campaign.workflowId,
          {
            campaignId: campaign.id,
            tenantId: campaign.tenantId,
            sendAt: campaign.sendAt?.toISOString(),
            pacing: {
              window: settings.window,
              pageSize: settings.pageSize,
              pagesPerRun: settings.pagesPerRun,
              ratePerSecond: campaign.ratePerSecond ?? undefined,
            },
          },
          `Campaign "${campaign.subject.slice(0, 150)}" to ${campaign.recipients} recipient(s)`,
        );
      } catch (err) {
        logger.error({ err, campaignId: campaign.id }, 'could not start the campaign workflow');
        if (marked) await store.unmarkStarted(campaign.id);
        throw new DeliveryError('temporal-unavailable', 'The campaign could not be started; try again', { detail: 'it is still a draft' });
      }
      return progressOf((await store.find(tenant.id, id))!);
    },

    /** Pause, resume or cancel the campaign as a whole: an update of its workflow, which answers once applied. */
    async control(tenantId: string, id: string, name: CampaignControlName, reason?: string): Promise<CampaignProgress> {
      const campaign = await campaignOf(tenantId, id);
      if (isCampaignFinished(campaign.status)) throw finished(campaign.status);
      if (campaign.status === 'draft') {
        if (name !== 'cancel') throw new DeliveryError('not-applicable', 'The campaign has not been started');
        await store.setStatus(campaign.id, 'cancelled', API_ACTOR, reason ?? null);
      } else {
        try {
          await workflows.control(campaign.workflowId, name, { actor: API_ACTOR, reason });
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) throw new DeliveryError('not-applicable', err.cause?.message ?? err.message);
          if (err instanceof WorkflowNotFoundError)
            throw new DeliveryError('not-applicable', 'The campaign has no workflow running; start it again');
          throw err;
        }
      }
      return progressOf((await store.find(tenantId, id))!);
    },

    async recipients(tenantId: string, id: string, filter: RecipientFilter, limit: number, afterId?: string) {
      const campaign = await campaignOf(tenantId, id);
      return store.recipients(campaign.id, filter, limit, afterId);
    },

    // The steps of the campaign workflow (its activities).

    /**
     * Hands over up to `limit` recipients after the cursor: their emails are stored (one
     * transaction, counted against the daily quota) and their delivery workflows started (ids
     * email-<id>, fixed at upload, so a page done again starts nothing twice). With limit 0, only
     * looks at the window. Returns where the campaign stands.
     */
    async handOverPage(campaignId: string, afterId: string | null, limit: number): Promise<PageResult> {
      if (limit <= 0) return { handedOver: 0, cursor: afterId, exhausted: false, inFlight: await store.openCount(campaignId) };
      const campaign = await store.get(campaignId);
      if (!campaign) throw new Error(`campaign ${campaignId} not found`);
      const templates = await compiled(campaignId);
      // Stored for listings and summaries; the send path renders it again, and refuses an email it cannot render.
      const subjectOf = (r: PageRecipient) => {
        try {
          return templates.subject(r.address, r.variables);
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          return campaign.subject;
        }
      };
      const { page, quotaUsedUp, exhausted } = await store.handOver({
        campaign,
        afterId,
        limit,
        emailOf: (r) => ({
          id: r.emailId,
          recipientId: r.id,
          workflowId: workflowIdFor(r.emailId),
          messageId: `<${r.emailId}@${messageIdDomain}>`,
          address: r.address,
          domain: domainOf(r.address),
          subject: subjectOf(r),
        }),
      });
      // New emails, and any an earlier try of this page stored without starting.
      const refs: StartRef[] = page
        .filter((r) => r.emailStatus === null || r.emailStatus === 'queued')
        .map((r) => ({
          id: r.emailId,
          tenantId: campaign.tenantId,
          workflowId: workflowIdFor(r.emailId),
          tags: campaign.tags,
          domains: [domainOf(r.address)],
          summary: { firstRecipient: r.address, recipients: 1, subject: subjectOf(r) },
        }));
      await deliveries.startAll(refs);
      return {
        handedOver: page.length,
        cursor: page.at(-1)?.id ?? afterId,
        exhausted,
        inFlight: await store.openCount(campaignId),
        quotaRetryAfterMs: quotaUsedUp ? msUntilUtcMidnight() : undefined,
      };
    },

    /** Pauses or resumes the campaign's emails not finished yet, and records the campaign's status. */
    async applyControl(campaignId: string, kind: 'pause' | 'resume', request: ControlRequest): Promise<void> {
      await store.setStatus(campaignId, kind === 'pause' ? 'paused' : 'running', request.actor ?? 'temporal', request.reason ?? null);
      // Resume is signalled to every unfinished email, paused in PostgreSQL or not yet: a pause
      // signal may not have been written when the resume comes (signals keep their order).
      await deliveries.steerAll(await store.openEmails(campaignId, 100_000), kind, request);
    },

    /** Cancels the campaign's emails not sent yet (what was sent stays sent); the rest is never handed over. */
    async cancelRest(campaignId: string, request: ControlRequest): Promise<void> {
      await store.setStatus(campaignId, 'cancelled', request.actor ?? 'temporal', request.reason ?? null);
      await deliveries.steerAll(await store.openEmails(campaignId, 100_000), 'cancel', {
        actor: request.actor,
        reason: request.reason ?? 'campaign cancelled',
      });
    },

    /** Every recipient handed over and every email finished: completed, and the tenant's endpoints told. */
    async complete(campaignId: string): Promise<void> {
      await store.setStatus(campaignId, 'completed', 'herald', null);
      const campaign = await store.get(campaignId);
      if (!campaign || !webhooks) return;
      const { counts } = await progressOf(campaign);
      await webhooks.publish(campaign.tenantId, 'campaign.completed', {
        campaignId,
        workflowId: campaign.workflowId,
        status: 'completed',
        recipients: campaign.recipients,
        counts,
        tags: campaign.tags,
        startedAt: campaign.startedAt?.toISOString() ?? null,
        finishedAt: new Date().toISOString(),
      });
    },
  };
}

const notDraft = (status: CampaignStatus) =>
  new DeliveryError('campaign-not-draft', `The campaign is ${status}: recipients can only be added before it starts`, {
    detail: 'create another campaign for more recipients',
  });

export type CampaignService = ReturnType<typeof createCampaignService>;
