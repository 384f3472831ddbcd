import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { DeliveryError, type DeliveryErrorCode } from '../deliveries/errors';
import { isTemporalOutage } from '../deliveries/workflows';

// One error shape for the whole API: RFC 9457 problem details, served as application/problem+json.

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export class Problem extends HTTPException {
  readonly body: ProblemBody;

  constructor(
    status: ContentfulStatusCode,
    slug: string,
    title: string,
    extra: Omit<Partial<ProblemBody>, 'type' | 'title' | 'status'> = {},
    /** Headers the answer carries (Retry-After, WWW-Authenticate, RateLimit). */
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message: title });
    this.body = { type: `https://herald.dev/problems/${slug}`, title, status, ...extra };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body), {
      status: this.status,
      headers: { ...this.headers, 'content-type': PROBLEM_CONTENT_TYPE },
    });
  }
}

export const validationProblem = (errors: FieldError[]) =>
  new Problem(400, 'validation-error', 'The request is not valid', {
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });

/** At most this many field errors in one answer (the detail says how many more there were). */
export const MAX_FIELD_ERRORS = 50;

type Issue = ZodError['issues'][number];

/** Whether a union's option failed only because the value is of another type (not the option meant). */
function isTypeMismatch(issues: readonly Issue[]): boolean {
  return issues.every(
    (i) => i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_union' && i.errors.every(isTypeMismatch))),
  );
}

/**
 * A union that failed is reported by the one option of the value's type ("an address or an
 * object": the object's bad field), so the caller learns which field is wrong, not only that
 * the union did not match.
 */
function explain(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const meant = issue.errors.filter((option) => !isTypeMismatch(option));
  if (meant.length !== 1) return [issue];
  return meant[0].flatMap((i) => explain({ ...i, path: [...issue.path, ...i.path] } as Issue));
}

/** Every issue of a failed validation (the first MAX_FIELD_ERRORS), named by its path in the body, query or headers. */
export function fromZodError(error: ZodError, target: string): Problem {
  const where = target === 'json' ? '(body)' : `(${target})`;
  // Header names as people write them (Idempotency-Key), not as Node lower-cases them.
  const name = (path: PropertyKey[]) => {
    const field = path.map(String).join('.');
    return target === 'header' ? field.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()) : field;
  };
  const issues = error.issues.flatMap(explain);
  const errors = issues.slice(0, MAX_FIELD_ERRORS).map((i) => ({ field: name(i.path) || where, message: i.message }));
  const problem = validationProblem(errors);
  const more = issues.length - errors.length;
  if (more > 0) problem.body.detail += `; and ${more} more`;
  return problem;
}

const DELIVERY_ERROR_STATUS: Record<DeliveryErrorCode, ContentfulStatusCode> = {
  'not-found': 404,
  'email-finished': 409,
  'not-applicable': 409,
  'not-failed': 409,
  'still-running': 409,
  'idempotency-key-reused': 422,
  'sender-not-allowed': 403,
  'quota-exceeded': 429,
  'temporal-unavailable': 503,
  'campaign-finished': 409,
  'campaign-not-draft': 409,
  'no-recipients': 409,
  'too-many-recipients': 413,
  'upload-too-large': 413,
  'invalid-upload': 400,
  'webhook-target-refused': 422,
  'webhook-limit-reached': 409,
};

/** The answer to any error a handler throws: a Problem as it is, a refusal of the service, or 500. */
export function toProblem(err: unknown): Problem | undefined {
  if (err instanceof Problem) return err;
  if (err instanceof DeliveryError) {
    const { retryAfterS, quota, ...extra } = err.details;
    const headers: Record<string, string> =
      retryAfterS !== undefined
        ? { 'retry-after': String(retryAfterS), ...rateLimitHeaders('daily', quota ?? 0, 86_400, 0, retryAfterS) }
        : {};
    return new Problem(DELIVERY_ERROR_STATUS[err.code], err.code, err.message, JSON.parse(JSON.stringify(extra)), headers);
  }
  if (err instanceof HTTPException) {
    if (err.status === 415) return new Problem(415, 'unsupported-media-type', 'Content-Type must be application/json');
    if (err.status === 400 && /malformed json/i.test(err.message))
      return new Problem(400, 'malformed-json', 'The request body is not valid JSON');
    return new Problem(err.status as ContentfulStatusCode, 'http-error', err.message || 'Request failed');
  }
  // Not the request's fault, and not Herald's: the caller may try again.
  if (isTemporalOutage(err))
    return new Problem(503, 'temporal-unavailable', 'The Temporal server cannot be reached; try again', {}, { 'retry-after': '5' });
  return undefined;
}

/**
 * The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the policy (quota `q` per
 * window of `w` seconds) and where the caller stands (`r` left, reset in `t` seconds).
 */
export function rateLimitHeaders(
  policy: string,
  quota: number,
  windowS: number,
  remaining: number,
  resetS: number,
): Record<string, string> {
  return { 'ratelimit-policy': `"${policy}";q=${quota};w=${windowS}`, ratelimit: `"${policy}";r=${remaining};t=${resetS}` };
}
