import { createRoute } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { Problem } from '../problem';
import { createRouter, limitBody } from '../router';
import { BatchBodySchema, batchItemParser } from '../schemas/batch';
import { BatchAnswerSchema, json, problem } from '../schemas/responses';
import { isBatchItem, toBatchView } from '../views';

// Many emails in one request: each validated and answered on its own, the valid ones stored in
// one transaction and started by one durable starter workflow.

export function emailBatchRoutes({ deliveries, maxMessageBytes }: ApiDeps) {
  const parseItem = batchItemParser(maxMessageBytes);
  const submit = createRoute({
    method: 'post',
    path: '/batch',
    summary: 'Accept up to 1000 emails, each on its own',
    middleware: [requireScope('send'), limitBody(Math.ceil(maxMessageBytes * 1.4) + 64 * 1024)],
    request: { body: { required: true, content: { 'application/json': { schema: BatchBodySchema } } } },
    responses: {
      202: json(BatchAnswerSchema, 'Per item, in order: its id (stored; its delivery workflow is being started) or its problem'),
      400: problem('Not a batch, or no item was accepted (items: each one with its problem)'),
      413: problem('Body too large'),
      429: problem('The batch does not fit in what is left of the daily quota (nothing stored)'),
      503: problem('Temporal unreachable; nothing kept (items with an idempotencyKey: retry with the same keys)'),
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
