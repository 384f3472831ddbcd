import { Hono } from 'hono';
import { admitLargeBodies, LARGE_BODY_BYTES } from '../../src/api/admission';
import { Problem } from '../../src/api/problem';

// Large bodies take turns (the API's memory stays bounded); small ones never wait.

function app(slots: number, options: { maxWaiting?: number; maxWaitMs?: number } = {}) {
  let inside = 0;
  let most = 0;
  const gates: Array<() => void> = [];
  const hono = new Hono();
  hono.onError((err) => (err instanceof Problem ? err.toResponse() : new Response('boom', { status: 500 })));
  hono.post('/', admitLargeBodies({ slots, ...options }), async (c) => {
    most = Math.max(most, ++inside);
    await new Promise<void>((resolve) => gates.push(resolve));
    inside--;
    return c.text('ok');
  });
  const post = (bytes?: number) =>
    hono.request('/', { method: 'POST', headers: bytes === undefined ? {} : { 'content-length': String(bytes) }, body: 'x' });
  const openAll = async () => {
    while (gates.length) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { post, openAll, most: () => most, waiting: () => gates.length };
}

test('at most `slots` large requests at once; the others wait their turn and all get through', async () => {
  const a = app(2);
  const answers = Array.from({ length: 6 }, () => a.post(LARGE_BODY_BYTES + 1));
  await new Promise((r) => setTimeout(r, 20));
  expect(a.waiting()).toBe(2);
  for (let i = 0; i < 6; i++) {
    await a.openAll();
    await new Promise((r) => setTimeout(r, 5));
  }
  expect((await Promise.all(answers)).map((r) => r.status)).toEqual(Array(6).fill(200));
  expect(a.most()).toBe(2);
});

test('a body of unknown size counts as large; a small one never waits', async () => {
  const a = app(1);
  const large = a.post();
  const small = a.post(100);
  await new Promise((r) => setTimeout(r, 20));
  expect(a.waiting()).toBe(2);
  await a.openAll();
  expect((await Promise.all([large, small])).map((r) => r.status)).toEqual([200, 200]);
});

test('over the queue bound, or after the wait, a large request gets 429 with Retry-After', async () => {
  const a = app(1, { maxWaiting: 1, maxWaitMs: 50 });
  const first = a.post(LARGE_BODY_BYTES * 2);
  const second = a.post(LARGE_BODY_BYTES * 2);
  const third = await a.post(LARGE_BODY_BYTES * 2);
  expect(third.status).toBe(429);
  expect(third.headers.get('retry-after')).toBe('1');
  expect(((await third.json()) as any).type).toMatch(/too-many-large-requests$/);
  expect((await second).status).toBe(429);
  await a.openAll();
  expect((await first).status).toBe(200);
});
