import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkWebhookUrl, isAllowedAddress, type WebhookTargetPolicy } from './url-rule';

// One POST of one webhook: the URL rule first, then the host resolved and every address it
// resolves to checked, in the lookup of the connection itself (no second resolution between the
// check and the connect, so DNS rebinding cannot slip a private address in). Redirects are not
// followed.

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface PosterOptions {
  policy: WebhookTargetPolicy;
  /** dns.lookup by default; tests give a resolver of their own. */
  lookup?: typeof dns.lookup;
}

export interface WebhookPoster {
  /** Never throws: every failure comes back as `{ ok: false, error }`. */
  post(req: WebhookRequest): Promise<WebhookResponse>;
  close(): void;
}

export interface WebhookResponse {
  /** A 2xx came back. */
  ok: boolean;
  status?: number;
  /** The first KiB of the answer, for the tenant to read in the deliveries list. */
  body?: string;
  /** Why there was no 2xx, in words. */
  error?: string;
  /** The receiver's Retry-After (429, 503), in ms. */
  retryAfterMs?: number;
  durationMs: number;
}

const MAX_RESPONSE_BODY = 1024;

class RefusedTarget extends Error {}

/** A lookup that refuses a host when any of its addresses is not allowed. */
function guardedLookup(policy: WebhookTargetPolicy, lookup: typeof dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as unknown as dns.LookupAddress[];
      const refused = list.find((a) => !isAllowedAddress(a.address, policy));
      if (refused || list.length === 0) {
        return callback(new RefusedTarget(`${hostname} resolves to ${refused?.address ?? 'nothing'}, which webhooks may not reach`), '', 4);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}

function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * The webhook client of a process: keep-alive connections (each one checked by the guarded lookup
 * when it was opened), one agent per scheme.
 */
export function createWebhookPoster({ policy, lookup = dns.lookup }: PosterOptions): WebhookPoster {
  const agentOptions = { keepAlive: true, maxSockets: 64, lookup: guardedLookup(policy, lookup) };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  return {
    post: (req) => postWith(req, policy, agents),
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function postWith(
  req: WebhookRequest,
  policy: WebhookTargetPolicy,
  agents: { http: http.Agent; https: https.Agent },
): Promise<WebhookResponse> {
  const started = Date.now();
  const done = (r: Omit<WebhookResponse, 'durationMs'>): WebhookResponse => ({ ...r, durationMs: Date.now() - started });
  const verdict = checkWebhookUrl(req.url, policy);
  if (!verdict.ok) return Promise.resolve(done({ ok: false, error: `URL refused: ${verdict.reason}` }));
  const url = verdict.url;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<WebhookResponse, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(r));
    };
    const https_ = url.protocol === 'https:';
    const request = (https_ ? https : http).request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Herald-Webhooks/1',
          'content-length': Buffer.byteLength(req.body),
          ...req.headers,
        },
        agent: https_ ? agents.https : agents.http,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BODY) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (err) => finish({ ok: false, status: res.statusCode, error: `response cut: ${err.message}` }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BODY);
          const ok = status >= 200 && status < 300;
          finish({ ok, status, body, error: ok ? undefined : `HTTP ${status}`, retryAfterMs: retryAfterMs(res.headers['retry-after']) });
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      finish({ ok: false, error: `no answer within ${req.timeoutMs} ms` });
    }, req.timeoutMs);
    request.on('error', (err) =>
      finish({
        ok: false,
        error:
          err instanceof RefusedTarget
            ? `target refused: ${err.message}`
            : `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`,
      }),
    );
    request.end(req.body);
  });
}
