// The email model: what a caller hands Herald, as storage, the API and SMTP all see it.

export interface Address {
  name?: string;
  address: string;
}

export interface EmailContent {
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  text?: string;
  html?: string;
  headers: Record<string, string>;
}

export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** Where an email came in: the HTTP API, or SMTP submission. */
export const EMAIL_SOURCES = ['api', 'smtp'] as const;
export type EmailSource = (typeof EMAIL_SOURCES)[number];

/**
 * A message handed over whole (SMTP submission): kept as submitted, with only its Message-ID and
 * Date ensured and its Bcc removed, and sent as these very bytes at every attempt.
 */
export interface SubmittedMessage {
  message: Buffer;
  /** The envelope sender (MAIL FROM), which may differ from the From header. */
  mailFrom: string;
}

/** Everything needed to build the message again, at every attempt. */
export interface EmailMessage {
  from: Address;
  subject: string;
  messageId: string;
  content: EmailContent;
  attachments: Attachment[];
  /** Present for a message submitted whole: sent as it is, never composed. */
  submitted?: SubmittedMessage;
}

/** A tenant owns emails, keys and limits; `default` is the one of a development stack. */
export const DEFAULT_TENANT = 'default';

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** To, cc and bcc together: the envelope's recipients. */
export function recipientsOf(content: Pick<EmailContent, 'to' | 'cc' | 'bcc'>): Address[] {
  return [...content.to, ...content.cc, ...content.bcc];
}

/** Distinct recipient domains, lower-cased and sorted. */
export function recipientDomains(addresses: Array<Address | string>): string[] {
  const domains = addresses.map((a) => domainOf(typeof a === 'string' ? a : a.address));
  return [...new Set(domains)].sort();
}
