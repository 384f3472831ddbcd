import { z } from '@hono/zod-openapi';
import { EMAIL_STATUSES } from '../../shared';

// What the API answers, for the OpenAPI document and the handlers' types.

const status = z.enum(EMAIL_STATUSES);
const time = z.string().nullable();

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export const AcceptedSchema = z.object({ id: z.string(), status, workflowId: z.string() }).openapi('Accepted');

export const EmailViewSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    status,
    workflowId: z.string(),
    messageId: z.string(),
    from: z.object({ address: z.string(), name: z.string().optional() }),
    subject: z.string(),
    sendAt: time,
    metadata: z.record(z.string(), z.unknown()),
    lastError: z.string().nullable(),
    statusReason: z.string().nullable(),
    statusChangedBy: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
    sentAt: time,
    recipients: z.array(
      z.object({ address: z.string(), kind: z.string(), status: z.string(), smtpCode: z.number().nullable(), smtpResponse: z.string().nullable(), updatedAt: time }),
    ),
    attempts: z.array(
      z.object({
        attempt: z.number(),
        /** The gateway it went through, by name. */
        gateway: z.string().nullable(),
        startedAt: time,
        finishedAt: time,
        outcome: z.string().nullable(),
        smtpCode: z.number().nullable(),
        smtpResponse: z.string().nullable(),
        errorCode: z.string().nullable(),
        errorMessage: z.string().nullable(),
        accepted: z.array(z.string()),
        rejected: z.array(z.string()),
      }),
    ),
  })
  .openapi('Email');

export const EmailListSchema = z
  .object({
    data: z.array(
      z.object({
        id: z.string(),
        status,
        workflowId: z.string(),
        messageId: z.string(),
        from: z.string(),
        recipients: z.array(z.string()),
        subject: z.string(),
        tags: z.array(z.string()),
        sendAt: time,
        lastError: z.string().nullable(),
        createdAt: time,
        updatedAt: time,
        sentAt: time,
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('EmailList');

export const EventListSchema = z
  .object({ data: z.array(z.object({ id: z.number(), type: z.string(), at: time, actor: z.string().nullable(), data: z.record(z.string(), z.unknown()) })) })
  .openapi('EventList');

export const ControlAnswerSchema = z
  .object({ id: z.string(), status, paused: z.boolean(), sendAt: time, phase: z.string() })
  .openapi('ControlAnswer');

export const StatusAnswerSchema = z.object({ id: z.string(), status }).openapi('StatusAnswer');

export const BulkRetryAnswerSchema = z.object({ matched: z.number(), redriven: z.number(), ids: z.array(z.string()) }).openapi('BulkRetryAnswer');

/** The JSON answer of one status code, for createRoute's responses. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
/** A problem+json answer, for createRoute's responses. */
export const problem = (description: string) => ({ content: { 'application/problem+json': { schema: ProblemSchema } }, description });
