import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { createRouter, jsonBody, optionalJson, SMALL_BODY_BYTES } from '../router';
import { AUTH_ERRORS, BODY_ERRORS, json, problem, secured } from '../schemas/responses';
import {
  CreateWebhookSchema,
  DeliveryQuerySchema,
  ResendAnswerSchema,
  TestEventAnswerSchema,
  WebhookDeliveryListSchema,
  WebhookListSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from '../schemas/webhooks';
import { toWebhookDeliveryView, toWebhookView } from '../views';

// Webhook endpoints of the caller's tenant and their deliveries. Every route needs the webhooks scope.

const IdParam = z.object({ id: z.string() });
const scope = requireScope('webhooks');
const NOT_FOUND = problem('not-found: no such endpoint for this tenant');
/** An action on one endpoint: a POST whose body is {} or empty, JSON like every other body. */
const action = <R extends RouteConfig['responses'], P extends z.ZodObject<z.core.$ZodLooseShape>>(
  path: string,
  summary: string,
  responses: R,
  params: P,
) =>
  createRoute({
    method: 'post',
    path,
    summary,
    middleware: [scope, ...jsonBody(SMALL_BODY_BYTES, { optional: true })],
    request: { params, body: optionalJson(z.object({}).strict()) },
    security: secured,
    responses: { ...responses, ...AUTH_ERRORS, ...BODY_ERRORS, 404: NOT_FOUND },
  });
/** A route that reads nothing but its path and query. */
const read = { middleware: scope, security: secured };

export function webhookRoutes({ webhooks }: ApiDeps) {
  const create = createRoute({
    method: 'post',
    path: '/',
    summary: 'Add an endpoint: { url, events }; answers its secret (whsec_...), shown this once',
    middleware: [scope, ...jsonBody(SMALL_BODY_BYTES)],
    request: { body: { required: true, content: { 'application/json': { schema: CreateWebhookSchema } } } },
    security: secured,
    responses: {
      201: json(WebhookWithSecretSchema, 'Created (Location: /v1/webhooks/{id})'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      409: problem('webhook-limit-reached: the tenant has as many endpoints as it may'),
      422: problem('webhook-target-refused: https only; no private, loopback or link-local target (unless the operator allows them)'),
    },
  });
  const list = createRoute({
    method: 'get',
    path: '/',
    summary: 'The endpoints of this tenant',
    ...read,
    responses: { 200: json(WebhookListSchema, 'Endpoints'), ...AUTH_ERRORS },
  });
  const show = createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'One endpoint: whether it is enabled, and why not',
    ...read,
    request: { params: IdParam },
    responses: { 200: json(WebhookSchema, 'The endpoint'), ...AUTH_ERRORS, 404: NOT_FOUND },
  });
  const remove = createRoute({
    method: 'delete',
    path: '/{id}',
    summary: 'Delete an endpoint and its deliveries',
    ...read,
    request: { params: IdParam },
    responses: { 204: { description: 'Deleted' }, ...AUTH_ERRORS, 404: NOT_FOUND },
  });
  const rotate = action(
    '/{id}/rotate-secret',
    'A new secret; the previous one signs beside it for 24 h',
    {
      200: json(WebhookWithSecretSchema, 'Rotated'),
    },
    IdParam,
  );
  const enable = action(
    '/{id}/enable',
    'Enable a disabled endpoint; its pending deliveries go out',
    {
      200: json(WebhookSchema, 'Enabled'),
    },
    IdParam,
  );
  const test = action(
    '/{id}/test',
    'Send a signed webhook.test event to this endpoint',
    {
      202: json(TestEventAnswerSchema, 'Queued'),
    },
    IdParam,
  );
  const deliveries = createRoute({
    method: 'get',
    path: '/{id}/deliveries',
    summary: "An endpoint's deliveries, newest first (status, attempts, last answer)",
    ...read,
    request: { params: IdParam, query: DeliveryQuerySchema },
    responses: {
      200: json(WebhookDeliveryListSchema, 'A page of deliveries'),
      ...AUTH_ERRORS,
      400: problem('validation-error: a bad filter, limit or cursor'),
      404: NOT_FOUND,
    },
  });
  const resend = action(
    '/{id}/deliveries/{deliveryId}/resend',
    'Send a delivery again (same webhook-id)',
    { 202: json(ResendAnswerSchema, 'Queued again') },
    z.object({ id: z.string(), deliveryId: z.string() }),
  );

  return createRouter()
    .openapi(create, async (c) => {
      const { endpoint, secret } = await webhooks.create(c.get('tenant').id, c.req.valid('json'));
      c.header('Location', `/v1/webhooks/${endpoint.id}`);
      return c.json({ ...toWebhookView(endpoint), secret }, 201);
    })
    .openapi(list, async (c) => c.json({ data: (await webhooks.list(c.get('tenant').id)).map(toWebhookView) }, 200))
    .openapi(show, async (c) => c.json(toWebhookView(await webhooks.get(c.get('tenant').id, c.req.valid('param').id)), 200))
    .openapi(remove, async (c) => {
      await webhooks.remove(c.get('tenant').id, c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(rotate, async (c) => {
      const { endpoint, secret } = await webhooks.rotateSecret(c.get('tenant').id, c.req.valid('param').id);
      return c.json({ ...toWebhookView(endpoint), secret }, 200);
    })
    .openapi(enable, async (c) => c.json(toWebhookView(await webhooks.enable(c.get('tenant').id, c.req.valid('param').id)), 200))
    .openapi(test, async (c) => {
      const { deliveryId, messageId } = await webhooks.sendTest(c.get('tenant').id, c.req.valid('param').id);
      return c.json({ deliveryId, webhookId: messageId }, 202);
    })
    .openapi(deliveries, async (c) => {
      const { status, limit, cursor } = c.req.valid('query');
      const rows = await webhooks.deliveries(c.get('tenant').id, c.req.valid('param').id, { status, limit: limit + 1, before: cursor });
      const page = rows.slice(0, limit);
      return c.json({ data: page.map(toWebhookDeliveryView), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null }, 200);
    })
    .openapi(resend, async (c) => {
      const { id, deliveryId } = c.req.valid('param');
      await webhooks.resend(c.get('tenant').id, id, deliveryId);
      return c.json({ id: deliveryId, status: 'pending' as const }, 202);
    });
}
