import { defineSearchAttributeKey } from '@temporalio/common';

// Custom search attributes upserted by the workflow, so a person finds deliveries in the Web UI
// and with `temporal workflow list --query`. They must be registered on the Temporal server:
// `npm start` does it for the dev server; see the README for a real cluster.
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
