import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

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

  constructor(status: ContentfulStatusCode, slug: string, title: string, extra: Omit<Partial<ProblemBody>, 'type' | 'title' | 'status'> = {}) {
    super(status, { message: title });
    this.body = { type: `https://herald.dev/problems/${slug}`, title, status, ...extra };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body), {
      status: this.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    });
  }
}

export const validationProblem = (errors: FieldError[]) =>
  new Problem(400, 'validation-error', 'The request is not valid', {
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });

export const notFound = (what: string) => new Problem(404, 'not-found', `${what} not found`);
