import http from 'node:http';

// Load on Herald's HTTP API. Closed loop: autocannon, C connections each sending its next POST
// when the previous answer arrives, N in all. Open loop: a paced generator that sends at a fixed
// offered rate whatever the answers do, and times each request from the moment it was due (so a
// slow answer is not hidden by sending less: no coordinated omission).

export const EMAIL_BODY = JSON.stringify({
  from: { email: 'bench@herald.test', name: 'Herald Bench' },
  to: ['rcpt@example.org'],
  subject: 'Herald benchmark',
  text: 'A small message of the kind a transactional email service sends all day.\n'.repeat(8),
  metadata: { tags: ['bench'] },
});

/** One accepted email: its id and when the 202 arrived (epoch ms). */
export interface Accepted {
  id: string;
  at: number;
}

export interface LoadResult {
  accepted: Accepted[];
  /** Answers other than 202, by status (0 = transport error or timeout). */
  errors: Record<string, number>;
  /** API latencies in ms (open loop: from when each request was due). */
  latenciesMs: number[];
  startedAt: number;
  endedAt: number;
}

type Autocannon = (opts: Record<string, unknown>) => Promise<{
  latency: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}>;

/** Where the load goes: the API's base URL and the key it sends. */
export interface ApiTarget {
  url: string;
  key: string;
}

export async function closedLoop(api: ApiTarget, total: number, connections: number): Promise<LoadResult & { p50: number; p99: number }> {
  const autocannon = require('autocannon') as Autocannon;
  const accepted: Accepted[] = [];
  const errors: Record<string, number> = {};
  const startedAt = Date.now();
  const result = await autocannon({
    url: `${api.url}/v1/emails`,
    connections,
    amount: total,
    timeout: 30,
    renderProgressBar: false,
    renderLatencyTable: false,
    renderResultsTable: false,
    requests: [
      {
        method: 'POST',
        path: '/v1/emails',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${api.key}` },
        body: EMAIL_BODY,
        onResponse: (status: number, body: string) => {
          if (status === 202) accepted.push({ id: (JSON.parse(body) as { id: string }).id, at: Date.now() });
          else errors[status] = (errors[status] ?? 0) + 1;
        },
      },
    ],
  });
  const endedAt = Date.now();
  if (result.errors + result.timeouts > 0) errors['0'] = (errors['0'] ?? 0) + result.errors + result.timeouts;
  return { accepted, errors, latenciesMs: [], startedAt, endedAt, p50: result.latency.p50, p99: result.latency.p99 };
}

/**
 * Offers `rate` POSTs per second for `seconds`, evenly spaced, on a keep-alive pool of at most
 * `maxSockets` connections (requests beyond that wait in the agent, and their wait counts).
 * `live` receives each accepted email as its answer arrives.
 */
export async function openLoop(
  api: ApiTarget,
  rate: number,
  seconds: number,
  maxSockets = 256,
  live: Accepted[] = [],
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const url = new URL(`${api.url}/v1/emails`);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const body = Buffer.from(EMAIL_BODY);
  const accepted = live; // filled as answers arrive, so the caller can watch the backlog
  const errors: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const total = Math.round(rate * seconds);
  const startedAt = Date.now();
  const t0 = performance.now();
  let sent = 0;
  let inFlight = 0;
  let finish!: () => void;
  const allDone = new Promise<void>((resolve) => (finish = resolve));

  const send = (dueAt: number) => {
    inFlight++;
    const done = (status: number, text: string) => {
      latenciesMs.push(performance.now() - dueAt);
      if (status === 202) accepted.push({ id: (JSON.parse(text) as { id: string }).id, at: Date.now() });
      else errors[status] = (errors[status] ?? 0) + 1;
      if (--inFlight === 0 && sent === total) finish();
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        timeout: 30_000,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${api.key}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(0, ''));
    req.end(body);
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * rate) + 1);
      while (sent < due) send(t0 + (sent++ * 1000) / rate);
      if (sent < total) setTimeout(tick, Math.max(1, Math.min(10, t0 + (sent * 1000) / rate - performance.now())));
      else resolve();
    };
    tick();
  });
  if (inFlight > 0) await allDone;
  agent.destroy();
  return { accepted, errors, latenciesMs, startedAt, endedAt: Date.now() };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
