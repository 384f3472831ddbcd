import { defineSearchAttributeKey, TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import type { EmailStatus } from './status';
import type { DeliverEmailInput } from './workflow-input';
import { utf8Length } from './text';

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
  const { recipientDomains, tags } = boundedSearchLists(input);
  const pairs: SearchAttributePair[] = [
    { key: K.status, value: status },
    { key: K.emailId, value: input.emailId },
    { key: K.tenant, value: input.tenantId },
    { key: K.recipientDomains, value: recipientDomains },
  ];
  if (tags.length) pairs.push({ key: K.tags, value: tags });
  return new TypedSearchAttributes(pairs);
}

/**
 * Temporal's default limits: 2 KB for one search attribute's value (a keyword list counts whole,
 * JSON-encoded) and 40 KB for all of a workflow's. A list over its budget keeps the values that
 * fit, in order, and ends with a marker saying how many were left out.
 */
export const SEARCH_ATTRIBUTE_LIMITS = { valueBytes: 2048, totalBytes: 40 * 1024, listBudgetBytes: 1900 } as const;

export const truncationMarker = (leftOut: number) => `(+${leftOut} more)`;

/** A keyword list that fits one search attribute value: distinct, sorted, truncated with a marker. */
export function boundedKeywordList(values: readonly string[], budgetBytes: number = SEARCH_ATTRIBUTE_LIMITS.listBudgetBytes): string[] {
  const distinct = [...new Set(values)].sort();
  const cost = (v: string) => utf8Length(JSON.stringify(v)) + 1; // the value, quoted, and its comma
  let used = 2; // [ and ]
  const kept: string[] = [];
  for (let i = 0; i < distinct.length; i++) {
    const leftAfter = distinct.length - i - 1;
    const reserve = leftAfter > 0 ? cost(truncationMarker(leftAfter)) : 0;
    if (used + cost(distinct[i]) + reserve > budgetBytes) {
      kept.push(truncationMarker(distinct.length - i));
      return kept;
    }
    kept.push(distinct[i]);
    used += cost(distinct[i]);
  }
  return kept;
}

/** Recipient domains and tags as a delivery carries them: each list bounded for search attributes. */
export function boundedSearchLists(lists: { recipientDomains: readonly string[]; tags: readonly string[] }): {
  recipientDomains: string[];
  tags: string[];
} {
  return { recipientDomains: boundedKeywordList(lists.recipientDomains), tags: boundedKeywordList(lists.tags) };
}
