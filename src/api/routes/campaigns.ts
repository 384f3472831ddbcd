import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { Problem } from '../problem';
import { createRouter, jsonBody, optionalJson, SMALL_BODY_BYTES } from '../router';
import { campaignSubmissionSchema, ControlReasonSchema, encodeRecipientCursor, RecipientQuerySchema } from '../schemas/campaign';
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  CampaignCreatedSchema,
  CampaignRecipientListSchema,
  CampaignViewSchema,
  json,
  problem,
  secured,
  UploadReportSchema,
} from '../schemas/responses';
import { toCampaignRecipientView, toCampaignView } from '../views';
import { uploadFormat } from '../../campaigns/upload';
import type { CampaignControlName } from '../../workflows/campaign-messages';

// Campaigns: create one, upload its recipients, start it, steer it as a whole, watch it.

const IdParam = z.object({ id: z.string() });
const NOT_FOUND = problem('not-found: no such campaign for this tenant');

export function campaignRoutes({ campaigns, maxMessageBytes, campaignSettings }: ApiDeps) {
  const create = createRoute({
    method: 'post',
    path: '/',
    summary: 'Create a campaign (a draft): from, subject, text and/or html with {{name}} variables',
    middleware: [requireScope('send'), ...jsonBody(Math.ceil(maxMessageBytes * 1.1) + 64 * 1024)],
    request: { body: { required: true, content: { 'application/json': { schema: campaignSubmissionSchema(maxMessageBytes) } } } },
    security: secured,
    responses: {
      201: json(CampaignCreatedSchema, 'Created (Location: /v1/campaigns/{id})'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      403: problem("missing-scope (send), or sender-not-allowed: the from address is not of one of the tenant's sending domains"),
    },
  });
  const upload = createRoute({
    method: 'post',
    path: '/{id}/recipients',
    summary: 'Add recipients: CSV (header: email and the variables) or NDJSON ({ "email", ...variables } a line)',
    middleware: requireScope('send'),
    request: {
      params: IdParam,
      body: { required: true, content: { 'text/csv': { schema: z.string() }, 'application/x-ndjson': { schema: z.string() } } },
    },
    security: secured,
    responses: {
      200: json(UploadReportSchema, 'Added, duplicates, invalid rows with their lines'),
      ...AUTH_ERRORS,
      400: problem('invalid-upload: no usable CSV header, or CSV unreadable past a line (nothing kept)'),
      404: NOT_FOUND,
      409: problem('campaign-not-draft: recipients are added before the campaign starts'),
      413: problem('upload-too-large, too-many-recipients (nothing kept)'),
      415: problem('unsupported-media-type: neither text/csv nor application/x-ndjson'),
    },
  });
  const show = createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'A campaign and its progress: counts by status, current rate, estimated completion',
    middleware: requireScope('read'),
    request: { params: IdParam },
    security: secured,
    responses: { 200: json(CampaignViewSchema, 'The campaign'), ...AUTH_ERRORS, 404: NOT_FOUND },
  });
  const recipients = createRoute({
    method: 'get',
    path: '/{id}/recipients',
    summary: 'Its recipients in upload order, each with its status (waiting until handed to delivery)',
    middleware: requireScope('read'),
    request: { params: IdParam, query: RecipientQuerySchema },
    security: secured,
    responses: {
      200: json(CampaignRecipientListSchema, 'A page of recipients'),
      ...AUTH_ERRORS,
      400: problem('validation-error: a bad filter, limit or cursor'),
      404: NOT_FOUND,
    },
  });
  const start = createRoute({
    method: 'post',
    path: '/{id}/start',
    summary: 'Start the campaign (at sendAt when it has one)',
    middleware: [requireScope('send'), ...jsonBody(SMALL_BODY_BYTES, { optional: true })],
    request: { params: IdParam, body: optionalJson(z.object({}).strict()) },
    security: secured,
    responses: {
      202: json(CampaignViewSchema, 'Started'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      404: NOT_FOUND,
      409: problem('no-recipients; campaign-finished: cancelled or completed'),
      503: problem('temporal-unavailable: the Temporal server cannot be reached; try again'),
    },
  });
  const control = (name: CampaignControlName, summary: string) =>
    createRoute({
      method: 'post',
      path: `/{id}/${name}`,
      summary,
      middleware: [requireScope('operate'), ...jsonBody(SMALL_BODY_BYTES, { optional: true })],
      request: { params: IdParam, body: optionalJson(ControlReasonSchema) },
      security: secured,
      responses: {
        200: json(CampaignViewSchema, 'The campaign once the control is applied'),
        ...AUTH_ERRORS,
        ...BODY_ERRORS,
        404: NOT_FOUND,
        409: problem('not-applicable: does not apply now; campaign-finished: cancelled or completed'),
      },
    });
  const pause = control('pause', 'Pause: hand nothing more over, pause its emails not yet sent');
  const resume = control('resume', 'Resume a paused campaign');
  const cancel = control('cancel', 'Cancel the rest (sent mail stays sent)');

  return createRouter()
    .openapi(create, async (c) => {
      const campaign = await campaigns.create(c.get('tenant'), c.req.valid('json'));
      c.header('Location', `/v1/campaigns/${campaign.id}`);
      return c.json({ id: campaign.id, status: campaign.status, workflowId: campaign.workflowId, variables: campaign.variables }, 201);
    })
    .openapi(upload, async (c) => {
      const format = uploadFormat(c.req.header('content-type'));
      if (!format) throw new Problem(415, 'unsupported-media-type', 'Content-Type must be text/csv or application/x-ndjson');
      if (Number(c.req.header('content-length') ?? 0) > campaignSettings.uploadMaxBytes) {
        throw new Problem(413, 'upload-too-large', `The upload exceeds ${campaignSettings.uploadMaxBytes} bytes`);
      }
      return c.json(await campaigns.upload(c.get('tenant').id, c.req.valid('param').id, format, c.req.raw.body), 200);
    })
    .openapi(show, async (c) => c.json(toCampaignView(await campaigns.get(c.get('tenant').id, c.req.valid('param').id)), 200))
    .openapi(recipients, async (c) => {
      const { status, email, limit, cursor } = c.req.valid('query');
      const rows = await campaigns.recipients(
        c.get('tenant').id,
        c.req.valid('param').id,
        { statuses: status, address: email },
        limit + 1,
        cursor,
      );
      const page = rows.slice(0, limit);
      return c.json(
        { data: page.map(toCampaignRecipientView), nextCursor: rows.length > limit ? encodeRecipientCursor(page.at(-1)!.id) : null },
        200,
      );
    })
    .openapi(start, async (c) => c.json(toCampaignView(await campaigns.start(c.get('tenant'), c.req.valid('param').id)), 202))
    .openapi(pause, async (c) =>
      c.json(
        toCampaignView(await campaigns.control(c.get('tenant').id, c.req.valid('param').id, 'pause', c.req.valid('json').reason)),
        200,
      ),
    )
    .openapi(resume, async (c) =>
      c.json(
        toCampaignView(await campaigns.control(c.get('tenant').id, c.req.valid('param').id, 'resume', c.req.valid('json').reason)),
        200,
      ),
    )
    .openapi(cancel, async (c) =>
      c.json(
        toCampaignView(await campaigns.control(c.get('tenant').id, c.req.valid('param').id, 'cancel', c.req.valid('json').reason)),
        200,
      ),
    );
}
