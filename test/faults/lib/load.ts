import http from 'node:http';
import { END_MARKER } from './gateways';
import { sleep } from '../../support/process';

// The client side of every scenario: a stream of emails, each POSTed with an Idempotency-Key of
// its own and POSTed again, with the same key and body, after a network error or a 5xx, the
// way Herald's API asks a client to retry. A 202 is followed at once by a GET of the email
// (invariant 1: a GET right after the 202 finds it).

export interface Submission {
  index: number;
  key: string;
  /** Email id from the 202 (undefined: never accepted before the deadline). */
  id?: string;
  tries: number;
  /** The 202 carried Idempotent-Replayed: true. */
  replayed: boolean;
  acceptedAt?: number;
  /** From the first try to the 202, in ms. */
  latencyMs?: number;
  /** Ids seen in 202s for this key (all must be equal). */
  ids: string[];
  /** HTTP status of the GET right after the 202 (404 would break invariant 1). */
  getAfterAccept?: number;
  errors: string[];
  to: string[];
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on a connection of its own (no keep-alive), bounded in time. */
export function request(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent: false, headers: { ...headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export function emailBody(scenario: string, index: number, key: string, to: string[]) {
  return {
    from: { email: 'sender@herald.test', name: 'Herald fault suite' },
    to,
    subject: `[${scenario}] email #${index}`,
    text: `Email ${index} of the ${scenario} fault scenario.\n${END_MARKER} ${key}\n`,
    metadata: { scenario, index },
  };
}

export interface StreamOptions {
  scenario: string;
  /** Base URL, read at each try (a scenario may move the API). */
  baseUrl: () => string;
  /** The stack's API key (FaultStack.apiKey). */
  apiKey: string;
  count: number;
  /** Time between the starts of two submissions. */
  intervalMs: number;
  recipients?: (index: number) => string[];
  /** Give up on a submission this long after its first try. */
  retryForMs?: number;
  /** Number of the first email (several streams in one scenario). */
  firstIndex?: number;
  /** Extra request headers (Authorization: Bearer <key>), on the POST and the GET after it. */
  headers?: Record<string, string>;
}

export async function submitStream(opts: StreamOptions): Promise<Submission[]> {
  const runId = Date.now().toString(36);
  const tasks: Array<Promise<Submission>> = [];
  const first = opts.firstIndex ?? 0;
  for (let i = first; i < first + opts.count; i++) {
    tasks.push(submitOne(opts, i, `faults-${opts.scenario}-${runId}-${i}`));
    if (i < first + opts.count - 1) await sleep(opts.intervalMs);
  }
  return Promise.all(tasks);
}

async function submitOne(opts: StreamOptions, index: number, key: string): Promise<Submission> {
  const to = opts.recipients?.(index) ?? [`rcpt-${index}@example.org`];
  const body = JSON.stringify(emailBody(opts.scenario, index, key, to));
  const sub: Submission = { index, key, tries: 0, replayed: false, ids: [], errors: [], to };
  const firstTry = Date.now();
  const deadline = firstTry + (opts.retryForMs ?? 90_000);
  while (Date.now() < deadline) {
    sub.tries++;
    try {
      const res = await request(`${opts.baseUrl()}/v1/emails`, 'POST', body, {
        'content-type': 'application/json',
        'idempotency-key': key,
        authorization: `Bearer ${opts.apiKey}`,
      });
      if (res.status === 202) {
        const json = JSON.parse(res.body) as { id: string };
        sub.id = json.id;
        sub.ids.push(json.id);
        sub.replayed = res.headers['idempotent-replayed'] === 'true';
        sub.acceptedAt = Date.now();
        sub.latencyMs = sub.acceptedAt - firstTry;
        sub.getAfterAccept = await getStatusCode(opts, json.id);
        return sub;
      }
      sub.errors.push(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      if (res.status < 500) return sub; // a 4xx is the client's fault: retrying will not help
    } catch (err) {
      sub.errors.push((err as Error).message);
    }
    await sleep(Math.min(250 * sub.tries, 1000));
  }
  return sub;
}

async function getStatusCode(opts: StreamOptions, id: string): Promise<number | undefined> {
  // A fault may make the GET itself fail (API or database down): only an answer counts.
  for (let i = 0; i < 20; i++) {
    try {
      const res = await request(`${opts.baseUrl()}/v1/emails/${id}`, 'GET', undefined, { authorization: `Bearer ${opts.apiKey}` });
      if (res.status < 500) return res.status;
    } catch {
      // retried below
    }
    await sleep(250);
  }
  return undefined;
}
