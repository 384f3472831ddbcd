// How campaigns are paced and bounded (CAMPAIGN_* in src/config.ts).

export interface CampaignSettings {
  /** At most this many of a campaign's emails unfinished at once. */
  window: number;
  /** At most this many recipients handed over by one activity. */
  pageSize: number;
  /** Steps per workflow run before continue-as-new. */
  pagesPerRun: number;
  /** One upload, in bytes. */
  uploadMaxBytes: number;
  /** One line (CSV record or NDJSON object) of an upload, in bytes. */
  maxLineBytes: number;
  /** Recipients of one campaign, all uploads together. */
  maxRecipients: number;
}

export const DEFAULT_CAMPAIGN_SETTINGS: CampaignSettings = {
  window: 200,
  pageSize: 100,
  pagesPerRun: 500,
  uploadMaxBytes: 256 * 1024 * 1024,
  maxLineBytes: 16 * 1024,
  maxRecipients: 1_000_000,
};
