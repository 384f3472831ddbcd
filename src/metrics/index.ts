import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

// Herald's Prometheus metrics: one registry per process, every name starting with herald_, label
// values bounded (route patterns, tenants, gateways, outcomes; never an email id or an address).
// The API counts requests and accepted emails; the worker counts what its activities decide.

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 72 * 3600];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type SmtpAttemptOutcome = 'sent' | 'partial' | 'transient' | 'permanent' | 'uncertain';
export type WebhookDeliveryOutcome = 'delivered' | 'failed_attempt' | 'gave_up' | 'disabled';

/** 2xx, 4xx, 5xx from an SMTP reply code; `none` when no reply came (connection error, timeout). */
export function replyClass(code: number | null | undefined): string {
  return code && code >= 200 && code < 600 ? `${Math.floor(code / 100)}xx` : 'none';
}

export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'herald_' });
  const registers = [registry];
  const http = {
    requests: new Counter({
      name: 'herald_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'herald_http_request_duration_seconds',
      help: 'HTTP request durations',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };
  const emails = {
    accepted: new Counter({
      name: 'herald_emails_accepted_total',
      help: 'Emails accepted (202), by tenant',
      labelNames: ['tenant'],
      registers,
    }),
    sent: new Counter({
      name: 'herald_emails_sent_total',
      help: 'Emails that reached sent, by tenant and gateway',
      labelNames: ['tenant', 'gateway'],
      registers,
    }),
    failed: new Counter({
      name: 'herald_emails_failed_total',
      help: 'Emails that reached failed, by tenant and gateway',
      labelNames: ['tenant', 'gateway'],
      registers,
    }),
    cancelled: new Counter({
      name: 'herald_emails_cancelled_total',
      help: 'Emails that reached cancelled, by tenant and gateway',
      labelNames: ['tenant', 'gateway'],
      registers,
    }),
  };
  const smtpAttempts = new Counter({
    name: 'herald_smtp_attempts_total',
    help: 'SMTP attempts, by gateway, outcome (sent, partial, transient, permanent, uncertain) and reply class',
    labelNames: ['gateway', 'outcome', 'reply_class'],
    registers,
  });
  const acceptToSent = new Histogram({
    name: 'herald_email_accept_to_sent_seconds',
    help: 'From acceptance (or sendAt, for a scheduled email) to sent',
    labelNames: ['gateway'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const acceptToFirstAttempt = new Histogram({
    name: 'herald_email_accept_to_first_attempt_seconds',
    help: 'From acceptance (or sendAt, for a scheduled email) to the start of the first SMTP attempt',
    labelNames: ['gateway'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const webhooks = {
    deliveries: new Counter({
      name: 'herald_webhook_deliveries_total',
      help: 'Webhook delivery attempts and ends, by outcome (delivered, failed_attempt, gave_up, disabled)',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'herald_webhook_request_duration_seconds',
      help: 'Webhook HTTP requests, connection to answer',
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };
  const since = (at: Date) => Math.max(0, (Date.now() - at.getTime()) / 1000);

  return {
    registry,
    httpRequest(method: string, route: string, status: number, seconds: number): void {
      const labels = { method, route, status: String(status) };
      http.requests.inc(labels);
      http.duration.observe(labels, seconds);
    },
    emailAccepted(tenant: string): void {
      emails.accepted.inc({ tenant });
    },
    /** An email reached a terminal status (counted once: where the status was written). */
    emailEnded(tenant: string, gateway: string, status: 'sent' | 'failed' | 'cancelled', dueAt?: Date): void {
      emails[status].inc({ tenant, gateway });
      if (status === 'sent' && dueAt) acceptToSent.observe({ gateway }, since(dueAt));
    },
    smtpAttempt(gateway: string, outcome: SmtpAttemptOutcome, smtpCode: number | null | undefined): void {
      smtpAttempts.inc({ gateway, outcome, reply_class: replyClass(smtpCode) });
    },
    firstAttempt(gateway: string, dueAt: Date): void {
      acceptToFirstAttempt.observe({ gateway }, since(dueAt));
    },
    webhookDelivery(outcome: WebhookDeliveryOutcome, durationMs?: number): void {
      webhooks.deliveries.inc({ outcome });
      if (durationMs !== undefined) webhooks.duration.observe(durationMs / 1000);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Every metric name a registry exports (histograms with their _bucket, _sum and _count series). */
export function exportedNames(registry: Registry): string[] {
  return registry.getMetricsAsArray().flatMap((m) => {
    const type = (m as unknown as { type: string }).type;
    if (type === 'histogram') return [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`];
    if (type === 'summary') return [m.name, `${m.name}_sum`, `${m.name}_count`];
    return [m.name];
  });
}
