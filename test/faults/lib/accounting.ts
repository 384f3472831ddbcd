import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DELIVER_EMAIL_WORKFLOW, workflowIdFor } from '../../../src/shared';
import type { Gateway } from './gateways';
import type { Submission } from './load';
import { runDir, type FaultStack } from './stack';
import { sleep } from '../../support/process';

// After the faults: where is every email? Each scenario ends with account() and the common
// assertions of assertNothingLost(); the figures go to the run folder for the summary table.

const TERMINAL = ['sent', 'failed', 'cancelled'];
const SENT_OR_MAYBE = ['sent', 'partial', 'uncertain'];

/** What the accounting reads: the stack's database and a Temporal client (a FaultStack, or the cluster test's). */
export type Accountable = Pick<FaultStack, 'sql' | 'temporalClient'>;

export interface EmailRecord {
  index: number;
  id: string;
  status: string;
  messageId: string;
  copies: number;
  attempts: Array<{
    attempt: number;
    outcome: string | null;
    smtpCode: number | null;
    errorCode: string | null;
    ms: number | null;
    interrupted: boolean;
  }>;
  recipients: Array<{ address: string; status: string; smtpCode: number | null }>;
  updatedAt: number;
}

export interface ScenarioReport {
  slug: string;
  title: string;
  peer: string;
  fault: string;
  submitted: number;
  /** Emails that got a 202. */
  accepted: number;
  /** Rows in `emails` (one per Idempotency-Key expected). */
  emailsInDb: number;
  sent: number;
  failed: number;
  /** Emails that did not reach sent/failed/cancelled within the recovery window. */
  notTerminal: number;
  /** Accepted but neither delivered nor ended in an expected, recorded failure (must be 0). */
  lost: number;
  lostDetail: string[];
  /** Copies the gateway holds, all emails together. */
  copies: number;
  /** Emails with more than one copy, and the copies beyond the first. */
  duplicatedEmails: number;
  extraCopies: number;
  /**
   * Emails with more copies than attempts on record that sent or may have sent (outcome sent,
   * partial or uncertain): a copy nobody can see in delivery_attempts (must be 0).
   */
  unrecordedCopies: number;
  attempts: number;
  attemptsByOutcome: Record<string, number>;
  /** Slowest POST: first try to 202, retries included, in seconds. */
  slowestSubmitSeconds: number;
  /** POSTs that needed more than one try. */
  retriedSubmits: number;
  /**
   * Emails with more than one attempt recorded 'sent': an attempt abandoned by Temporal (timed
   * out) kept running, sent, and recorded its result after the next attempt had started.
   */
  lateRecords: number;
  /** Longest attempt that ended by itself (not closed as interrupted), in seconds. */
  slowestAttemptSeconds: number;
  /** Attempts left open by a dead worker and closed 'uncertain' by the next one (beginAttempt). */
  interruptedAttempts: number;
  /** Emails with at least one attempt recorded 'uncertain'. */
  uncertainEmails: number;
  /** 404 on the GET right after a 202 (must be 0). */
  invisibleAfter202: number;
  /** Send attempts that Temporal timed out (startToClose), from the workflow histories. */
  activityTimeouts: number;
  /** Workflows still running in Temporal at the end (must be 0). */
  openWorkflows: number;
  /** Seconds from the end of the fault to the last email reaching its terminal status. */
  recoverSeconds: number;
  wallSeconds: number;
  notes: string[];
  emails: EmailRecord[];
}

export interface AccountOptions {
  slug: string;
  title: string;
  peer: string;
  fault: string;
  startedAt: number;
  /** When the fault was lifted (gateway back, process restarted...). */
  recoveredAt: number;
  /** How long after recoveredAt every email must be terminal. */
  recoveryWindowMs: number;
  /** Emails that must end `failed` (a permanent refusal), by index. */
  expectFailed?: (index: number) => boolean;
  /** Wait this long after all are terminal before counting copies (late sends of abandoned attempts). */
  settleMs?: number;
  notes?: string[];
}

async function loadEmails(stack: Accountable, ids: string[]) {
  const rows = await stack.sql<Array<{ id: string; status: string; message_id: string; updated_at: Date }>>`
    select id::text, status, message_id, updated_at from emails where id = any(${ids}::uuid[])`;
  return rows;
}

/** Waits until every accepted email is terminal or the window has passed. */
export async function waitForTerminal(stack: Accountable, ids: string[], until: number): Promise<void> {
  for (;;) {
    try {
      const rows = await loadEmails(stack, ids);
      if (rows.length === ids.length && rows.every((r) => TERMINAL.includes(r.status))) return;
    } catch {
      // the database may be coming back
    }
    if (Date.now() > until) return;
    await sleep(500);
  }
}

export async function account(stack: Accountable, gateway: Gateway, subs: Submission[], opts: AccountOptions): Promise<ScenarioReport> {
  const accepted = subs.filter((s) => s.id);
  const ids = accepted.map((s) => s.id!);
  await waitForTerminal(stack, ids, opts.recoveredAt + opts.recoveryWindowMs);
  await sleep(opts.settleMs ?? 2000);

  const copies = gateway.copies();
  const rows = await loadEmails(stack, ids);
  const attempts = await stack.sql<
    Array<{
      email_id: string;
      attempt: number;
      outcome: string | null;
      smtp_code: number | null;
      error_code: string | null;
      ms: number | null;
      interrupted: boolean;
    }>
  >`
    select email_id::text, attempt, outcome, smtp_code, error_code,
      coalesce(error_message like 'attempt interrupted%', false) as interrupted,
      (extract(epoch from finished_at - started_at) * 1000)::int as ms
    from delivery_attempts where email_id = any(${ids}::uuid[]) order by id`;
  const recipients = await stack.sql<Array<{ email_id: string; address: string; status: string; smtp_code: number | null }>>`
    select email_id::text, address, status, smtp_code from email_recipients where email_id = any(${ids}::uuid[]) order by address`;
  const [{ n: emailsInDb }] = await stack.sql<Array<{ n: number }>>`select count(*)::int as n from emails`;
  const byId = new Map(rows.map((r) => [r.id, r]));

  const emails: EmailRecord[] = accepted.map((s) => {
    const row = byId.get(s.id!);
    const messageId = row?.message_id.replace(/^<|>$/g, '') ?? '';
    return {
      index: s.index,
      id: s.id!,
      status: row?.status ?? 'missing',
      messageId,
      copies: copies.get(messageId) ?? 0,
      attempts: attempts
        .filter((a) => a.email_id === s.id)
        .map((a) => ({
          attempt: a.attempt,
          outcome: a.outcome,
          smtpCode: a.smtp_code,
          errorCode: a.error_code,
          ms: a.ms,
          interrupted: a.interrupted,
        })),
      recipients: recipients
        .filter((r) => r.email_id === s.id)
        .map((r) => ({ address: r.address, status: r.status, smtpCode: r.smtp_code })),
      updatedAt: row ? new Date(row.updated_at).getTime() : 0,
    };
  });

  const lostDetail: string[] = [];
  for (const s of subs.filter((x) => !x.id)) lostDetail.push(`#${s.index} never accepted by the API: ${s.errors.slice(-2).join(' | ')}`);
  for (const e of emails) {
    const expectFailed = opts.expectFailed?.(e.index) ?? false;
    if (e.status === 'missing') lostDetail.push(`#${e.index} ${e.id}: 202 but no row in PostgreSQL`);
    else if (!TERMINAL.includes(e.status)) lostDetail.push(`#${e.index} ${e.id}: still ${e.status}`);
    else if (expectFailed && (e.status !== 'failed' || e.recipients.some((r) => r.status !== 'rejected' || !r.smtpCode)))
      lostDetail.push(`#${e.index} ${e.id}: expected failed with a recorded reply, got ${e.status} ${JSON.stringify(e.recipients)}`);
    else if (!expectFailed && e.status !== 'sent') lostDetail.push(`#${e.index} ${e.id}: ${e.status}, expected sent`);
    else if (e.status === 'sent' && e.copies === 0) lostDetail.push(`#${e.index} ${e.id}: marked sent but the gateway holds no copy`);
  }

  const duplicated = emails.filter((e) => e.copies > 1);
  const attemptsByOutcome: Record<string, number> = {};
  for (const a of attempts) attemptsByOutcome[a.outcome ?? 'open'] = (attemptsByOutcome[a.outcome ?? 'open'] ?? 0) + 1;

  let openWorkflows = -1;
  let activityTimeouts = -1;
  try {
    const client = await stack.temporalClient();
    openWorkflows = 0;
    // Delivery workflows only: the worker also runs the orphan sweep's scheduled workflows.
    for await (const _ of client.workflow.list({ query: `WorkflowType = "${DELIVER_EMAIL_WORKFLOW}" AND ExecutionStatus = "Running"` }))
      openWorkflows++;
    activityTimeouts = 0;
    for (const id of ids) {
      const history = await client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
      for (const event of history.events ?? []) {
        // A timed-out attempt: the last one is an event of its own, earlier ones (retried by
        // the server) show up as the lastFailure of the attempt that finally ran.
        if (event.activityTaskTimedOutEventAttributes) activityTimeouts++;
        if (event.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo) activityTimeouts++;
      }
    }
  } catch (err) {
    opts.notes = [...(opts.notes ?? []), `could not read workflows: ${(err as Error).message}`];
  }

  const terminalTimes = emails.filter((e) => TERMINAL.includes(e.status)).map((e) => e.updatedAt);
  const lastTerminal = terminalTimes.length ? Math.max(...terminalTimes) : Date.now();
  const report: ScenarioReport = {
    slug: opts.slug,
    title: opts.title,
    peer: opts.peer,
    fault: opts.fault,
    submitted: subs.length,
    accepted: accepted.length,
    emailsInDb,
    sent: emails.filter((e) => e.status === 'sent').length,
    failed: emails.filter((e) => e.status === 'failed').length,
    notTerminal: emails.filter((e) => !TERMINAL.includes(e.status)).length,
    lost: lostDetail.length,
    lostDetail,
    copies: emails.reduce((n, e) => n + e.copies, 0),
    duplicatedEmails: duplicated.length,
    extraCopies: duplicated.reduce((n, e) => n + e.copies - 1, 0),
    unrecordedCopies: emails.filter((e) => e.copies > e.attempts.filter((a) => SENT_OR_MAYBE.includes(a.outcome ?? '')).length).length,
    attempts: attempts.length,
    attemptsByOutcome,
    slowestAttemptSeconds: Math.max(0, ...attempts.filter((a) => !a.interrupted).map((a) => a.ms ?? 0)) / 1000,
    slowestSubmitSeconds: Math.max(0, ...subs.map((s) => s.latencyMs ?? 0)) / 1000,
    retriedSubmits: subs.filter((s) => s.tries > 1).length,
    lateRecords: emails.filter((e) => e.attempts.filter((a) => a.outcome === 'sent').length > 1).length,
    interruptedAttempts: attempts.filter((a) => a.interrupted).length,
    uncertainEmails: emails.filter((e) => e.attempts.some((a) => a.outcome === 'uncertain')).length,
    invisibleAfter202: subs.filter((s) => s.getAfterAccept === 404).length,
    openWorkflows,
    activityTimeouts,
    recoverSeconds: Math.max(0, (lastTerminal - opts.recoveredAt) / 1000),
    wallSeconds: (Date.now() - opts.startedAt) / 1000,
    notes: opts.notes ?? [],
    emails,
  };
  writeFileSync(path.join(runDir(), `result-${opts.slug}.json`), JSON.stringify(report, null, 2));
  printReport(report);
  return report;
}

export function printReport(r: ScenarioReport): void {
  const copiesHistogram: Record<string, number> = {};
  for (const e of r.emails) copiesHistogram[e.copies] = (copiesHistogram[e.copies] ?? 0) + 1;
  const lines = [
    `── fault scenario ${r.slug}: ${r.title}`,
    `   peer ${r.peer}; fault: ${r.fault}`,
    `   emails accepted by the API: ${r.accepted}/${r.submitted} (rows in PostgreSQL: ${r.emailsInDb}); POSTs retried: ${r.retriedSubmits}, slowest 202 after ${r.slowestSubmitSeconds.toFixed(1)} s`,
    `   final statuses: sent ${r.sent}, failed ${r.failed}, not terminal ${r.notTerminal}`,
    `   copies received per Message-ID: ${Object.entries(copiesHistogram)
      .map(([c, n]) => `${n} email(s) x ${c}`)
      .join(', ')} (total ${r.copies})`,
    `   duplicates: ${r.duplicatedEmails} email(s), ${r.extraCopies} extra cop(ies); emails with more copies than attempts on record as sent or uncertain: ${r.unrecordedCopies}`,
    `   attempts: ${r.attempts} ${JSON.stringify(r.attemptsByOutcome)}, slowest ${r.slowestAttemptSeconds.toFixed(1)} s; emails with an uncertain attempt: ${r.uncertainEmails} (attempts closed as interrupted: ${r.interruptedAttempts})`,
    `   activity timeouts (Temporal): ${r.activityTimeouts}; emails with two attempts recorded sent (late record of an abandoned attempt): ${r.lateRecords}; open workflows: ${r.openWorkflows}; 404 right after 202: ${r.invisibleAfter202}`,
    `   LOST: ${r.lost}${r.lostDetail.length ? '\n     ' + r.lostDetail.slice(0, 10).join('\n     ') : ''}`,
    `   recovered ${r.recoverSeconds.toFixed(1)} s after the fault ended; scenario wall time ${r.wallSeconds.toFixed(1)} s`,
    ...r.notes.map((n) => `   note: ${n}`),
  ];
  // Straight to stdout: jest's console adds a stack location to every console.log.
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

/** The assertions every scenario makes. */
export function assertNothingLost(r: ScenarioReport): void {
  expect(r.lostDetail).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.accepted).toBe(r.submitted);
  expect(r.notTerminal).toBe(0);
  // One email per Idempotency-Key, whatever was retried.
  expect(r.emailsInDb).toBe(r.submitted);
  expect(r.invisibleAfter202).toBe(0);
  // Every copy at the gateway is on record: an attempt recorded sent, partial or uncertain.
  expect(r.unrecordedCopies).toBe(0);
  expect(r.openWorkflows).toBe(0);
}
