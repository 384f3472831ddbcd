// The suppression list: recipients a tenant no longer sends to. A recipient the gateway refuses
// with a permanent mailbox failure is suppressed automatically; a refusal for policy or
// reputation says something about the sender, not the mailbox, and never suppresses.

/** Enhanced status codes (RFC 3463) that say the mailbox does not exist or is disabled. */
export const SUPPRESSING_CODES = ['5.1.1', '5.1.10', '5.2.1'] as const;

/** Why an address is on the list: a gateway's refusal, an operator's (or tenant's) choice, or the recipient's own (one-click unsubscribe). */
export const SUPPRESSION_SOURCES = ['bounce', 'manual', 'unsubscribe'] as const;
export type SuppressionSource = (typeof SUPPRESSION_SOURCES)[number];

/** A refusal for policy or reputation (RFC 3463 x.7.x, or words to that effect). */
const POLICY_WORDS =
  /\b(?:block(?:ed|list(?:ed)?)?|black ?list(?:ed)?|spam\w*|policy|policies|reputation|rbl|dnsbl|spamhaus|abuse|denied)\b/i;
/** A bare 550 to RCPT whose text says the mailbox does not exist. */
const UNKNOWN_USER =
  /\b(?:user unknown|unknown user|no such (?:user|mailbox|recipient|account|address)|(?:user|mailbox|recipient|account|address) (?:does ?n[o']t exist|not found|unknown|is unknown|does not exist)|unknown (?:recipient|mailbox|address|account)|invalid (?:recipient|mailbox)|mailbox not found|undeliverable address|no mailbox here)\b/i;
const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;
const MAX_REPLY_CHARS = 2_000;

/** The gateway's refusal of one recipient at RCPT TO. */
export interface RecipientRefusal {
  smtpCode?: number;
  smtpResponse?: string;
}

/**
 * Whether a recipient refusal at RCPT TO suppresses the address: 5.1.1 (no such mailbox),
 * 5.1.10 (null MX), 5.2.1 (mailbox disabled), or a bare 550 whose text says "user unknown" or the
 * like. A 5.7.x or a reply that speaks of blocks, spam, policy or reputation never does.
 */
export function suppressesRecipient({ smtpCode, smtpResponse }: RecipientRefusal): boolean {
  if (smtpCode === undefined || smtpCode < 500 || smtpCode >= 600) return false;
  // The reply's text, after its code: "550-5.1.1 ..." or "550 5.1.1 ...".
  const text = (smtpResponse ?? '').slice(0, MAX_REPLY_CHARS).replace(/^\d{3}[ -]?/, '');
  if (POLICY_WORDS.test(text)) return false;
  const enhanced = ENHANCED.exec(text);
  if (enhanced) {
    const code = `${enhanced[1]}.${Number(enhanced[2])}.${Number(enhanced[3])}`;
    return (SUPPRESSING_CODES as readonly string[]).includes(code);
  }
  return smtpCode === 550 && UNKNOWN_USER.test(text);
}
