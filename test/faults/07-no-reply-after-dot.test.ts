import { account, assertNothingLost } from './lib/accounting';
import { scriptedSmtp } from './lib/gateways';
import { useFaultStack } from './lib/stack';

// RFC 1047 window, second form: the gateway takes the message and never answers the final dot.
// nodemailer's socket timeout (80 % of SMTP_ATTEMPT_TIMEOUT_MS) fires; the attempt is recorded
// 'uncertain' (ETIMEDOUT after the data went out) and the message is sent again with the same
// Message-ID, which the gateway accepts. Two copies per email: the policy's known cost.

const SLUG = '07-no-reply-after-dot';
const EMAILS = 20;

const scenario = useFaultStack(SLUG, {
  gateway: scriptedSmtp({ onData: (_call, { attempt }) => (attempt === 0 ? 'stall' : undefined) }),
  // One pooled connection per email of the burst: this scenario is about the missing reply,
  // not about waiting for a connection (04-slow-gateway is).
  env: { SMTP_ATTEMPT_TIMEOUT_MS: '6000', SMTP_POOL_MAX_CONNECTIONS: String(EMAILS) },
});

test('no reply after the final dot: timeout recorded uncertain, resent with the same Message-ID', async () => {
  const startedAt = Date.now();
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 100,
  });
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'gateway never replies after the final dot (RFC 1047)',
    peer: 'smtp-server',
    fault: 'first final dot of each message never answered (socket timeout 4.8 s, attempt timeout 6 s)',
    startedAt,
    recoveredAt: Date.now(),
    recoveryWindowMs: 30_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  for (const email of report.emails) {
    expect(email.attempts).toEqual([
      expect.objectContaining({ outcome: 'uncertain', errorCode: 'ETIMEDOUT' }),
      expect.objectContaining({ outcome: 'sent', smtpCode: 250 }),
    ]);
    expect(email.copies).toBe(2);
  }
  expect(report.uncertainEmails).toBe(EMAILS);
});
