import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { Problem } from '../problem';
import { createRouter, emptyBodyIsObject, limitBody, SMALL_BODY_BYTES } from '../router';
import { campaignSubmissionSchema, ControlReasonSchema, encodeRecipientCursor, RecipientQuerySchema } from '../schemas/campaign';
import {
  CampaignCreatedSchema,
  CampaignRecipientListSchema,
  CampaignViewSchema,
  json,
  problem,
  UploadReportSchema,
} from '../schemas/responses';
import { toCampaignRecipientView, toCampaignView } from '../views';
import { uploadFormat } from '../../campaigns/upload';
import type { CampaignControlName } from '../../workflows/campaign-messages';

// Campaigns: create one, upload its recipients, start it, steer it as a whole, watch it.

const IdParam = z.object({ id: z.string() });
/** A body that may be left out altogether, Content-Type too (curl -X POST): it counts as {}. */
const optionalJson = <T extends z.ZodType>(schema: T) => ({
  required: false,
  description: 'JSON; may be left out',
  content: { 'application/json': { schema } },
});

export function campaignRoutes({ campaigns, maxMessageBytes, campaignSettings }: ApiDeps) {
  const create = createRoute({
    method: 'post',
    path: '/',
    summary: 'Create a campaign (a draft): from, subject, text and/or html with {{name}} variables',
    middleware: [requireScope('send'), limitBody(Math.ceil(maxMessageBytes * 1.1) + 64 * 1024)],
    request: { body: { required: true, content: { 'application/json': { schema: campaignSubmissionSchema(maxMessageBytes) } } } },
    responses: {
      201: json(CampaignCreatedSchema, 'Created'),
      400: problem('Invalid campaign or template'),
      403: problem('Sender not allowed'),
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
    responses: {
      200: json(UploadReportSchema, 'Added, duplicates, invalid rows with their lines'),
      400: problem('No usable CSV header, or CSV unreadable past a line (nothing kept)'),
      404: problem('No such campaign'),
      409: problem('Already started'),
      413: problem('Upload too large, or too many recipients (nothing kept)'),
      415: problem('Neither CSV nor NDJSON'),
    },
  });
  const show = createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'A campaign and its progress: counts by status, current rate, estimated completion',
    middleware: requireScope('read'),
    request: { params: IdParam },
    responses: { 200: json(CampaignViewSchema, 'The campaign'), 404: problem('No such campaign') },
  });
  const recipients = createRoute({
    method: 'get',
    path: '/{id}/recipients',
    summary: 'Its recipients in upload order, each with its status (waiting until handed to delivery)',
    middleware: requireScope('read'),
    request: { params: IdParam, query: RecipientQuerySchema },
    responses: {
      200: json(CampaignRecipientListSchema, 'A page of recipients'),
      400: problem('Invalid filter'),
      404: problem('No such campaign'),
    },
  });
  const start = createRoute({
    method: 'post',
    path: '/{id}/start',
    summary: 'Start the campaign (at sendAt when it has one)',
    middleware: requireScope('send'),
    request: { params: IdParam },
    responses: {
      202: json(CampaignViewSchema, 'Started'),
      404: problem('No such campaign'),
      409: problem('No recipients, or finished'),
      503: problem('Temporal unreachable'),
    },
  });
  const control = (name: CampaignControlName, summary: string) =>
    createRoute({
      method: 'post',
      path: `/{id}/${name}`,
      summary,
      middleware: [requireScope('operate'), limitBody(SMALL_BODY_BYTES), emptyBodyIsObject],
      request: { params: IdParam, body: optionalJson(ControlReasonSchema) },
      responses: {
        200: json(CampaignViewSchema, 'The campaign once the control is applied'),
        404: problem('No such campaign'),
        409: problem('Does not apply now, or finished'),
      },
    });
  const steer = (name: CampaignControlName) => async (c: any) =>
    c.json(toCampaignView(await campaigns.control(c.get('tenant').id, c.req.valid('param').id, name, c.req.valid('json').reason)), 200);

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
    .openapi(control('pause', 'Pause: hand nothing more over, pause its emails not yet sent'), steer('pause'))
    .openapi(control('resume', 'Resume a paused campaign'), steer('resume'))
    .openapi(control('cancel', 'Cancel the rest (sent mail stays sent)'), steer('cancel'));
}
