import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ALLOWED_TRANSITIONS,
  attemptAbortAfterMs,
  EMAIL_STATUSES,
  domainOf,
  initialStatus,
  isPermanentReply,
  isRetryable,
  isTerminal,
  isUnsent,
  outcomeWhenEnded,
  recipientDomains,
  statusOfRecipients,
  TERMINAL_STATUSES,
  type EmailStatus,
  type FailureKind,
  type RecipientOutcome,
} from '../../src/shared';
import { DeliveryState } from '../../src/workflows/delivery-state';

// The pure rules of delivery, and a check that the rules, the code's transition table and the
// migrations' table cannot drift apart.

const OUTCOMES: RecipientOutcome[] = ['pending', 'accepted', 'rejected', 'deferred'];
const POLICY = {
  initialIntervalMs: 200,
  backoffCoefficient: 1.5,
  maximumIntervalMs: 1000,
  giveUpAfterMs: 30_000,
  attemptTimeoutMs: 10_000,
};

describe('initialStatus', () => {
  test.each([
    [undefined, 'queued'],
    [null, 'queued'],
    ['', 'queued'],
    ['2030-01-01T00:00:00Z', 'scheduled'],
    [new Date('2030-01-01T00:00:00Z'), 'scheduled'],
    // Whether the time is past is the workflow's business: a sendAt makes it scheduled.
    ['2000-01-01T00:00:00Z', 'scheduled'],
  ])('sendAt %p is %s', (sendAt, status) => {
    expect(initialStatus(sendAt)).toBe(status);
  });
});

describe('isUnsent', () => {
  test.each([
    ['pending', true],
    ['deferred', true],
    ['accepted', false],
    ['rejected', false],
  ] as const)('%s: %s', (outcome, unsent) => {
    expect(isUnsent(outcome)).toBe(unsent);
  });
});

describe('statusOfRecipients', () => {
  test.each<[RecipientOutcome[], string]>([
    [['accepted'], 'sent'],
    [['accepted', 'accepted'], 'sent'],
    // sent when at least one recipient accepted and none is pending
    [['accepted', 'rejected'], 'sent'],
    [['rejected', 'accepted', 'rejected'], 'sent'],
    [['rejected'], 'failed'],
    [['rejected', 'rejected'], 'failed'],
    [['pending'], 'retrying'],
    [['deferred'], 'retrying'],
    // one accepted is not enough while another recipient is still to be sent to
    [['accepted', 'deferred'], 'retrying'],
    [['accepted', 'pending'], 'retrying'],
    [['rejected', 'deferred'], 'retrying'],
    [['accepted', 'rejected', 'deferred'], 'retrying'],
  ])('%j is %s', (outcomes, status) => {
    expect(statusOfRecipients(outcomes)).toBe(status);
  });

  test('holds for every combination of up to three recipients', () => {
    for (const outcomes of combinations(3)) {
      const expected = outcomes.some((o) => o === 'pending' || o === 'deferred')
        ? 'retrying'
        : outcomes.includes('accepted')
          ? 'sent'
          : 'failed';
      expect([outcomes, statusOfRecipients(outcomes)]).toEqual([outcomes, expected]);
    }
  });
});

describe('outcomeWhenEnded', () => {
  test.each([
    ['pending', 'rejected'],
    ['deferred', 'rejected'],
    ['accepted', 'accepted'],
    ['rejected', 'rejected'],
  ] as const)('%s becomes %s', (outcome, ended) => {
    expect(outcomeWhenEnded(outcome)).toBe(ended);
  });

  test('an ended delivery is never still retrying: sent if anyone accepted, else failed', () => {
    for (const outcomes of combinations(3)) {
      const status = statusOfRecipients(outcomes.map(outcomeWhenEnded));
      expect([outcomes, status]).toEqual([outcomes, outcomes.includes('accepted') ? 'sent' : 'failed']);
    }
  });
});

describe('isPermanentReply (RFC 5321 4.2.1)', () => {
  test.each([
    [500, true],
    [550, true],
    [554, true],
    [599, true],
    [421, false],
    [450, false],
    [451, false],
    [499, false],
    [250, false],
    [600, false],
    [undefined, false],
  ])('%p: %s', (code, permanent) => {
    expect(isPermanentReply(code)).toBe(permanent);
  });
});

describe('isRetryable', () => {
  test.each<[FailureKind, boolean]>([
    ['transient', true],
    // the gateway may hold a copy; the next attempt sends only to recipients without an outcome
    ['uncertain', true],
    ['permanent', false],
  ])('%s: %s', (kind, retryable) => {
    expect(isRetryable(kind)).toBe(retryable);
  });
});

describe('domainOf and recipientDomains', () => {
  test.each([
    ['alice@example.org', 'example.org'],
    ['Bob@Example.ORG', 'example.org'],
    // the domain is what follows the last @ (a quoted local part may hold one)
    ['"a@b"@mail.example.com', 'mail.example.com'],
    ['no-at-sign', 'no-at-sign'],
  ])('domainOf(%s) is %s', (address, domain) => {
    expect(domainOf(address)).toBe(domain);
  });

  test('recipientDomains are distinct, lower-cased and sorted, from strings and addresses alike', () => {
    expect(
      recipientDomains(['x@Zeta.test', { address: 'y@alpha.test', name: 'Y' }, 'z@ALPHA.test', { address: 'w@mid.test' }, 'v@zeta.TEST']),
    ).toEqual(['alpha.test', 'mid.test', 'zeta.test']);
    expect(recipientDomains([])).toEqual([]);
  });
});

describe('terminal statuses', () => {
  test.each(EMAIL_STATUSES.map((s) => [s, TERMINAL_STATUSES.includes(s)] as const))('%s terminal: %s', (status, terminal) => {
    expect(isTerminal(status)).toBe(terminal);
  });

  test('sent and cancelled lead nowhere; failed only back to queued (re-drive)', () => {
    expect(ALLOWED_TRANSITIONS.sent).toEqual([]);
    expect(ALLOWED_TRANSITIONS.cancelled).toEqual([]);
    expect(ALLOWED_TRANSITIONS.failed).toEqual(['queued']);
  });
});

// ---------------------------------------------------------------------------------------------
// The three homes of the status machine: the rules (what each writer produces), the code's
// ALLOWED_TRANSITIONS and the migrations' email_status_transitions table.

/** Every list of `n` recipient outcomes, n from 1 to `max`. */
function combinations(max: number): RecipientOutcome[][] {
  let level: RecipientOutcome[][] = OUTCOMES.map((o) => [o]);
  const all = [...level];
  for (let n = 2; n <= max; n++) {
    level = level.flatMap((prefix) => OUTCOMES.map((o) => [...prefix, o]));
    all.push(...level);
  }
  return all;
}

const distinct = <T>(values: T[]) => [...new Set(values)].sort();

/** The statuses DeliveryState shows (and the workflow writes with a control's change) before it finishes. */
function workflowStatuses(phase: 'waiting' | 'retrying'): EmailStatus[] {
  const now = Date.parse('2030-01-01T00:00:00Z');
  const seen: EmailStatus[] = [];
  for (const sendAt of [undefined, '2029-12-31T00:00:00Z', '2030-01-02T00:00:00Z']) {
    for (const released of [false, true]) {
      for (const paused of [false, true]) {
        const state = new DeliveryState({ emailId: 'e', tenantId: 't', sendAt, policy: POLICY, recipientDomains: [], tags: [] }, () => now);
        if (released) state.controls.sendNow.apply();
        if (phase === 'retrying') {
          state.startFirstAttempt();
          state.firstAttemptFailed('451 later');
        }
        if (paused) state.controls.pause.apply();
        seen.push(state.status());
      }
    }
  }
  return distinct(seen);
}

const outcomesWithNoneUnsent = combinations(3).filter((o) => !o.some(isUnsent));
const NON_TERMINAL = EMAIL_STATUSES.filter((s) => !isTerminal(s));

/**
 * Each writer of emails.status: the statuses an email can be in when it writes, and the statuses
 * the rules make it write there (src/db/*: attempts, lifecycle; src/activities/send-email.ts).
 */
const WRITERS: Array<{ writer: string; from: EmailStatus[]; to: EmailStatus[] }> = [
  {
    writer: 'an attempt begins (beginAttempt)',
    // queued/scheduled: the first attempt; retrying: a retry; sending: after an interrupted attempt
    from: ['queued', 'scheduled', 'retrying', 'sending'],
    to: ['sending'],
  },
  {
    writer: 'an attempt ends with replies (recordAttempt: statusOfRecipients)',
    from: ['sending'],
    to: distinct(combinations(3).map(statusOfRecipients)),
  },
  {
    writer: 'an attempt is refused for good (recordAttempt after a 5yz: outcomeWhenEnded)',
    from: ['sending'],
    to: distinct(combinations(3).map((o) => statusOfRecipients(o.map(outcomeWhenEnded)))),
  },
  {
    writer: 'the duplicate guard after earlier attempts (closeWithKnownOutcome)',
    from: ['retrying', 'sending'],
    to: distinct(outcomesWithNoneUnsent.map(statusOfRecipients)),
  },
  {
    // A re-driven email failed: none of its recipients was accepted.
    writer: 'the duplicate guard on a re-driven email (closeWithKnownOutcome)',
    from: ['queued'],
    to: distinct(outcomesWithNoneUnsent.filter((o) => !o.includes('accepted')).map(statusOfRecipients)),
  },
  {
    writer: 'the delivery gives up or is refused (endDelivery)',
    from: ['sending', 'retrying'],
    to: distinct(combinations(3).map((o) => statusOfRecipients(o.map(outcomeWhenEnded)))),
  },
  {
    // Every attempt failed before it began (PostgreSQL unreachable): nothing was sent.
    writer: 'the delivery gives up before any attempt began (endDelivery)',
    from: ['queued', 'scheduled'],
    to: distinct(
      combinations(3)
        .filter((o) => !o.includes('accepted'))
        .map((o) => statusOfRecipients(o.map(outcomeWhenEnded))),
    ),
  },
  {
    writer: 'a control while waiting for the send time (recordChange with DeliveryState.status)',
    from: ['queued', 'scheduled', 'paused'],
    to: workflowStatuses('waiting'),
  },
  {
    // A pause interrupted the first attempt: its record says sending (or retrying).
    writer: 'a pause that interrupted an attempt (recordChange)',
    from: ['sending', 'retrying'],
    to: ['paused'],
  },
  {
    writer: 'a control while retrying (recordChange with DeliveryState.status)',
    from: ['retrying', 'paused'],
    to: workflowStatuses('retrying'),
  },
  { writer: 'a cancel (cancel)', from: NON_TERMINAL, to: ['cancelled'] },
  { writer: 'a re-drive (prepareRedrive)', from: ['failed'], to: ['queued'] },
  { writer: 'a re-drive whose run could not start (abandonRedrive)', from: ['queued'], to: ['failed'] },
];

describe('the rules against ALLOWED_TRANSITIONS', () => {
  test('the writers produce what the rules say', () => {
    expect(workflowStatuses('waiting')).toEqual(['paused', 'queued', 'scheduled']);
    expect(workflowStatuses('retrying')).toEqual(['paused', 'retrying']);
    expect(WRITERS[1].to).toEqual(['failed', 'retrying', 'sent']);
    expect(WRITERS[2].to).toEqual(['failed', 'sent']);
  });

  test.each(WRITERS.map((w) => [w.writer, w] as const))('%s: every change it makes is allowed', (_name, { from, to }) => {
    const refused: string[] = [];
    for (const a of from) {
      for (const b of to) {
        // Writing the same status again is not a transition (the trigger ignores it).
        if (a !== b && !ALLOWED_TRANSITIONS[a].includes(b)) refused.push(`${a} -> ${b}`);
      }
    }
    expect(refused).toEqual([]);
  });

  test('the table is closed over the statuses and never lists a self-transition', () => {
    expect(Object.keys(ALLOWED_TRANSITIONS).sort()).toEqual([...EMAIL_STATUSES].sort());
    for (const [from, tos] of Object.entries(ALLOWED_TRANSITIONS)) {
      for (const to of tos) {
        expect(EMAIL_STATUSES).toContain(to);
        expect(to).not.toBe(from);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The migrations' table, computed from the SQL without a database.

const MIGRATIONS = path.resolve(__dirname, '../../migrations');
const TABLE = 'email_status_transitions';

/** The SQL statements of a migration, without comments and dollar-quoted bodies. */
function statements(sql: string): string[] {
  return sql
    .replace(/\$\$[\s\S]*?\$\$/g, '$$$$')
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** Applies every statement on email_status_transitions, in migration order; refuses any it does not understand. */
function transitionsFromMigrations(): Set<string> {
  let rows: Set<string> | undefined;
  const dirs = readdirSync(MIGRATIONS).sort();
  for (const dir of dirs) {
    for (const statement of statements(readFileSync(path.join(MIGRATIONS, dir, 'index.sql'), 'utf8'))) {
      if (!statement.includes(TABLE) || /^create (or replace )?function|^create trigger/i.test(statement)) continue;
      let match: RegExpMatchArray | null;
      if (/^create table email_status_transitions \(/i.test(statement)) {
        rows = new Set();
      } else if ((match = statement.match(/^insert into email_status_transitions \(from_status, to_status\) values (.*)$/i))) {
        const pairs = [...match[1].matchAll(/\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)/g)];
        expect(pairs.length).toBeGreaterThan(0);
        for (const [, from, to] of pairs) rows!.add(`${from} -> ${to}`);
      } else if (/^delete from email_status_transitions where from_status = to_status$/i.test(statement)) {
        for (const row of [...rows!]) if (row.split(' -> ')[0] === row.split(' -> ')[1]) rows!.delete(row);
      } else if ((match = statement.match(/^delete from email_status_transitions where from_status = '(\w+)' and to_status = '(\w+)'$/i))) {
        rows!.delete(`${match[1]} -> ${match[2]}`);
      } else {
        throw new Error(`${dir}: a statement on ${TABLE} this test cannot apply; teach it: ${statement}`);
      }
    }
  }
  if (!rows) throw new Error(`no migration creates ${TABLE}`);
  return rows;
}

describe('ALLOWED_TRANSITIONS against the migrations', () => {
  test('the rows the migrations leave in email_status_transitions equal ALLOWED_TRANSITIONS', () => {
    const code = Object.entries(ALLOWED_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from} -> ${to}`));
    expect([...transitionsFromMigrations()].sort()).toEqual(code.sort());
  });

  test('00001 held the self-transitions that 00003 removes (the parser applies both)', () => {
    const initial = statements(readFileSync(path.join(MIGRATIONS, '00001_init', 'index.sql'), 'utf8')).find((s) =>
      s.startsWith(`insert into ${TABLE}`),
    );
    expect(initial).toContain("('sending', 'sending')");
    expect(initial).toContain("('retrying', 'retrying')");
    expect(transitionsFromMigrations().has('sending -> sending')).toBe(false);
  });

  test('the emails.status check lists exactly EMAIL_STATUSES', () => {
    const init = readFileSync(path.join(MIGRATIONS, '00001_init', 'index.sql'), 'utf8');
    const check = init.match(/status text not null check \(status in \(([^)]*)\)\)/);
    expect(check).not.toBeNull();
    const listed = [...check![1].matchAll(/'(\w+)'/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...EMAIL_STATUSES].sort());
  });
});

describe('attemptAbortAfterMs: an attempt stops sending before Temporal gives up on it', () => {
  const now = 1_000_000;
  test.each([
    ['its own timeout only (the local first attempt)', { startToCloseTimeoutMs: 40_000 }, 38_000],
    [
      'the give-up time comes first',
      { startToCloseTimeoutMs: 40_000, scheduledTimestampMs: now - 10_000, scheduleToCloseTimeoutMs: 14_000 },
      3_000,
    ],
    [
      'its own timeout comes first',
      { startToCloseTimeoutMs: 8_000, scheduledTimestampMs: now - 1_000, scheduleToCloseTimeoutMs: 3_600_000 },
      6_000,
    ],
    [
      'almost no time left: stops almost at once',
      { startToCloseTimeoutMs: 40_000, scheduledTimestampMs: now - 13_950, scheduleToCloseTimeoutMs: 14_000 },
      100,
    ],
    ['no bound at all', {}, undefined],
  ])('%s', (_what, info, expected) => {
    expect(attemptAbortAfterMs({ nowMs: now, ...info })).toBe(expected);
  });
});

test('attemptAbortAfterMs is a whole number of milliseconds (AbortSignal.timeout takes no fraction)', () => {
  const ms = attemptAbortAfterMs({
    nowMs: 1_000_000.5,
    startToCloseTimeoutMs: 40_000,
    scheduledTimestampMs: 999_000,
    scheduleToCloseTimeoutMs: 4_003,
  });
  expect(Number.isInteger(ms)).toBe(true);
});
