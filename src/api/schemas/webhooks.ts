import { z } from '@hono/zod-openapi';
import { MAX_WEBHOOK_URL_LENGTH } from '../../webhooks/url-rule';
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/events';

// Bodies, queries and answers of /v1/webhooks. Where a URL may point (https, public hosts) is the
// service's rule (src/webhooks/url-rule.ts), answered 422; this only checks the shape.

export const CreateWebhookSchema = z
  .object({
    url: z
      .string()
      .max(MAX_WEBHOOK_URL_LENGTH)
      .refine((s) => URL.canParse(s), 'must be an absolute URL'),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length * 2),
    description: z.string().max(200).optional(),
  })
  .strict()
  .openapi('NewWebhook');

export const DeliveryQuerySchema = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,17}$/, 'not a cursor from this API')
      .optional(),
  })
  .strict();

const time = z.string().nullable();

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabledAt: time,
    disabledReason: z.string().nullable(),
    failingSince: time,
    lastError: z.string().nullable(),
    previousSecretExpiresAt: time,
    createdAt: time,
    updatedAt: time,
  })
  .openapi('Webhook');

export const WebhookWithSecretSchema = WebhookSchema.extend({ secret: z.string() }).openapi('WebhookWithSecret');
export const WebhookListSchema = z.object({ data: z.array(WebhookSchema) }).openapi('WebhookList');

export const WebhookDeliverySchema = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    type: z.string(),
    emailId: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number(),
    lastAttemptAt: time,
    responseStatus: z.number().nullable(),
    responseBody: z.string().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: time,
    createdAt: time,
  })
  .openapi('WebhookDelivery');

export const WebhookDeliveryListSchema = z
  .object({ data: z.array(WebhookDeliverySchema), nextCursor: z.string().nullable() })
  .openapi('WebhookDeliveryList');
export const TestEventAnswerSchema = z.object({ deliveryId: z.string(), webhookId: z.string() }).openapi('WebhookTestAnswer');
export const ResendAnswerSchema = z.object({ id: z.string(), status: z.literal('pending') }).openapi('WebhookResendAnswer');
