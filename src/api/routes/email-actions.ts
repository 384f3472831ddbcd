import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApiDeps, ApiEnv } from '../app';
import { isEmailId } from '../email-id';
import { Problem, notFound, validationProblem } from '../problem';
import { createEmailStore, type EmailStore } from '../../db/email-store';
import { createDeliveryStore } from '../../db/delivery-store';
import { isTerminal, type EmailStatus } from '../../shared';
import type { ControlName } from '../../workflows/definitions';
import { EmailFilterSchema } from '../list-query';
import { redriveInput } from '../delivery-input';

// Steering one email (or many): cancel, reschedule, send now, pause, resume, re-drive.
// Each goes to the email's workflow, exactly as the temporal CLI would send it.

const API_ACTOR = 'api';

const ReasonSchema = z.object({ reason: z.string().max(500).optional() }).strict();
const RescheduleSchema = z.object({ sendAt: z.iso.datetime({ offset: true }), reason: z.string().max(500).optional() }).strict();
const BulkRetrySchema = z
  .object({
    filter: EmailFilterSchema.omit({ status: true }).strict().default({}),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

async function optionalJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const text = await c.req.text();
  let body: unknown = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      throw new Problem(400, 'malformed-json', 'The request body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationProblem(parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })));
  return parsed.data;
}

const finished = (status: EmailStatus) =>
  new Problem(409, 'email-finished', `The email is already ${status}`, { detail: 'only an email that has not reached sent, failed or cancelled can be changed', emailStatus: status });

export function emailActionRoutes(deps: ApiDeps) {
  const emails = createEmailStore(deps.sql);
  const delivery = createDeliveryStore(deps.sql);

  async function refOr404(c: Context<ApiEnv>) {
    const id = c.req.param('id') ?? '';
    const ref = isEmailId(id) ? await emails.findRef(c.get('tenantId'), id) : undefined;
    if (!ref) throw notFound('Email');
    return ref;
  }

  async function currentStatus(id: string): Promise<EmailStatus> {
    const [row] = await deps.sql<Array<{ status: EmailStatus }>>`select status from emails where id = ${id}`;
    return row.status;
  }

  const control = (name: ControlName, schema: z.ZodType<Record<string, unknown>>) => async (c: Context<ApiEnv>) => {
    const ref = await refOr404(c);
    const body = await optionalJson(c, schema);
    if (isTerminal(ref.status)) throw finished(ref.status);
    try {
      const state = await deps.deliveries.control(ref.workflow_id, name, { ...body, actor: API_ACTOR });
      return c.json({ id: ref.id, status: state.status, paused: state.paused, sendAt: state.sendAt ?? null, phase: state.phase });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new Problem(409, 'not-applicable', err.cause?.message ?? err.message, { emailStatus: await currentStatus(ref.id) });
      }
      if (err instanceof WorkflowNotFoundError) throw finished(await currentStatus(ref.id));
      throw err;
    }
  };

  return new Hono<ApiEnv>()
    .post('/:id/cancel', async (c) => {
      const ref = await refOr404(c);
      const { reason } = await optionalJson(c, ReasonSchema);
      if (ref.status === 'cancelled') return c.json({ id: ref.id, status: ref.status });
      if (isTerminal(ref.status)) throw finished(ref.status);
      try {
        await deps.deliveries.cancel(ref.workflow_id, { actor: API_ACTOR, reason: reason ?? 'cancelled through the API' });
      } catch (err) {
        // No run to cancel (its start never happened): cancel the record itself.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        await delivery.cancel(ref.id, API_ACTOR, reason ?? 'cancelled through the API');
      }
      const status = await currentStatus(ref.id);
      if (status === 'sent' || status === 'failed') throw finished(status);
      return c.json({ id: ref.id, status }, status === 'cancelled' ? 200 : 202);
    })
    .post('/:id/reschedule', control('reschedule', RescheduleSchema))
    .post('/:id/send-now', control('sendNow', ReasonSchema))
    .post('/:id/pause', control('pause', ReasonSchema))
    .post('/:id/resume', control('resume', ReasonSchema))
    .post('/:id/retry', async (c) => {
      const ref = await refOr404(c);
      if (ref.status !== 'failed') {
        throw new Problem(409, 'not-failed', `Only a failed email can be sent again; this one is ${ref.status}`, { emailStatus: ref.status });
      }
      await redrive(emails, deps, ref, c.get('tenantId'));
      return c.json({ id: ref.id, status: 'queued' }, 202);
    })
    .post('/retry', async (c) => {
      const { filter, limit } = await optionalJson(c, BulkRetrySchema);
      const tenantId = c.get('tenantId');
      const failed = await emails.list(tenantId, { ...filter, statuses: ['failed'] }, limit);
      const redriven: string[] = [];
      for (const row of failed) {
        const ref = await emails.findRef(tenantId, row.id);
        if (ref?.status === 'failed' && (await redrive(emails, deps, ref, tenantId).then(() => true, () => false))) redriven.push(ref.id);
      }
      return c.json({ matched: failed.length, redriven: redriven.length, ids: redriven }, 202);
    });
}

async function redrive(emails: EmailStore, deps: ApiDeps, ref: { id: string; workflow_id: string; tags: string[]; domains: string[] }, tenantId: string) {
  await deps.deliveries.waitUntilClosed(ref.workflow_id);
  if (!(await emails.prepareRedrive(ref.id, API_ACTOR))) throw new Problem(409, 'not-failed', 'The email is no longer failed');
  try {
    await deps.deliveries.redrive(ref.workflow_id, redriveInput(ref, tenantId, deps.policy), `Re-drive of email ${ref.id}`);
  } catch (err) {
    await emails.abandonRedrive(ref.id, 'the new run could not be started');
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Problem(409, 'still-running', 'The previous delivery of this email is still closing; try again shortly');
    }
    throw err;
  }
}
