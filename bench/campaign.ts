import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { EMAIL_BODY, openLoop, percentile, type Accepted } from './load';
import { Meter, type PhaseCpu } from './meter';
import { meterProcesses, startStack, type Stack, type StackSettings } from './stack';

// `npm run bench -- --campaign N`: one campaign of N recipients on the embedded stack, measured
// against the single-email knee of the same run. Phases:
//   1. the single-email knee: an open-loop ladder of POST /v1/emails, as the main bench does;
//   2. batches: POST /v1/emails/batch of 1000 emails, a few times (time to accept);
//   3. the campaign: a CSV of N recipients generated as it is uploaded (plus repeated and
//      invalid rows), an NDJSON upload repeating 1000 of them, start, a pause in the middle held
//      for a while, resume, completion. API and worker RSS sampled throughout.
// Checks: every campaign email reached the sink exactly once (by Message-ID), nothing was sent
// while paused, PostgreSQL has one email per unique recipient and all are sent.

export interface CampaignBenchOptions {
  recipients: number;
  settings: StackSettings;
  /** Offered rates of the knee ladder (emails/s). */
  rates: number[];
  stepSeconds: number;
  /** Pause when this share of the recipients has been delivered. */
  pauseAt: number;
  holdSeconds: number;
  batches: number;
  log: (m: string) => void;
}

export const CAMPAIGN_DEFAULTS = {
  rates: [20, 30, 40, 45, 50, 55, 60, 70, 80],
  stepSeconds: 10,
  pauseAt: 0.4,
  holdSeconds: 20,
  batches: 3,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VmRSS / VmHWM of a process in MiB (Linux). */
function memMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Every Message-ID the sink received, with each receipt time. */
class Receipts {
  readonly byId = new Map<string, number[]>();
  total = 0;
  constructor(private readonly stack: Stack) {}
  collect(): number {
    const fresh = this.stack.sink.collect();
    for (const r of fresh) {
      const id = r.messageId.replace(/^<|>$/g, '');
      const list = this.byId.get(id);
      if (list) list.push(r.at);
      else this.byId.set(id, [r.at]);
    }
    this.total += fresh.length;
    return fresh.length;
  }
  of(emailId: string): number[] | undefined {
    return this.byId.get(`${emailId}@bench.herald`);
  }
}

interface KneeStep {
  rate: number;
  accepted: number;
  errors: number;
  e2eP99Ms: number;
  backlogAtEnd: number;
  deliveredPerS: number;
  passed: boolean;
}

async function kneeLadder(stack: Stack, receipts: Receipts, o: CampaignBenchOptions): Promise<{ knee?: number; steps: KneeStep[] }> {
  const steps: KneeStep[] = [];
  let knee: number | undefined;
  for (const rate of o.rates) {
    const live: Accepted[] = [];
    const load = await openLoop({ url: stack.apiUrl, key: stack.apiKey }, rate, o.stepSeconds, 256, live);
    const deadline = Date.now() + 60_000 + rate * o.stepSeconds * 20;
    let missing = load.accepted.length;
    while (Date.now() < deadline) {
      receipts.collect();
      missing = load.accepted.filter((a) => !receipts.of(a.id)).length;
      if (missing === 0) break;
      await sleep(200);
    }
    const at = load.accepted.map((a) => receipts.of(a.id)?.[0]);
    const e2e = load.accepted.flatMap((a, i) => (at[i] === undefined ? [] : [at[i]! - a.at]));
    const deliveredInStep = at.filter((t) => t !== undefined && t <= load.endedAt).length;
    const backlogAtEnd = load.accepted.filter((a) => a.at <= load.endedAt).length - deliveredInStep;
    const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
    const stepS = (load.endedAt - load.startedAt) / 1000;
    const e2eP99Ms = percentile(e2e, 99);
    const passed =
      errors === 0 &&
      missing === 0 &&
      load.accepted.length / stepS >= 0.95 * rate &&
      e2eP99Ms <= 1000 &&
      backlogAtEnd <= Math.max(10, rate * 0.5);
    steps.push({ rate, accepted: load.accepted.length, errors, e2eP99Ms, backlogAtEnd, deliveredPerS: deliveredInStep / stepS, passed });
    o.log(
      `bench: knee step ${rate}/s: delivered ${(deliveredInStep / stepS).toFixed(0)}/s, e2e p99 ${e2eP99Ms.toFixed(0)} ms, backlog ${backlogAtEnd}, ${passed ? 'bounded' : 'NOT bounded'}`,
    );
    if (!passed) break;
    knee = rate;
  }
  return { knee, steps };
}

async function api(stack: Stack, auth: Record<string, string>, method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(`${stack.apiUrl}${p}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Streams an upload (generated as it is sent) and returns the answer and how long it took. */
function upload(
  stack: Stack,
  auth: Record<string, string>,
  campaignId: string,
  type: string,
  rows: () => Generator<string>,
): Promise<{ answer: any; seconds: number }> {
  const url = new URL(`${stack.apiUrl}/v1/campaigns/${campaignId}/recipients`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...auth, 'content-type': type } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString());
          if (res.statusCode !== 200) reject(new Error(`upload: ${res.statusCode} ${JSON.stringify(answer)}`));
          else resolve({ answer, seconds: (performance.now() - started) / 1000 });
        });
      },
    );
    req.on('error', reject);
    // Lines are joined into ~64 KiB chunks: what a client streaming a file sends.
    function* chunked() {
      let buf = '';
      for (const line of rows()) {
        buf += line;
        if (buf.length >= 65_536) {
          yield buf;
          buf = '';
        }
      }
      if (buf) yield buf;
    }
    pipeline(Readable.from(chunked()), req).catch(reject);
  });
}

const address = (i: number) => `r${i}@list${i % 50}.example.org`;

function* csvRows(n: number): Generator<string> {
  yield 'email,first,code\n';
  for (let i = 0; i < n; i++) {
    yield `${address(i)},Person ${i},C${i.toString(36)}\n`;
    if (i % 100 === 99) yield `${address(i - 1).toUpperCase()},Again,X\n`; // a repeated address (case aside): a duplicate
    if (i % 10_000 === 5_000) yield `not-an-address-${i},X,Y\n`; // an invalid row
  }
}

function* ndjsonRows(n: number): Generator<string> {
  for (let i = 0; i < Math.min(n, 1000); i++) yield `${JSON.stringify({ email: address(i), first: 'Repeat', code: 'R' })}\n`;
}

function cpuPerEmail(cpu: PhaseCpu, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu.cpu).map(([k, v]) => [k, Number(((v / Math.max(1, n)) * 1000).toFixed(2))]));
}

export async function runCampaignBench(o: CampaignBenchOptions): Promise<{ healthy: boolean; summary: Record<string, unknown> }> {
  const started = Date.now();
  const stack = await startStack(o.settings, o.log);
  const receipts = new Receipts(stack);
  // The stack's key: the development tenant's, its limits out of the bench's way (test/support/stack.ts).
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const procs = meterProcesses(stack);

  // 1. The single-email knee, in this run.
  o.log(`bench: single-email knee, rates ${o.rates.join(', ')}/s, ${o.stepSeconds} s each`);
  const { knee, steps } = await kneeLadder(stack, receipts, o);

  // 2. Batches of 1000.
  const batchMs: number[] = [];
  const batchIds: string[] = [];
  const one = JSON.parse(EMAIL_BODY);
  for (let b = 0; b < o.batches; b++) {
    const t0 = performance.now();
    const answer = await api(stack, auth, 'POST', '/v1/emails/batch', {
      emails: Array.from({ length: 1000 }, (_, i) => ({ ...one, to: [`b${b}-${i}@batch.example.org`] })),
    });
    batchMs.push(performance.now() - t0);
    if (answer.accepted !== 1000) throw new Error(`batch ${b}: accepted ${answer.accepted}`);
    batchIds.push(...answer.data.map((d: any) => d.id));
    o.log(`bench: batch ${b + 1}/${o.batches}: 1000 accepted in ${batchMs.at(-1)!.toFixed(0)} ms`);
  }
  for (const deadline = Date.now() + 600_000; Date.now() < deadline; await sleep(500)) {
    receipts.collect();
    if (batchIds.every((id) => receipts.of(id))) break;
  }
  const batchLost = batchIds.filter((id) => !receipts.of(id)).length;

  // 3. The campaign.
  const n = o.recipients;
  const rss = { api: [] as number[], worker: [] as number[] };
  const sampleRss = () => {
    rss.api.push(memMiB(stack.apiPid, 'VmRSS'));
    rss.worker.push(memMiB(stack.workerPid, 'VmRSS'));
  };
  const apiRssBefore = memMiB(stack.apiPid, 'VmRSS');
  const workerRssBefore = memMiB(stack.workerPid, 'VmRSS');
  const created = await api(stack, auth, 'POST', '/v1/campaigns', {
    from: { email: 'news@herald.test', name: 'Herald Bench' },
    subject: 'Hello {{first}}',
    text: 'Dear {{first}},\n\nyour code is {{code}}.\n' + 'A line of a newsletter of the kind a nonprofit sends.\n'.repeat(6),
    html:
      '<p>Dear {{first}},</p><p>your code is <b>{{code}}</b>.</p>' +
      '<p>A line of a newsletter of the kind a nonprofit sends.</p>'.repeat(6),
    tags: ['bench-campaign'],
  });
  const campaignId: string = created.id;
  o.log(`bench: campaign ${campaignId}: uploading ${n} recipients (CSV, streamed)`);
  let uploadApiPeak = apiRssBefore;
  const uploadSampler = setInterval(() => (uploadApiPeak = Math.max(uploadApiPeak, memMiB(stack.apiPid, 'VmRSS'))), 100);
  const csv = await upload(stack, auth, campaignId, 'text/csv', () => csvRows(n));
  clearInterval(uploadSampler);
  uploadApiPeak = Math.max(uploadApiPeak, memMiB(stack.apiPid, 'VmRSS'));
  const ndjson = await upload(stack, auth, campaignId, 'application/x-ndjson', () => ndjsonRows(n));
  o.log(
    `bench: upload: ${csv.answer.added} added, ${csv.answer.duplicates} duplicates, ${csv.answer.invalid} invalid in ${csv.seconds.toFixed(1)} s; NDJSON repeat: ${ndjson.answer.duplicates} duplicates`,
  );

  const meter = new Meter(procs);
  const startedAt = Date.now();
  await api(stack, auth, 'POST', `/v1/campaigns/${campaignId}/start`);
  const sampler = setInterval(() => {
    meter.sample();
    sampleRss();
  }, 2000);
  receipts.collect();
  const receiptsBefore = receipts.total;
  const campaignReceipts = () => receipts.total - receiptsBefore;
  let pause:
    | { at: number; inFlight: number; afterPause: number; duringHold: number; resumedAt: number; pausedEmails: number; settleS: number }
    | undefined;
  let view: any;
  let lastLog = 0;
  for (;;) {
    receipts.collect();
    if (!pause && campaignReceipts() >= o.pauseAt * n) {
      const before = await api(stack, auth, 'GET', `/v1/campaigns/${campaignId}`);
      const at = Date.now();
      const atCount = campaignReceipts();
      await api(stack, auth, 'POST', `/v1/campaigns/${campaignId}/pause`, { reason: 'bench: pause in the middle' });
      // Let what was under way settle: the sink count stops moving.
      let last = campaignReceipts();
      let still = Date.now();
      while (Date.now() - still < 3000) {
        await sleep(250);
        receipts.collect();
        if (campaignReceipts() !== last) {
          last = campaignReceipts();
          still = Date.now();
        }
      }
      const settleS = (still - at) / 1000;
      const holdFrom = campaignReceipts();
      o.log(
        `bench: paused at ${atCount} delivered (${before.counts.queued + before.counts.sending + before.counts.retrying} under way); ${holdFrom - atCount} more delivered while settling (${settleS.toFixed(1)} s); holding ${o.holdSeconds} s`,
      );
      await sleep(o.holdSeconds * 1000);
      receipts.collect();
      const held = await api(stack, auth, 'GET', `/v1/campaigns/${campaignId}`);
      pause = {
        at,
        inFlight: before.counts.queued + before.counts.sending + before.counts.retrying,
        afterPause: holdFrom - atCount,
        duringHold: campaignReceipts() - holdFrom,
        resumedAt: 0,
        pausedEmails: held.counts.paused,
        settleS,
      };
      await api(stack, auth, 'POST', `/v1/campaigns/${campaignId}/resume`);
      pause.resumedAt = Date.now();
      o.log(
        `bench: ${pause.duringHold} delivered during the hold (${held.counts.paused} emails paused, ${held.counts.waiting} waiting); resumed`,
      );
    }
    if (Date.now() - lastLog > 15_000) {
      view = await api(stack, auth, 'GET', `/v1/campaigns/${campaignId}`);
      lastLog = Date.now();
      o.log(
        `bench: campaign ${view.status}: sent ${view.counts.sent}/${n}, ${view.currentRatePerSecond}/s, worker RSS ${memMiB(stack.workerPid, 'VmRSS').toFixed(0)} MiB, api ${memMiB(stack.apiPid, 'VmRSS').toFixed(0)} MiB`,
      );
      if (view.status === 'completed' || view.status === 'cancelled') break;
    }
    await sleep(500);
  }
  clearInterval(sampler);
  const cpu = meter.stop();
  receipts.collect();
  const endedAt = Date.now();

  // Checks, by Message-ID, over every email of the campaign.
  const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  const ids = (await sql<Array<{ id: string; status: string }>>`select id, status from emails where campaign_id = ${campaignId}`).map(
    (r) => ({ id: r.id, status: r.status }),
  );
  const [{ recipients }] = await sql<
    Array<{ recipients: number }>
  >`select count(*)::int as recipients from campaign_recipients where campaign_id = ${campaignId}`;
  await sql.end();
  const times = ids.map((e) => receipts.of(e.id));
  const lost = times.filter((t) => !t).length;
  const duplicates = times.filter((t) => t && t.length > 1).length;
  const notSent = ids.filter((e) => e.status !== 'sent').length;
  const first = times.reduce((m, t) => (t ? Math.min(m, t[0]) : m), Infinity);
  const last = times.reduce((m, t) => (t ? Math.max(m, ...t) : m), 0);
  const pausedMs = pause ? pause.resumedAt - pause.at : 0;
  const deliveredPerS = (ids.length - lost) / ((last - startedAt - pausedMs) / 1000);
  const summary = {
    mode: 'campaign',
    recipients: n,
    unique_recipients: recipients,
    upload_s: Number(csv.seconds.toFixed(1)),
    upload_rows_per_s: Math.round((n * 1.01) / csv.seconds),
    upload_added: csv.answer.added,
    upload_duplicates: csv.answer.duplicates + ndjson.answer.duplicates,
    upload_invalid: csv.answer.invalid,
    api_rss_before_mib: Math.round(apiRssBefore),
    api_rss_peak_during_upload_mib: Math.round(uploadApiPeak),
    api_peak_rss_mib: Math.round(memMiB(stack.apiPid, 'VmHWM')),
    worker_rss_before_mib: Math.round(workerRssBefore),
    worker_rss_max_during_campaign_mib: Math.round(rss.worker.reduce((a, b) => Math.max(a, b), 0)),
    api_rss_max_during_campaign_mib: Math.round(rss.api.reduce((a, b) => Math.max(a, b), 0)),
    worker_rss_last_mib: Math.round(rss.worker.at(-1) ?? NaN),
    worker_peak_rss_mib: Math.round(memMiB(stack.workerPid, 'VmHWM')),
    campaign_delivered_per_s: Number(deliveredPerS.toFixed(1)),
    campaign_wall_s: Math.round((endedAt - startedAt) / 1000),
    first_delivery_after_start_ms: first - startedAt,
    single_email_knee_per_s: knee ?? null,
    ratio_to_knee: knee ? Number((deliveredPerS / knee).toFixed(2)) : null,
    batch_1000_accept_ms: batchMs.map((x) => Math.round(x)),
    batch_lost: batchLost,
    pause: pause && {
      in_flight_at_pause: pause.inFlight,
      delivered_while_settling: pause.afterPause,
      settle_s: pause.settleS,
      delivered_during_hold: pause.duringHold,
      hold_s: o.holdSeconds,
      paused_emails: pause.pausedEmails,
    },
    cpu_ms_per_email: cpuPerEmail(cpu, ids.length),
    others_cpu_pct: Math.round((cpu.othersS / cpu.wallS) * 100),
    lost,
    duplicates,
    not_sent: notSent,
    knee_steps: steps.map((s) => ({
      rate: s.rate,
      delivered_per_s: Number(s.deliveredPerS.toFixed(1)),
      e2e_p99_ms: Math.round(s.e2eP99Ms),
      backlog: s.backlogAtEnd,
      ok: s.passed,
    })),
    wall_s: Math.round((Date.now() - started) / 1000),
  };
  const healthy =
    lost === 0 && duplicates === 0 && notSent === 0 && batchLost === 0 && ids.length === recipients && (pause?.duringHold ?? 0) === 0;
  return { healthy, summary };
}
