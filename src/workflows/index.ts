export { deliverEmail } from './deliver-email';
export { sweepOrphans } from './sweep-orphans';
export { sendCampaign } from './send-campaign';
export { startBatch } from './start-batch';
export { deliverWebhooks } from './deliver-webhooks';
