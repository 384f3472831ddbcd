export { deliverEmail, stateQuery, cancelRequestedSignal } from './deliver-email';
