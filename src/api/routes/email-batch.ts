import { createRoute } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { Problem } from '../problem';
import { admitLargeBodies } from '../admission';
import { createRouter, jsonBody } from '../router';
import { BatchBodySchema, batchItemParser } from '../schemas/batch';
import { AUTH_ERRORS, BatchAnswerSchema, BODY_ERRORS, json, problem, secured } from '../schemas/responses';
import { isBatchItem, toBatchView } from '../views';

// Many emails in one request: each validated and answered on its own, the valid ones stored in
// one transaction and started by one durable starter workflow.

/** A batch may hold up to 1000 emails: its JSON shape bound grows with them. */
const BATCH_MAX_VALUES = 1000 * 200;

export function emailBatchRoutes({ deliveries, maxMessageBytes, maxConcurrentLargeRequests = 4 }: ApiDeps) {
  const parseItem = batchItemParser(maxMessageBytes);
  const submit = createRoute({
    method: 'post',
    path: '/batch',
    summary: 'Accept up to 1000 emails, each on its own',
    // Large bodies take turns before they are read, like POST /v1/emails (admission.ts).
    middleware: [
      requireScope('send'),
      admitLargeBodies({ slots: maxConcurrentLargeRequests }),
      ...jsonBody(Math.ceil(maxMessageBytes * 1.4) + 64 * 1024, { maxValues: BATCH_MAX_VALUES }),
    ],
    request: { body: { required: true, content: { 'application/json': { schema: BatchBodySchema } } } },
    security: secured,
    responses: {
      202: json(BatchAnswerSchema, 'Per item, in order: its id (stored; its delivery workflow is being started) or its problem'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      400: problem(
        'validation-error: not a batch; batch-rejected: no item was accepted (items: each one with its problem); malformed-json, json-too-complex',
      ),
      429: problem('rate-limited; quota-exceeded: the batch does not fit in what is left of the daily quota (nothing stored)'),
      503: problem('temporal-unavailable: nothing kept (items with an idempotencyKey: retry with the same keys)'),
    },
  });
  return createRouter().openapi(submit, async (c) => {
    const items = c.req.valid('json').emails.map(parseItem);
    const valid = items.flatMap((item, index) => (isBatchItem(item) ? [{ item, index }] : []));
    const results =
      valid.length > 0
        ? await deliveries.acceptBatch(
            c.get('tenant'),
            valid.map((v) => v.item),
          )
        : [];
    const answer = toBatchView(items, new Map(valid.map((v, i) => [v.index, results[i]])));
    if (answer.accepted === 0)
      throw new Problem(400, 'batch-rejected', 'No email of the batch was accepted', { detail: 'each item says why', items: answer.data });
    return c.json(answer, 202);
  });
}
