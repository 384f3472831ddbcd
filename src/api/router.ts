import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './deps';
import { fromZodError, Problem } from './problem';

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
