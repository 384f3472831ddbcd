import { z } from 'zod';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_GATEWAY, GATEWAY_NAME, type DeliveryPolicy, type WebhookPolicy } from './shared';
import type { WebhookTargetPolicy } from './webhooks/url-rule';
import { DEFAULT_CAMPAIGN_SETTINGS } from './campaigns/settings';
import { MIN_UNSUBSCRIBE_SECRET_LENGTH, type UnsubscribeLinks } from './campaigns/unsubscribe';

// Environment is parsed once, at boot, into this typed object. Nothing else reads process.env.

const duration = (fallbackMs: number) => z.coerce.number().int().positive().default(fallbackMs);
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Where `npm start` listens for SMTP submission when SMTP_SUBMISSION_PORT is unset (587 is production's). */
export const DEV_SMTP_SUBMISSION_PORT = 2587;
/** An unset variable and an empty one (compose's `${VAR:-}`) both mean "not configured". */
const optionalPort = z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional());
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/herald';
/** When `npm start` runs its own PostgreSQL (src/dev/default-database.ts); the other entry points never do. */
export type EmbeddedPostgresMode = 'always' | 'never' | 'when-nothing-answers';

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Loopback unless told otherwise: a container sets HOST=0.0.0.0. */
  HOST: z.string().default('127.0.0.1'),
  // Unset: the default URL, or (npm start only) an embedded PostgreSQL when nothing answers there.
  // `embedded`: always the embedded PostgreSQL (npm start only), data in HERALD_DATA_DIR/postgres.
  DATABASE_URL: z.string().optional(),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(15432),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('herald-email'),
  TEMPORAL_CLI: z.string().optional(),
  TEMPORAL_PORT: z.coerce.number().int().default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().default(8233),
  HERALD_DATA_DIR: z.string().default('./.herald'),
  /** One gateway, named `default`. */
  SMTP_URL: z.string().optional(),
  /** Several gateways: a JSON array of { name, url, priority, ratePerSecond?, maxConnections? }. */
  SMTP_GATEWAYS: z.string().optional(),
  /** The same JSON in a file (keeps credentials out of the environment). */
  SMTP_GATEWAYS_FILE: z.string().optional(),
  SMTP_POOL_MAX_CONNECTIONS: z.coerce.number().int().positive().default(5),
  /** A gateway's circuit opens after this many connection-level failures in a row (per worker)... */
  SMTP_BREAKER_FAILURES: z.coerce.number().int().positive().default(5),
  /** ...and stays open this long before one attempt probes it. */
  SMTP_BREAKER_COOLDOWN_MS: duration(30 * SECOND),
  DEV_SMTP_PORT: z.coerce.number().int().default(2525),
  MESSAGE_ID_DOMAIN: z.string().default('herald.localhost'),
  /** Decoded size of all attachments plus bodies of one email. */
  MAX_MESSAGE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** Request bodies over 1 MiB the API reads and handles at once; more wait their turn (memory: BENCHMARKS.md). */
  MAX_CONCURRENT_LARGE_REQUESTS: z.coerce.number().int().positive().default(4),
  // Delivery policy defaults: exponential backoff from 1 min, doubling, capped at 1 h, for 72 h
  // (SendGrid's window; RFC 5321 suggests 4-5 days, which operators may choose).
  // SMTP submission (src/submission): a listener in the API process. Unset port: none (npm start:
  // DEV_SMTP_SUBMISSION_PORT). STARTTLS (and the implicit TLS port) needs a certificate and key.
  SMTP_SUBMISSION_PORT: optionalPort,
  SMTP_SUBMISSION_TLS_PORT: optionalPort,
  SMTP_SUBMISSION_TLS_CERT_FILE: optionalString,
  SMTP_SUBMISSION_TLS_KEY_FILE: optionalString,
  /** The raw message as submitted (announced with SIZE); default: the API's body limit, 1.4 x MAX_MESSAGE_BYTES. */
  SMTP_SUBMISSION_MAX_MESSAGE_BYTES: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().positive().optional()),
  SMTP_SUBMISSION_MAX_RECIPIENTS: z.coerce.number().int().positive().default(100),
  SMTP_SUBMISSION_MAX_CONNECTIONS: z.coerce.number().int().positive().default(100),
  SMTP_SUBMISSION_MAX_CONNECTIONS_PER_TENANT: z.coerce.number().int().positive().default(10),
  SMTP_SUBMISSION_IDLE_TIMEOUT_MS: duration(MINUTE),
  SMTP_SUBMISSION_DATA_TIMEOUT_MS: duration(5 * MINUTE),
  RETRY_INITIAL_INTERVAL_MS: duration(MINUTE),
  RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).default(2),
  RETRY_MAX_INTERVAL_MS: duration(HOUR),
  RETRY_GIVE_UP_AFTER_MS: duration(72 * HOUR),
  SMTP_ATTEMPT_TIMEOUT_MS: duration(2 * MINUTE),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().positive().default(100),
  /** A campaign's sliding window: at most this many of its emails unfinished at once. */
  CAMPAIGN_WINDOW: z.coerce.number().int().positive().default(200),
  /** Recipients handed to delivery by one paging activity, at most. */
  CAMPAIGN_PAGE_SIZE: z.coerce.number().int().positive().max(1000).default(100),
  /** One recipient upload (CSV or NDJSON), in bytes. */
  CAMPAIGN_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  /** Recipients of one campaign, all uploads together. */
  CAMPAIGN_MAX_RECIPIENTS: z.coerce.number().int().positive().default(1_000_000),
  // One-click unsubscribe links in campaign emails (RFC 8058): both set, or neither (links off).
  /** Where the API is reached from the internet (https://mail.example.com): the links point there. */
  PUBLIC_URL: optionalString,
  /** The HMAC key of the links, at least 32 characters; keep it: changing it breaks the links already sent. */
  UNSUBSCRIBE_SECRET: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** auto: readable on a terminal, JSON lines elsewhere. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  // Prometheus: /metrics of the API process and of the worker process (npm start: one, on METRICS_PORT).
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port(9464),
  WORKER_METRICS_PORT: port(9465),
  /** Core's own exporter (merged into the worker's /metrics); unset: a free loopback port. */
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  // Webhooks. Unset, the two target flags are false, except under `npm start` (development).
  WEBHOOK_ALLOW_PRIVATE_TARGETS: flag.optional(),
  WEBHOOK_ALLOW_HTTP: flag.optional(),
  WEBHOOK_TIMEOUT_MS: duration(10 * SECOND),
  WEBHOOK_RETRY_INITIAL_INTERVAL_MS: duration(10 * SECOND),
  WEBHOOK_RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).default(2),
  WEBHOOK_RETRY_MAX_INTERVAL_MS: duration(HOUR),
  WEBHOOK_RETRY_GIVE_UP_AFTER_MS: duration(72 * HOUR),
  WEBHOOK_DISABLE_AFTER_MS: duration(5 * DAY),
  WEBHOOK_DELAYED_EVERY_MS: duration(HOUR),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().positive().max(100).default(10),
  WEBHOOK_POLL_INTERVAL_MS: duration(SECOND),
  WEBHOOK_MAX_ENDPOINTS_PER_TENANT: z.coerce.number().int().positive().default(20),
  WORKER_MAX_CONCURRENT_WEBHOOK_ACTIVITIES: z.coerce.number().int().positive().default(100),
});

export type Config = ReturnType<typeof parseConfig>;

const GatewaySchema = z
  .object({
    name: z.string().regex(GATEWAY_NAME, 'must be 1-63 lower-case letters, digits, - and _'),
    url: z.string().refine((u) => {
      try {
        return ['smtp:', 'smtps:'].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    }, 'must be an smtp:// or smtps:// URL'),
    /** Lower first (like MX preference). */
    priority: z.number().int(),
    /** Attempts per second through this gateway, across every worker (a server-side task queue limit). */
    ratePerSecond: z.number().positive().optional(),
    /** Pooled connections per worker (default SMTP_POOL_MAX_CONNECTIONS). */
    maxConnections: z.number().int().positive().optional(),
  })
  .strict();

/** One SMTP gateway as the worker knows it; only its name ever leaves the worker. */
export type GatewayConfig = z.infer<typeof GatewaySchema>;

const GatewayListSchema = z
  .array(GatewaySchema)
  .min(1, 'needs at least one gateway')
  .refine((list) => new Set(list.map((g) => g.name)).size === list.length, 'gateway names must be unique');

/**
 * Parses a gateway list. Messages name the variable and the field, never the value: a URL
 * holds credentials.
 */
export function parseGateways(json: string, variable: string): GatewayConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(`Invalid configuration: ${variable}: not valid JSON`);
  }
  const parsed = GatewayListSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${[variable, ...i.path].join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  // Lower priority first; the order of the list breaks ties.
  return parsed.data
    .map((g, i) => ({ g, i }))
    .sort((a, b) => a.g.priority - b.g.priority || a.i - b.i)
    .map(({ g }) => g);
}

/** SMTP_GATEWAYS (or its file) wins over SMTP_URL; neither: undefined (npm start's development sink). */
function gatewaysOf(e: { SMTP_URL?: string; SMTP_GATEWAYS?: string; SMTP_GATEWAYS_FILE?: string }): GatewayConfig[] | undefined {
  if (e.SMTP_GATEWAYS && e.SMTP_GATEWAYS_FILE) throw new Error('Invalid configuration: set SMTP_GATEWAYS or SMTP_GATEWAYS_FILE, not both');
  if (e.SMTP_GATEWAYS_FILE) {
    let text: string;
    try {
      text = readFileSync(e.SMTP_GATEWAYS_FILE, 'utf8');
    } catch (err) {
      throw new Error(
        `Invalid configuration: SMTP_GATEWAYS_FILE: cannot read ${e.SMTP_GATEWAYS_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: err },
      );
    }
    return parseGateways(text, 'SMTP_GATEWAYS_FILE');
  }
  if (e.SMTP_GATEWAYS) return parseGateways(e.SMTP_GATEWAYS, 'SMTP_GATEWAYS');
  if (e.SMTP_URL) {
    const one = GatewaySchema.safeParse({ name: DEFAULT_GATEWAY, url: e.SMTP_URL, priority: 0 });
    if (!one.success) throw new Error('Invalid configuration: SMTP_URL: must be an smtp:// or smtps:// URL');
    return [one.data];
  }
  return undefined;
}

/** PUBLIC_URL and UNSUBSCRIBE_SECRET: both (a URL of http or https, a long enough key) or neither. */
function unsubscribeLinksOf(publicUrl: string | undefined, secret: string | undefined): UnsubscribeLinks | undefined {
  if (publicUrl === undefined && secret === undefined) return undefined;
  if (publicUrl === undefined || secret === undefined) {
    throw new Error('Invalid configuration: PUBLIC_URL and UNSUBSCRIBE_SECRET go together (one-click unsubscribe links)');
  }
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error('Invalid configuration: PUBLIC_URL: must be an http:// or https:// URL');
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username || url.password) {
    throw new Error('Invalid configuration: PUBLIC_URL: must be an http:// or https:// URL, without query, fragment or credentials');
  }
  if (secret.length < MIN_UNSUBSCRIBE_SECRET_LENGTH) {
    throw new Error(`Invalid configuration: UNSUBSCRIBE_SECRET: must be at least ${MIN_UNSUBSCRIBE_SECRET_LENGTH} characters`);
  }
  return { publicUrl: `${url.origin}${url.pathname}`.replace(/\/+$/, ''), secret };
}

/** Every environment variable Herald reads. */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape);

export function parseConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  // Temporal refuses a RetryPolicy whose maximum is below its initial interval: catch it at boot,
  // not in every workflow.
  if (e.RETRY_MAX_INTERVAL_MS < e.RETRY_INITIAL_INTERVAL_MS) {
    throw new Error('Invalid configuration: RETRY_MAX_INTERVAL_MS must be at least RETRY_INITIAL_INTERVAL_MS');
  }
  const certFile = e.SMTP_SUBMISSION_TLS_CERT_FILE;
  const keyFile = e.SMTP_SUBMISSION_TLS_KEY_FILE;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error('Invalid configuration: SMTP_SUBMISSION_TLS_CERT_FILE and SMTP_SUBMISSION_TLS_KEY_FILE go together');
  }
  if (e.SMTP_SUBMISSION_TLS_PORT !== undefined && certFile === undefined) {
    throw new Error('Invalid configuration: SMTP_SUBMISSION_TLS_PORT needs SMTP_SUBMISSION_TLS_CERT_FILE and SMTP_SUBMISSION_TLS_KEY_FILE');
  }
  const unsubscribe = unsubscribeLinksOf(e.PUBLIC_URL, e.UNSUBSCRIBE_SECRET);
  const policy: DeliveryPolicy = {
    initialIntervalMs: e.RETRY_INITIAL_INTERVAL_MS,
    backoffCoefficient: e.RETRY_BACKOFF_COEFFICIENT,
    maximumIntervalMs: e.RETRY_MAX_INTERVAL_MS,
    giveUpAfterMs: e.RETRY_GIVE_UP_AFTER_MS,
    attemptTimeoutMs: e.SMTP_ATTEMPT_TIMEOUT_MS,
  };
  if (e.WEBHOOK_RETRY_MAX_INTERVAL_MS < e.WEBHOOK_RETRY_INITIAL_INTERVAL_MS) {
    throw new Error('Invalid configuration: WEBHOOK_RETRY_MAX_INTERVAL_MS must be at least WEBHOOK_RETRY_INITIAL_INTERVAL_MS');
  }
  const webhookPolicy: WebhookPolicy = {
    initialIntervalMs: e.WEBHOOK_RETRY_INITIAL_INTERVAL_MS,
    backoffCoefficient: e.WEBHOOK_RETRY_BACKOFF_COEFFICIENT,
    maximumIntervalMs: e.WEBHOOK_RETRY_MAX_INTERVAL_MS,
    giveUpAfterMs: e.WEBHOOK_RETRY_GIVE_UP_AFTER_MS,
    timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    concurrency: e.WEBHOOK_CONCURRENCY,
  };
  const embeddedPostgresMode: EmbeddedPostgresMode =
    e.DATABASE_URL === 'embedded' ? 'always' : e.DATABASE_URL ? 'never' : 'when-nothing-answers';
  return {
    http: { port: e.PORT, host: e.HOST },
    databaseUrl: e.DATABASE_URL && e.DATABASE_URL !== 'embedded' ? e.DATABASE_URL : DEFAULT_DATABASE_URL,
    embeddedPostgres: { mode: embeddedPostgresMode, port: e.EMBEDDED_POSTGRES_PORT },
    databasePoolMax: e.DATABASE_POOL_MAX,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cli: e.TEMPORAL_CLI,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
    },
    dataDir: path.resolve(e.HERALD_DATA_DIR),
    smtp: {
      /** In priority order; undefined when none is configured (npm start runs a development sink). */
      gateways: gatewaysOf(e),
      /** SMTP_URL was set but SMTP_GATEWAYS (or its file) took its place: the worker says so at start. */
      urlIgnored: Boolean(e.SMTP_URL && (e.SMTP_GATEWAYS || e.SMTP_GATEWAYS_FILE)),
      maxConnections: e.SMTP_POOL_MAX_CONNECTIONS,
      devPort: e.DEV_SMTP_PORT,
      breaker: { failures: e.SMTP_BREAKER_FAILURES, coolDownMs: e.SMTP_BREAKER_COOLDOWN_MS },
    },
    messageIdDomain: e.MESSAGE_ID_DOMAIN,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    submission: {
      port: e.SMTP_SUBMISSION_PORT,
      tlsPort: e.SMTP_SUBMISSION_TLS_PORT,
      tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
      maxMessageBytes: e.SMTP_SUBMISSION_MAX_MESSAGE_BYTES ?? Math.ceil(e.MAX_MESSAGE_BYTES * 1.4),
      maxRecipients: e.SMTP_SUBMISSION_MAX_RECIPIENTS,
      maxConnections: e.SMTP_SUBMISSION_MAX_CONNECTIONS,
      maxConnectionsPerTenant: e.SMTP_SUBMISSION_MAX_CONNECTIONS_PER_TENANT,
      idleTimeoutMs: e.SMTP_SUBMISSION_IDLE_TIMEOUT_MS,
      dataTimeoutMs: e.SMTP_SUBMISSION_DATA_TIMEOUT_MS,
    },
    maxConcurrentLargeRequests: e.MAX_CONCURRENT_LARGE_REQUESTS,
    policy,
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    },
    campaigns: {
      ...DEFAULT_CAMPAIGN_SETTINGS,
      window: e.CAMPAIGN_WINDOW,
      pageSize: e.CAMPAIGN_PAGE_SIZE,
      uploadMaxBytes: e.CAMPAIGN_UPLOAD_MAX_BYTES,
      maxRecipients: e.CAMPAIGN_MAX_RECIPIENTS,
    },
    /** Undefined: campaign emails carry no List-Unsubscribe header and /unsubscribe answers 404. */
    unsubscribe,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    metrics: { host: e.METRICS_HOST, apiPort: e.METRICS_PORT, workerPort: e.WORKER_METRICS_PORT, temporalPort: e.TEMPORAL_METRICS_PORT },
    webhooks: {
      targets: {
        allowHttp: e.WEBHOOK_ALLOW_HTTP ?? false,
        allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? false,
      } as WebhookTargetPolicy,
      /** What the operator set; `npm start` allows what is left unset (developmentTargets). */
      explicitTargets: { allowHttp: e.WEBHOOK_ALLOW_HTTP, allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS },
      policy: webhookPolicy,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_MS,
      delayedEveryMs: e.WEBHOOK_DELAYED_EVERY_MS,
      pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
      maxEndpointsPerTenant: e.WEBHOOK_MAX_ENDPOINTS_PER_TENANT,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_WEBHOOK_ACTIVITIES,
    },
  };
}

/** `npm start` (development) allows http and private targets unless the operator said otherwise. */
export function developmentTargets(config: Config): WebhookTargetPolicy {
  const { allowHttp, allowPrivateTargets } = config.webhooks.explicitTargets;
  return { allowHttp: allowHttp ?? true, allowPrivateTargets: allowPrivateTargets ?? true };
}
