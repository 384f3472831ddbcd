import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { requireScope } from '../auth';
import { createRouter, jsonBody, optionalJson, SMALL_BODY_BYTES } from '../router';
import { ReasonSchema, RescheduleSchema } from '../schemas/controls';
import { BulkRetrySchema } from '../schemas/list';
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  BulkRetryAnswerSchema,
  ControlAnswerSchema,
  StatusAnswerSchema,
  json,
  problem,
  secured,
} from '../schemas/responses';
import type { DeliveryView } from '../../workflows/messages';

// Steering one email (or many): cancel, reschedule, send now, pause, resume, re-drive. Each goes
// to the email's workflow, exactly as the temporal CLI would send it.

const IdParam = z.object({ id: z.string() });
/** Every control needs the operate scope; its body is small and may be left out (an empty body counts as `{}`). */
const controlMiddleware = [requireScope('operate'), ...jsonBody(SMALL_BODY_BYTES, { optional: true })];

const TEMPORAL_UNAVAILABLE = problem('temporal-unavailable: the Temporal server cannot be reached; nothing changed, try again');
/** What a control may answer besides its success. */
const CONTROL_ERRORS = {
  ...AUTH_ERRORS,
  ...BODY_ERRORS,
  404: problem('not-found: no such email for this tenant'),
  409: problem(
    'email-finished: already sent, failed or cancelled; not-applicable: the control does not apply now (emailStatus says where it stands)',
  ),
  503: TEMPORAL_UNAVAILABLE,
};

const controlAnswer = (state: DeliveryView) => ({
  id: state.emailId,
  status: state.status,
  paused: state.paused,
  sendAt: state.sendAt ?? null,
  phase: state.phase,
});

function controlRoute<T extends z.ZodType>(path: string, summary: string, body: T) {
  return createRoute({
    method: 'post',
    path,
    summary,
    middleware: controlMiddleware,
    request: { params: IdParam, body: optionalJson(body) },
    security: secured,
    responses: {
      200: json(ControlAnswerSchema, 'The delivery as the control left it'),
      ...CONTROL_ERRORS,
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
    security: secured,
    responses: {
      200: json(StatusAnswerSchema, 'Cancelled'),
      202: json(StatusAnswerSchema, 'Cancellation under way'),
      ...CONTROL_ERRORS,
      409: problem('email-finished: already sent or failed'),
    },
  });
  const retry = createRoute({
    method: 'post',
    path: '/{id}/retry',
    summary: 'Re-drive a failed email (same Message-ID)',
    middleware: controlMiddleware,
    // No options yet: the body is {} or empty, JSON like every other body.
    request: { params: IdParam, body: optionalJson(z.object({}).strict()) },
    security: secured,
    responses: {
      202: json(StatusAnswerSchema, 'Re-driven'),
      ...AUTH_ERRORS,
      ...BODY_ERRORS,
      404: problem('not-found: no such email for this tenant'),
      409: problem('not-failed: only a failed email is re-driven; still-running: its last run is still closing'),
      503: TEMPORAL_UNAVAILABLE,
    },
  });
  const retryMany = createRoute({
    method: 'post',
    path: '/retry',
    summary: 'Re-drive the failed emails matching a filter',
    middleware: controlMiddleware,
    request: { body: optionalJson(BulkRetrySchema) },
    security: secured,
    responses: { 202: json(BulkRetryAnswerSchema, 'Re-driven'), ...AUTH_ERRORS, ...BODY_ERRORS },
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
    .openapi(reschedule, async (c) =>
      c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'reschedule', c.req.valid('json'))), 200),
    )
    .openapi(sendNow, async (c) =>
      c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'sendNow', c.req.valid('json'))), 200),
    )
    .openapi(pause, async (c) =>
      c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'pause', c.req.valid('json'))), 200),
    )
    .openapi(resume, async (c) =>
      c.json(controlAnswer(await deliveries.control(c.get('tenant').id, c.req.valid('param').id, 'resume', c.req.valid('json'))), 200),
    )
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
