import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { submitStream } from './lib/load';
import { useFaultStack } from './lib/stack';
import { after } from './lib/timeline';


// RFC 1047 window, first form: smtp-sink -q . takes the whole message, final dot included, then
// disconnects without a reply, for 6 s. Herald cannot know whether the gateway kept the
// message: the attempt is recorded 'uncertain' and, by the documented policy, the message is
// sent again with the same Message-ID. The suite counts the copies that arrived.

const SLUG = '06-cut-after-dot';
const EMAILS = 20;
const FAULT_MS = 6000;

const scenario = useFaultStack(SLUG, { gateway: smtpSink(['-q', '.']) });

test('connection cut after the final dot: uncertain, resent with the same Message-ID, copies counted', async () => {
  const startedAt = Date.now();
  const heal = after(FAULT_MS, () => scenario.gateway.start([]));
  const subs = await submitStream({ scenario: SLUG, baseUrl: () => scenario.stack.apiUrl, apiKey: scenario.stack.apiKey, count: EMAILS, intervalMs: 150 });
  const recoveredAt = await heal;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'connection cut after the final dot (RFC 1047)',
    peer: 'smtp-sink',
    fault: 'smtp-sink -q . (disconnect after the final dot, no reply) for 6 s, then a normal smtp-sink',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  for (const email of report.emails) {
    const uncertain = email.attempts.filter((a) => a.outcome === 'uncertain');
    // Every email was first sent inside the window: at least one uncertain attempt, on record.
    expect(uncertain.length).toBeGreaterThanOrEqual(1);
    // Cut after the dot: uncertain. (The sink's restart refuses connections for a moment:
    // those attempts are plain transient failures, ESOCKET/ECONNECTION before any data.)
    for (const a of email.attempts.slice(0, -1)) {
      if (a.outcome === 'uncertain') expect(a.errorCode).toMatch(/^(ECONNECTION|ESOCKET)$/);
      else expect(a).toMatchObject({ outcome: 'transient', errorCode: expect.stringMatching(/^(ESOCKET|ECONNECTION)$/) });
    }
    expect(email.attempts.at(-1)!.outcome).toBe('sent');
    // Policy: resend. A cut attempt leaves at most one copy at the gateway (none when the sink's
    // own restart killed it before it stored the message), and the last attempt one more.
    expect(email.copies).toBeGreaterThanOrEqual(2);
    expect(email.copies).toBeLessThanOrEqual(uncertain.length + 1);
  }
  expect(report.uncertainEmails).toBe(EMAILS);
});
