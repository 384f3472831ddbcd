export { deliverEmail } from './deliver-email';
export { reconcileOrphans } from './reconcile-orphans';
