import { z } from '@hono/zod-openapi';
import { CAMPAIGN_STATUSES, EMAIL_SOURCES, EMAIL_STATUSES } from '../../shared';

// What the API answers, for the OpenAPI document and the handlers' types.

const status = z.enum(EMAIL_STATUSES);
const source = z.enum(EMAIL_SOURCES);
const time = z.string().nullable();

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      description: 'https://herald.dev/problems/<code>: the code names the error (README, "Errors")',
      example: 'https://herald.dev/problems/validation-error',
    }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z
      .array(
        z.object({
          field: z.string().openapi({ description: 'the path of the bad field: to.0, headers.X-Order, (body), Idempotency-Key, ...' }),
          message: z.string(),
        }),
      )
      .optional()
      .openapi({ description: 'validation-error: every bad field (the first 50)' }),
    emailStatus: status.optional().openapi({ description: 'email-finished, not-applicable, not-failed: where the email stands' }),
    domain: z.string().optional().openapi({ description: 'sender-not-allowed: the refused domain' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details, served as application/problem+json' });

export const AcceptedSchema = z.object({ id: z.string(), status, workflowId: z.string() }).openapi('Accepted');

export const EmailViewSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    status,
    workflowId: z.string(),
    messageId: z.string(),
    source,
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
      z.object({
        address: z.string(),
        kind: z.string(),
        status: z.string(),
        smtpCode: z.number().nullable(),
        smtpResponse: z.string().nullable(),
        updatedAt: time,
      }),
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
        source,
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
  .object({
    data: z.array(
      z.object({ id: z.number(), type: z.string(), at: time, actor: z.string().nullable(), data: z.record(z.string(), z.unknown()) }),
    ),
  })
  .openapi('EventList');

export const ControlAnswerSchema = z
  .object({ id: z.string(), status, paused: z.boolean(), sendAt: time, phase: z.string() })
  .openapi('ControlAnswer');

export const StatusAnswerSchema = z.object({ id: z.string(), status }).openapi('StatusAnswer');

export const BulkRetryAnswerSchema = z
  .object({ matched: z.number(), redriven: z.number(), ids: z.array(z.string()) })
  .openapi('BulkRetryAnswer');

export const BatchAnswerSchema = z
  .object({
    accepted: z.number(),
    rejected: z.number(),
    data: z.array(
      z.object({
        index: z.number(),
        status: z.number(),
        id: z.string().optional(),
        emailStatus: status.optional(),
        workflowId: z.string().optional(),
        replayed: z.boolean().optional(),
        problem: ProblemSchema.optional(),
      }),
    ),
  })
  .openapi('BatchAnswer');

const address = z.object({ address: z.string(), name: z.string().optional() });

export const CampaignViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(CAMPAIGN_STATUSES),
    workflowId: z.string(),
    from: address,
    subject: z.string(),
    text: z.string().nullable(),
    html: z.string().nullable(),
    variables: z.array(z.string()),
    tags: z.array(z.string()),
    sendAt: time,
    ratePerSecond: z.number().nullable(),
    recipients: z.number(),
    duplicates: z.number(),
    suppressed: z.number(),
    invalid: z.number(),
    counts: z.record(z.string(), z.number()),
    currentRatePerSecond: z.number(),
    estimatedCompletionAt: time,
    statusReason: z.string().nullable(),
    statusChangedBy: z.string().nullable(),
    createdAt: time,
    startedAt: time,
    finishedAt: time,
  })
  .openapi('Campaign');

export const CampaignCreatedSchema = z
  .object({ id: z.string(), status: z.enum(CAMPAIGN_STATUSES), workflowId: z.string(), variables: z.array(z.string()) })
  .openapi('CampaignCreated');

export const UploadReportSchema = z
  .object({
    added: z.number(),
    duplicates: z.number(),
    suppressed: z.number(),
    invalid: z.number(),
    invalidRows: z.array(z.object({ line: z.number(), error: z.string() })),
    recipients: z.number(),
  })
  .openapi('UploadReport');

export const CampaignRecipientListSchema = z
  .object({
    data: z.array(
      z.object({
        email: z.string(),
        status: z.string(),
        emailId: z.string(),
        variables: z.record(z.string(), z.string()),
        sentAt: time,
        lastError: z.string().nullable(),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('CampaignRecipientList');

/** The JSON answer of one status code, for createRoute's responses. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
/** A problem+json answer, for createRoute's responses. */
export const problem = (description: string) => ({ content: { 'application/problem+json': { schema: ProblemSchema } }, description });

/** The security scheme of every /v1 route: an API key of the tenant, as a bearer token. */
export const API_KEY_SCHEME = 'apiKey';
export const secured = [{ [API_KEY_SCHEME]: [] }];

/** What every /v1 route may answer before it runs: no key, a key without the scope, the tenant's rate. */
export const AUTH_ERRORS = {
  401: problem('unauthorized: no key, or an unknown or revoked one (WWW-Authenticate: Bearer)'),
  403: problem('missing-scope: the key lacks the scope this route needs'),
  429: problem("rate-limited: the tenant's request rate is used up (Retry-After, RateLimit-Policy, RateLimit)"),
};

/** What every route that reads a JSON body may answer about the body itself. */
export const BODY_ERRORS = {
  400: problem(
    'validation-error (errors[] names each bad field), malformed-json, json-too-complex (nested deeper than 16 or more than 20 000 values)',
  ),
  413: problem('payload-too-large: the body is over the limit of the route'),
  415: problem('unsupported-media-type: the body is not application/json'),
};
