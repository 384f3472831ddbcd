import { z } from '@hono/zod-openapi';
import { requestHash, type BatchItem } from '../../deliveries/service';
import { validationProblem, type FieldError, type ProblemBody } from '../problem';
import { emailSubmissionSchema, IdempotencyHeaderSchema } from './email';

// POST /v1/emails/batch: up to 1000 emails, each the body of POST /v1/emails plus an optional
// idempotencyKey, each validated on its own.

export const MAX_BATCH = 1000;

export const BatchBodySchema = z.object({ emails: z.array(z.unknown()).min(1).max(MAX_BATCH) }).strict();

const keySchema = IdempotencyHeaderSchema.shape['idempotency-key'];

/** Validates one item with the schema of POST /v1/emails: the item, or the problem that refuses it (fields named emails[i].field). */
export function batchItemParser(maxMessageBytes: number) {
  const schema = emailSubmissionSchema(maxMessageBytes);
  return (raw: unknown, index: number): BatchItem | ProblemBody => {
    const at = `emails[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return validationProblem([{ field: at, message: 'must be an email object' }]).body;
    const { idempotencyKey, ...email } = raw as Record<string, unknown>;
    const errors: FieldError[] = [];
    const key = keySchema.safeParse(idempotencyKey);
    if (!key.success) errors.push({ field: `${at}.idempotencyKey`, message: key.error.issues[0]?.message ?? 'invalid' });
    const parsed = schema.safeParse(email);
    if (!parsed.success)
      errors.push(...parsed.error.issues.map((i) => ({ field: [at, ...i.path.map(String)].join('.'), message: i.message })));
    if (!parsed.success || !key.success) return validationProblem(errors).body;
    return { submission: parsed.data, idempotencyKey: key.data, requestHash: requestHash(JSON.stringify(email)) };
  };
}
