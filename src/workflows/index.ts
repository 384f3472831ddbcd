export { deliverEmail } from './deliver-email';
export { sweepOrphans } from './sweep-orphans';
export { deliverWebhooks } from './deliver-webhooks';
