import { createRoute } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { createRouter, jsonBody, SMALL_BODY_BYTES } from '../router';
import { AUTH_ERRORS, BODY_ERRORS, json, problem, secured } from '../schemas/responses';
import {
  AddressParamSchema,
  encodeSuppressionCursor,
  SuppressionBodySchema,
  SuppressionListSchema,
  SuppressionQuerySchema,
  SuppressionSchema,
} from '../schemas/suppressions';
import { toSuppressionView } from '../views';

// The tenant's suppression list: read it with the read scope, change it with the operate scope.

export function suppressionRoutes({ suppressions }: ApiDeps) {
  const list = createRoute({
    method: 'get',
    path: '/',
    summary: 'List suppressed addresses, newest first',
    middleware: requireScope('read'),
    request: { query: SuppressionQuerySchema },
    security: secured,
    responses: {
      200: json(SuppressionListSchema, 'A page of the suppression list'),
      ...AUTH_ERRORS,
      400: problem('validation-error: a bad filter, limit or cursor'),
    },
  });
  const show = createRoute({
    method: 'get',
    path: '/{address}',
    summary: 'One suppressed address',
    middleware: requireScope('read'),
    request: { params: AddressParamSchema },
    security: secured,
    responses: {
      200: json(SuppressionSchema, 'Suppressed, and why'),
      ...AUTH_ERRORS,
      400: problem('validation-error: not an address'),
      404: problem("not-found: not on this tenant's list"),
    },
  });
  const add = createRoute({
    method: 'post',
    path: '/',
    summary: 'Suppress an address',
    middleware: [requireScope('operate'), ...jsonBody(SMALL_BODY_BYTES)],
    request: { body: { required: true, content: { 'application/json': { schema: SuppressionBodySchema } } } },
    security: secured,
    responses: {
      201: json(SuppressionSchema, 'Added'),
      200: json(SuppressionSchema, 'Already on the list (its entry is unchanged)'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
    },
  });
  const remove = createRoute({
    method: 'delete',
    path: '/{address}',
    summary: 'Remove an address from the suppression list',
    middleware: requireScope('operate'),
    request: { params: AddressParamSchema },
    security: secured,
    responses: {
      204: { description: 'Removed' },
      ...AUTH_ERRORS,
      400: problem('validation-error: not an address'),
      404: problem("not-found: not on this tenant's list"),
    },
  });

  return createRouter()
    .openapi(list, async (c) => {
      const { filter, limit, cursor } = c.req.valid('query');
      const rows = await suppressions.list(c.get('tenant').id, filter, limit + 1, cursor);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return c.json(
        {
          data: page.map(toSuppressionView),
          nextCursor: rows.length > limit && last ? encodeSuppressionCursor(last.createdAt, last.address) : null,
        },
        200,
      );
    })
    .openapi(show, async (c) => c.json(toSuppressionView(await suppressions.get(c.get('tenant').id, c.req.valid('param').address)), 200))
    .openapi(add, async (c) => {
      const { row, created } = await suppressions.add(c.get('tenant').id, c.req.valid('json'));
      return created ? c.json(toSuppressionView(row), 201) : c.json(toSuppressionView(row), 200);
    })
    .openapi(remove, async (c) => {
      await suppressions.remove(c.get('tenant').id, c.req.valid('param').address);
      return c.body(null, 204);
    });
}
