import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { SEARCH_ATTRIBUTE_KEYS as K, type DeliverEmailInput, type EmailStatus } from '../shared';

/** The attributes set at start, so a delivery is findable before its first workflow task. */
export function typedSearchAttributesFor(input: DeliverEmailInput, status: EmailStatus): TypedSearchAttributes {
  const pairs: SearchAttributePair[] = [
    { key: K.status, value: status },
    { key: K.emailId, value: input.emailId },
    { key: K.tenant, value: input.tenantId },
    { key: K.recipientDomains, value: input.recipientDomains },
  ];
  if (input.tags.length) pairs.push({ key: K.tags, value: input.tags });
  return new TypedSearchAttributes(pairs);
}
