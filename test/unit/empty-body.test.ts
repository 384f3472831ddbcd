import { serve } from '@hono/node-server';
import { createRoute, z } from '@hono/zod-openapi';
import type { AddressInfo } from 'node:net';
import { toProblem } from '../../src/api/problem';
import { createRouter, emptyBodyIsObject } from '../../src/api/router';

// A control whose body may be left out, over a real HTTP server (app.request() builds requests
// without a body stream and cannot show this): `curl -X POST` sends neither body nor
// Content-Type, and must not get a 415.

let server: ReturnType<typeof serve>;
let url: string;
beforeAll(async () => {
  const app = createRouter();
  for (const required of [true, false]) {
    const route = createRoute({
      method: 'post',
      path: `/required-${required}`,
      middleware: [emptyBodyIsObject],
      request: { body: { required, content: { 'application/json': { schema: z.object({ reason: z.string().optional() }).strict() } } } },
      responses: { 200: { description: 'ok' } },
    });
    app.openapi(route, (c) => c.json(c.req.valid('json'), 200) as never);
  }
  app.onError((err) => toProblem(err)!.toResponse());
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test.each([true, false])('body required: %s', async (required) => {
  const post = async (init: RequestInit) => {
    const res = await fetch(`${url}/required-${required}`, { method: 'POST', ...init });
    return [res.status, await res.json()];
  };
  expect(await post({})).toEqual([200, {}]);
  expect(await post({ headers: { 'content-type': 'application/json' } })).toEqual([200, {}]);
  expect(await post({ headers: { 'content-type': 'application/json' }, body: '{"reason":"r"}' })).toEqual([200, { reason: 'r' }]);
  expect((await post({ headers: { 'content-type': 'text/plain' }, body: 'x' }))[0]).toBe(415);
  expect((await post({ headers: { 'content-type': 'application/json' }, body: '{"other":1}' }))[0]).toBe(400);
});
