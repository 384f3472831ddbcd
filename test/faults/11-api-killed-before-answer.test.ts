import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { submitStream } from './lib/load';
import { useFaultStack } from './lib/stack';
import { startDropProxy, type DropProxy } from './lib/tcp-proxy';

// The API is SIGKILLed after it has stored the email and started its workflow, before its
// answer reaches the client: a proxy in front of it swallows the response of chosen requests
// and kills the API process as the answer starts; the API is then started again. The client
// retries with the same Idempotency-Key and gets the same email back: one email, one copy.

const SLUG = '11-api-killed-before-answer';
const EMAILS = 20;
const DROP = new Set([3, 8, 13, 18]);
const indexOfKey = (key: string) => Number(key.slice(key.lastIndexOf('-') + 1));

const scenario = useFaultStack(SLUG, { gateway: smtpSink() });
let proxy: DropProxy | undefined;

beforeAll(async () => {
  const dropped = new Set<string>();
  proxy = await startDropProxy({
    upstreamPort: scenario.stack.apiPort,
    shouldDrop: (key) => DROP.has(indexOfKey(key)) && !dropped.has(key) && (dropped.add(key), true),
    onDrop: async () => {
      await scenario.stack.killApi('SIGKILL');
      await scenario.stack.startApi();
    },
  });
});

afterAll(async () => {
  await proxy?.close();
});

test('API killed after starting the workflow, before answering; client retries with the same key: one email', async () => {
  const startedAt = Date.now();
  const subs = await submitStream({
    scenario: SLUG,
    baseUrl: () => proxy!.url,
    apiKey: scenario.stack.apiKey,
    count: EMAILS,
    intervalMs: 300,
  });
  await proxy!.settled();
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'API killed before it answered',
    peer: 'smtp-sink',
    fault: `API SIGKILLed as it starts answering ${DROP.size} of the POSTs (a proxy swallows the answer), then restarted; the client retries with the same Idempotency-Key`,
    startedAt,
    recoveredAt: Date.now(),
    recoveryWindowMs: 30_000,
    notes: [`responses swallowed: ${proxy!.dropped.length}; replayed 202s: ${subs.filter((s) => s.replayed).length}`],
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  expect(proxy!.dropped.map((d) => indexOfKey(d.key)).sort((a, b) => a - b)).toEqual([...DROP]);
  for (const d of proxy!.dropped) {
    const sub = subs.find((s) => s.key === d.key)!;
    // The API had answered 202 when it was killed: the work was done before the answer.
    expect(d.response).toMatch(/^HTTP\/1\.1 202/);
    // The retry found the email created by the killed API: same id, marked replayed.
    expect(sub.replayed).toBe(true);
    expect(sub.tries).toBeGreaterThanOrEqual(2);
    const lostId = /"id":"([0-9a-f-]{36})"/.exec(d.response)?.[1];
    if (lostId) expect(sub.id).toBe(lostId);
  }
  for (const email of report.emails) {
    expect(email.copies).toBe(1);
    expect(email.attempts).toEqual([expect.objectContaining({ outcome: 'sent' })]);
  }
});
