import { outcomeWhenEnded, statusOfRecipients, suppressesRecipient } from '../../src/shared';

// Which refusals at RCPT TO put the address on the tenant's suppression list.

test.each([
  // Permanent mailbox failures: suppressed.
  [550, '550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table', true],
  [
    550,
    "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
    true,
  ],
  [550, '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found', true],
  [556, '556 5.1.10 Recipient address has null MX', true],
  [550, '550 5.2.1 The email account that you tried to reach is disabled', true],
  [550, '550 User unknown', true],
  [550, '550 No such user here', true],
  [550, '550 Recipient does not exist', true],
  [550, '550 unknown recipient', true],
  [550, '550 Mailbox not found', true],
  // Policy and reputation: never, whatever else the reply says.
  [550, '550 5.7.1 Service unavailable; client host blocked using Spamhaus', false],
  [550, '550 5.7.1 Message rejected due to local policy', false],
  [554, '554 5.7.1 Relay access denied', false],
  [550, '550 5.7.606 Access denied, banned sending IP', false],
  [550, '550 5.7.26 Unauthenticated email is not accepted from this domain (DMARC)', false],
  [550, '550 5.1.1 user unknown (blocked by reputation filter)', false],
  [550, '550 Message looks like spam', false],
  [554, '554 Your IP is on a blocklist', false],
  [550, '550 user unknown; blacklisted sender', false],
  // Other permanent refusals that say nothing of the mailbox's existence: not suppressed.
  [552, '552 5.2.2 Mailbox full', false],
  [550, '550 5.1.8 Bad sender address', false],
  [550, '550 Requested action not taken: mailbox unavailable', false],
  [553, '553 user unknown', false],
  [554, '554 5.6.0 Message rejected', false],
  // Transient: never.
  [450, '450 4.1.1 User unknown (try again)', false],
  [451, '451 5.1.1 odd gateway', false],
  [undefined, 'user unknown', false],
])('%s %s -> suppressed: %s', (smtpCode, smtpResponse, expected) => {
  expect(suppressesRecipient({ smtpCode, smtpResponse })).toBe(expected);
});

test('an email whose every recipient is suppressed is failed; with one accepted, sent', () => {
  expect(statusOfRecipients(['suppressed', 'suppressed'])).toBe('failed');
  expect(statusOfRecipients(['suppressed', 'accepted'])).toBe('sent');
  expect(statusOfRecipients(['suppressed', 'pending'])).toBe('retrying');
  expect(outcomeWhenEnded('suppressed')).toBe('suppressed');
});
