import { defineSearchAttributeKey, TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import type { EmailStatus } from './status';
import type { DeliverEmailInput } from './workflow-input';

// Custom search attributes, so a person finds deliveries in the Web UI and with
// `temporal workflow list --query`. They must be registered on the Temporal server: `npm start`
// does it for the dev server; see the README for a real cluster.
export const SEARCH_ATTRIBUTE_KEYS = {
  status: defineSearchAttributeKey('HeraldStatus', 'KEYWORD'),
  emailId: defineSearchAttributeKey('HeraldEmailId', 'KEYWORD'),
  tenant: defineSearchAttributeKey('HeraldTenant', 'KEYWORD'),
  recipientDomains: defineSearchAttributeKey('HeraldRecipientDomains', 'KEYWORD_LIST'),
  tags: defineSearchAttributeKey('HeraldTags', 'KEYWORD_LIST'),
} as const;

/** For `temporal operator search-attribute create` and the dev server's --search-attribute. */
export const SEARCH_ATTRIBUTE_CLI_TYPES: Record<string, 'Keyword' | 'KeywordList'> = {
  HeraldStatus: 'Keyword',
  HeraldEmailId: 'Keyword',
  HeraldTenant: 'Keyword',
  HeraldRecipientDomains: 'KeywordList',
  HeraldTags: 'KeywordList',
};

/** The attributes set at start, so a delivery is findable before its first workflow task. */
export function searchAttributesAtStart(input: DeliverEmailInput, status: EmailStatus): TypedSearchAttributes {
  const K = SEARCH_ATTRIBUTE_KEYS;
  const pairs: SearchAttributePair[] = [
    { key: K.status, value: status },
    { key: K.emailId, value: input.emailId },
    { key: K.tenant, value: input.tenantId },
    { key: K.recipientDomains, value: input.recipientDomains },
  ];
  if (input.tags.length) pairs.push({ key: K.tags, value: input.tags });
  return new TypedSearchAttributes(pairs);
}
