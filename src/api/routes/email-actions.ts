import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { createRouter, jsonBody, SMALL_BODY_BYTES } from '../router';
import { ReasonSchema, RescheduleSchema } from '../schemas/controls';
import { BulkRetrySchema } from '../schemas/list';
import { BulkRetryAnswerSchema, ControlAnswerSchema, StatusAnswerSchema, json, problem } from '../schemas/responses';
import type { DeliveryView } from '../../workflows/messages';

// Steering one email (or many): cancel, reschedule, send now, pause, resume, re-drive. Each goes
// to the email's workflow, exactly as the temporal CLI would send it.

const IdParam = z.object({ id: z.string() });
/** Every control needs the operate scope; its body is small and may be left out (an empty body counts as `{}`). */
const controlMiddleware = [requireScope('operate'), ...jsonBody(SMALL_BODY_BYTES, { optional: true })];
const optionalJson = <T extends z.ZodType>(schema: T) => ({
  required: true,
  description: 'JSON; an empty body counts as {}',
  content: { 'application/json': { schema } },
});

const controlAnswer = (state: DeliveryView) => ({ id: state.emailId, status: state.status, paused: state.paused, sendAt: state.sendAt ?? null, phase: state.phase });

function controlRoute<T extends z.ZodType>(path: string, summary: string, body: T) {
  return createRoute({
    method: 'post',
    path,
    summary,
    middleware: controlMiddleware,
    request: { params: IdParam, body: optionalJson(body) },
    responses: {
      200: json(ControlAnswerSchema, 'The delivery as the control left it'),
      400: problem('Invalid body'),
      404: problem('No such email'),
      409: problem('Finished, or the control does not apply now'),
      415: problem('Not JSON'),
    },
  });
}

export function emailActionRoutes({ deliveries }: ApiDeps) {
  const cancel = createRoute({
    method: 'post',
    path: '/{id}/cancel',
    summary: 'Cancel unless already sent',
    middleware: controlMiddleware,
    request: { params: IdParam, body: optionalJson(ReasonSchema) },
    responses: {
      200: json(StatusAnswerSchema, 'Cancelled'),
      202: json(StatusAnswerSchema, 'Cancellation under way'),
      404: problem('No such email'),
      409: problem('Already sent or failed'),
    },
  });
  const retry = createRoute({
    method: 'post',
    path: '/{id}/retry',
    summary: 'Re-drive a failed email (same Message-ID)',
    middleware: controlMiddleware,
    request: { params: IdParam },
    responses: { 202: json(StatusAnswerSchema, 'Re-driven'), 404: problem('No such email'), 409: problem('Not failed') },
  });
  const retryMany = createRoute({
    method: 'post',
    path: '/retry',
    summary: 'Re-drive the failed emails matching a filter',
    middleware: controlMiddleware,
    request: { body: optionalJson(BulkRetrySchema) },
    responses: { 202: json(BulkRetryAnswerSchema, 'Re-driven'), 400: problem('Invalid filter') },
  });

  const reschedule = controlRoute('/{id}/reschedule', 'Move a scheduled send', RescheduleSchema);
  const sendNow = controlRoute('/{id}/send-now', 'Release a scheduled email at once', ReasonSchema);
  const pause = controlRoute('/{id}/pause', 'Hold its schedule and retries', ReasonSchema);
  const resume = controlRoute('/{id}/resume', 'Release a pause', ReasonSchema);

  return createRouter()
    .openapi(cancel, async (c) => {
      const { id, status } = await deliveries.cancel(c.get('tenant').id, c.req.valid('param').id, c.req.valid('json').reason);
      return c.json({ id, status }, status === 'cancelled' ? 200 : 202);
    })
    .openapi(reschedule, async (c) => c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'reschedule', c.req.valid('json'))), 200))
    .openapi(sendNow, async (c) => c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'sendNow', c.req.valid('json'))), 200))
    .openapi(pause, async (c) => c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'pause', c.req.valid('json'))), 200))
    .openapi(resume, async (c) => c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'resume', c.req.valid('json'))), 200))
    .openapi(retry, async (c) => {
      const { id } = c.req.valid('param');
      await deliveries.redrive(c.get('tenant').id, id);
      return c.json({ id, status: 'queued' as const }, 202);
    })
    .openapi(retryMany, async (c) => {
      const { filter, limit } = c.req.valid('json');
      const { matched, ids } = await deliveries.redriveFailed(c.get('tenant').id, filter, limit);
      return c.json({ matched, redriven: ids.length, ids }, 202);
    });
}
