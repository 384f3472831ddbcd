import { startMetricsServer, type MetricsServer } from '../../src/metrics/server';
import { temporalRuntimeMetrics } from '../../src/telemetry/runtime';
import { TEMPORAL_METRICS_ON_DASHBOARD } from '../support/dashboard';
import { createHarness, validEmail, type Harness } from '../support/harness';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// /metrics scraped after real deliveries: the counts are those of what happened, by tenant,
// gateway, outcome and route pattern; no email id and no address in any label; the Temporal
// worker metrics merged in.

let h: Harness;
let receiver: WebhookReceiver;
let server: MetricsServer;

beforeAll(async () => {
  h = await createHarness({ webhooks: {} });
  receiver = await startWebhookReceiver();
  server = await startMetricsServer({
    registry: h.metrics.registry,
    host: '127.0.0.1',
    port: 0,
    more: () => temporalRuntimeMetrics(h.temporalMetricsAddress!),
  });
});

afterAll(async () => {
  await server?.stop();
  await h?.close();
  await receiver?.close();
});

/** `name{labels} value` lines as a map from the series to its value. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

test('after some deliveries, /metrics counts them by tenant, gateway, outcome and route', async () => {
  const hook = await h.request('/v1/webhooks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: ['email.sent'] }),
  });
  expect(hook.status).toBe(201);
  let dataCalls = 0;
  h.smtp.onData = () => (dataCalls++ === 0 ? { code: 451, message: '4.3.0 busy' } : undefined);
  h.smtp.onRcpt = (address) => (address === 'gone@example.org' ? { code: 550, message: '5.1.1 no such user' } : undefined);
  const post = async (overrides: Record<string, unknown>) => ((await (await h.post(validEmail(overrides))).json()) as any).id as string;
  const retried = await post({});
  await h.waitForStatus(retried, ['sent']);
  const sent = [retried, await post({}), await post({ to: ['bob@example.org'] })];
  const failed = await post({ to: ['gone@example.org'] });
  const scheduled = await post({ sendAt: new Date(Date.now() + 3_600_000).toISOString() });
  expect((await h.request(`/v1/emails/${scheduled}/cancel`, { method: 'POST' })).status).toBe(200);
  for (const id of sent) await h.waitForStatus(id, ['sent']);
  await h.waitForStatus(failed, ['failed']);
  await h.waitForStatus(scheduled, ['cancelled']);
  await receiver.waitFor((r) => r.json?.type === 'email.sent', 3);
  expect((await h.request('/no/such/route')).status).toBe(404);

  const tenant = `tenant="${h.tenantId}"`;
  const gateway = 'gateway="default"';
  const expected: Record<string, number> = {
    [`herald_emails_accepted_total{${tenant}}`]: 5,
    [`herald_emails_sent_total{${tenant},${gateway}}`]: 3,
    [`herald_emails_failed_total{${tenant},${gateway}}`]: 1,
    // Cancelled before any attempt: no gateway had it.
    [`herald_emails_cancelled_total{${tenant},gateway="none"}`]: 1,
    [`herald_smtp_attempts_total{${gateway},outcome="sent",reply_class="2xx"}`]: 3,
    [`herald_smtp_attempts_total{${gateway},outcome="transient",reply_class="4xx"}`]: 1,
    [`herald_smtp_attempts_total{${gateway},outcome="permanent",reply_class="5xx"}`]: 1,
    [`herald_email_accept_to_sent_seconds_count{${gateway}}`]: 3,
    // The cancelled email (scheduled for later) never had an attempt.
    [`herald_email_accept_to_first_attempt_seconds_count{${gateway}}`]: 4,
    'herald_webhook_deliveries_total{outcome="delivered"}': 3,
    herald_webhook_request_duration_seconds_count: 3,
    'herald_http_requests_total{method="POST",route="/v1/emails",status="202"}': 5,
    'herald_http_requests_total{method="POST",route="/v1/emails/:id/cancel",status="200"}': 1,
    'herald_http_requests_total{method="POST",route="/v1/webhooks",status="201"}': 1,
    'herald_http_requests_total{method="GET",route="unmatched",status="404"}': 1,
    'herald_http_request_duration_seconds_count{method="POST",route="/v1/emails",status="202"}': 5,
  };
  // Each count lands a moment after what it counts is visible (a status is in PostgreSQL before
  // its activity counts it, the receiver has a webhook before the worker records its response,
  // the Temporal worker's series appear after the workflows close): scrape until every series
  // has reached its count, then assert, so a count that overshoots or never arrives still fails.
  const complete = (t: string) => {
    const series = parse(t);
    return (
      Object.entries(expected).every(([name, count]) => (series.get(name) ?? 0) >= count) &&
      TEMPORAL_METRICS_ON_DASHBOARD.every((n) => t.includes(`\n${n}`))
    );
  };
  let text = '';
  for (let i = 0; i < 150 && !complete(text); i++) {
    text = await (await fetch(server.url)).text();
    if (!complete(text)) await new Promise((r) => setTimeout(r, 100));
  }
  const after = parse(text);
  for (const [name, count] of Object.entries(expected)) expect([name, after.get(name)]).toEqual([name, count]);

  // Bounded labels: no email id, no address, no raw path.
  for (const id of [...sent, failed, scheduled]) expect(text).not.toContain(id);
  expect(text).not.toMatch(/@/);
  expect(text).not.toContain('/no/such/route');
  // Every Herald series is herald_*; the Temporal worker's (merged in) too, those the dashboard reads among them.
  const names = [...after.keys()].map((s) => s.replace(/\{.*$/, ''));
  expect(names.filter((n) => !n.startsWith('herald_'))).toEqual([]);
  for (const name of TEMPORAL_METRICS_ON_DASHBOARD) expect(names).toContain(name);
});
