import { OpenAPIHono, type z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './deps';
import { fromZodError, Problem } from './problem';
import { JSON_LIMITS, jsonShapeReason } from '../shared';

/**
 * A router whose every validation (body, query, headers) goes through one hook: a failure
 * throws the one problem+json shape, naming each bad field.
 */
export function createRouter() {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) throw fromZodError(result.error, result.target);
    },
  });
}

/** Refuses a body over `maxBytes` with 413, before it is read whole. */
export function limitBody(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new Problem(413, 'payload-too-large', `The request body exceeds ${maxBytes} bytes`);
    },
  });
}

/** For bodies that may be left out: an empty body reads as `{}`, whatever its content type. */
export const emptyBodyIsObject: MiddlewareHandler = async (c, next) => {
  // Without a Content-Type (curl -X POST) the validator reads no body and validates {}; reading
  // it here would make the media-type check see one (on a real server) and answer 415.
  if (!c.req.header('content-type')) return next();
  // Hono keeps the pending body in bodyCache and parses JSON from its text.
  if ((await c.req.text()).trim() === '') (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve('{}');
  await next();
};

/** The bound of a small JSON body (the controls' reasons and filters). */
export const SMALL_BODY_BYTES = 64 * 1024;

const JSON_CONTENT_TYPE = /^application\/([a-z-.]+\+)?json/i;

/**
 * Refuses a JSON body that nests too deep or holds too many values (JSON_LIMITS), before it is
 * parsed and any schema walks it: the work and the error list of a validation stay bounded.
 * Hono keeps the text it read for the validator's parse.
 */
export const boundJsonShape =
  (maxValues: number = JSON_LIMITS.nodes): MiddlewareHandler =>
  async (c, next) => {
    if (JSON_CONTENT_TYPE.test(c.req.header('content-type') ?? '')) {
      const reason = jsonShapeReason(await c.req.text(), { ...JSON_LIMITS, nodes: maxValues });
      if (reason) throw new Problem(400, 'json-too-complex', 'The request body is too complex', { detail: reason });
    }
    await next();
  };

/**
 * What every route that reads a JSON body puts before its validator: the size limit (413), an
 * empty body read as {} where the body may be left out, and the shape bound. The JSON media type
 * itself is required by each route's declared content (415).
 */
export function jsonBody(maxBytes: number, options: { optional?: boolean; maxValues?: number } = {}): MiddlewareHandler[] {
  return [limitBody(maxBytes), ...(options.optional ? [emptyBodyIsObject] : []), boundJsonShape(options.maxValues)];
}

/** The request body of a route whose body may be left out (with jsonBody(..., { optional: true })). */
export const optionalJson = <T extends z.ZodType>(schema: T) => ({
  required: true,
  description: 'JSON; an empty body counts as {}',
  content: { 'application/json': { schema } },
});
