export { deliverEmail } from './deliver-email';
