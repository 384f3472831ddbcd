import { IdempotencyHeaderSchema } from '../api/schemas/email';
import { normalizeAddress } from '../shared';

// The API's input rules, used as they are so that both intakes accept the same addresses and
// keys: the address rule of src/shared, the API's idempotency key schema.

/** An envelope address (MAIL FROM, RCPT TO) or a header address, lower-cased, as the API would take it. */
export function isAcceptableAddress(address: string): boolean {
  return normalizeAddress(address).ok;
}

/** An idempotency key as the API's Idempotency-Key header takes it. */
export function isAcceptableIdempotencyKey(key: string): boolean {
  return IdempotencyHeaderSchema.shape['idempotency-key'].safeParse(key).success;
}
