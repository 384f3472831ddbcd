import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './deps';
import { Problem } from './problem';

// The API's memory per request is bounded by the body limits; its memory in all is bounded by
// how many large bodies it holds at once. A 10 MiB email is a 14 MB JSON body and costs the API
// about 150 MiB at its peak (parsed, decoded, encoded for PostgreSQL; BENCHMARKS.md), so large
// bodies take turns.

/** A body over this size (or of unknown size: chunked) is large. */
export const LARGE_BODY_BYTES = 1024 * 1024;

export interface AdmissionOptions {
  /** Large bodies read and handled at once (MAX_CONCURRENT_LARGE_REQUESTS). */
  slots: number;
  /** Large requests that may wait for a turn; more are refused (429). */
  maxWaiting?: number;
  /** How long one waits for its turn before it is refused (429). */
  maxWaitMs?: number;
}

const busy = (detail: string) =>
  new Problem(
    429,
    'too-many-large-requests',
    'Too many large requests are being handled; try again shortly',
    { detail },
    { 'retry-after': '1' },
  );

/**
 * Lets at most `slots` large requests through at once, in arrival order; the others wait before a
 * byte of their body is read (the socket holds it). Small requests never wait.
 */
export function admitLargeBodies({ slots, maxWaiting = 256, maxWaitMs = 60_000 }: AdmissionOptions): MiddlewareHandler<ApiEnv> {
  let inFlight = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else inFlight--;
  };
  return async (c, next) => {
    const length = Number(c.req.header('content-length') ?? NaN);
    if (Number.isFinite(length) && length <= LARGE_BODY_BYTES) return next();
    if (inFlight < slots) inFlight++;
    else {
      if (queue.length >= maxWaiting) throw busy(`${queue.length} large requests are waiting already`);
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          queue.splice(queue.indexOf(turn), 1);
          reject(busy(`no turn within ${maxWaitMs} ms`));
        }, maxWaitMs);
        queue.push(turn);
      });
    }
    try {
      await next();
    } finally {
      release();
    }
  };
}
