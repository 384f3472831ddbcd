import type { DeliverEmailInput, DeliveryPolicy } from '../shared';
import type { Address } from '../smtp/message';

/** The one-line summary shown for a delivery in the Temporal Web UI. */
export function deliverySummary(recipients: Array<Address | string>, subject: string): string {
  const first = recipients.map((r) => (typeof r === 'string' ? r : r.address))[0] ?? '';
  const more = recipients.length > 1 ? ` (+${recipients.length - 1})` : '';
  const line = `To ${first}${more}: "${subject}"`;
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** The workflow input for a new run of an already stored email (re-drive). */
export function redriveInput(ref: { id: string; tags: string[]; domains: string[] }, tenantId: string, policy: DeliveryPolicy): DeliverEmailInput {
  return { emailId: ref.id, tenantId, policy, recipientDomains: ref.domains, tags: ref.tags };
}
