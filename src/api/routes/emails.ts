import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { createRouter, jsonBody } from '../router';
import { admitLargeBodies } from '../admission';
import { emailSubmissionSchema, IdempotencyHeaderSchema } from '../schemas/email';
import { encodeCursor, ListQuerySchema } from '../schemas/list';
import {
  AcceptedSchema,
  AUTH_ERRORS,
  BODY_ERRORS,
  EmailListSchema,
  EmailViewSchema,
  EventListSchema,
  json,
  problem,
  secured,
} from '../schemas/responses';
import { toEmailView, toEventView, toListItemView } from '../views';
import { requestHash } from '../../deliveries/service';

// Emails: accept one, list them, show one and its timeline.

const IdParam = z.object({ id: z.string() });

export function emailRoutes({ deliveries, maxMessageBytes, maxConcurrentLargeRequests = 4 }: ApiDeps) {
  // base64 makes attachments a third larger; JSON and headers need a little more.
  const maxBodyBytes = Math.ceil(maxMessageBytes * 1.4) + 64 * 1024;
  const submit = createRoute({
    method: 'post',
    path: '/',
    summary: 'Accept an email for delivery',
    // Large bodies take turns before they are read: the API's memory stays bounded (admission.ts).
    middleware: [requireScope('send'), admitLargeBodies({ slots: maxConcurrentLargeRequests }), ...jsonBody(maxBodyBytes)],
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: emailSubmissionSchema(maxMessageBytes) } } },
    },
    security: secured,
    responses: {
      202: json(
        AcceptedSchema,
        'Stored, and its delivery workflow started (Location: /v1/emails/{id}; Idempotent-Replayed: true for a replay)',
      ),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      403: problem("missing-scope (send), or sender-not-allowed: the from address is not of one of the tenant's sending domains"),
      422: problem('idempotency-key-reused: the Idempotency-Key was used with another body'),
      429: problem(
        'rate-limited; quota-exceeded: the daily quota is used up (Retry-After until UTC midnight); too-many-large-requests: large bodies take turns and none came in time (Retry-After)',
      ),
      503: problem('temporal-unavailable: nothing kept (with an Idempotency-Key, a retry resumes the same email)'),
    },
  });
  const list = createRoute({
    method: 'get',
    path: '/',
    summary: 'List emails, newest first',
    middleware: requireScope('read'),
    request: { query: ListQuerySchema },
    security: secured,
    responses: {
      200: json(EmailListSchema, 'A page of emails'),
      ...AUTH_ERRORS,
      400: problem('validation-error: a bad filter, limit or cursor'),
    },
  });
  const show = createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'One email: status, recipients, attempts',
    middleware: requireScope('read'),
    request: { params: IdParam },
    security: secured,
    responses: { 200: json(EmailViewSchema, 'The email'), ...AUTH_ERRORS, 404: problem('not-found: no such email for this tenant') },
  });
  const timeline = createRoute({
    method: 'get',
    path: '/{id}/events',
    summary: "An email's timeline",
    middleware: requireScope('read'),
    request: { params: IdParam },
    security: secured,
    responses: {
      200: json(EventListSchema, 'Its events, oldest first'),
      ...AUTH_ERRORS,
      404: problem('not-found: no such email for this tenant'),
    },
  });

  return createRouter()
    .openapi(submit, async (c) => {
      const { 'idempotency-key': idempotencyKey } = c.req.valid('header');
      const accepted = await deliveries.accept(c.get('tenant'), c.req.valid('json'), {
        idempotencyKey,
        requestHash: requestHash(await c.req.text()),
      });
      c.header('Location', `/v1/emails/${accepted.id}`);
      if (accepted.replayed) c.header('Idempotent-Replayed', 'true');
      return c.json({ id: accepted.id, status: accepted.status, workflowId: accepted.workflowId }, 202);
    })
    .openapi(list, async (c) => {
      const { filter, limit, cursor } = c.req.valid('query');
      const rows = await deliveries.list(c.get('tenant').id, filter, limit + 1, cursor);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const nextCursor = rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null;
      return c.json({ data: page.map(toListItemView), nextCursor }, 200);
    })
    .openapi(show, async (c) => c.json(toEmailView(await deliveries.get(c.get('tenant').id, c.req.valid('param').id)), 200))
    .openapi(timeline, async (c) => {
      const events = await deliveries.events(c.get('tenant').id, c.req.valid('param').id);
      return c.json({ data: events.map(toEventView) }, 200);
    });
}
