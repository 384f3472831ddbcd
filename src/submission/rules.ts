import { IdempotencyHeaderSchema, isEmailAddress } from '../api/schemas/email';

// The API's input rules, used as they are so that both intakes accept the same addresses and
// keys. This is the one place to repoint when those rules move to src/shared.

/** An envelope address (MAIL FROM, RCPT TO) or a header address, lower-cased, as the API would take it. */
export function isAcceptableAddress(address: string): boolean {
  return isEmailAddress(address);
}

/** An idempotency key as the API's Idempotency-Key header takes it. */
export function isAcceptableIdempotencyKey(key: string): boolean {
  return IdempotencyHeaderSchema.shape['idempotency-key'].safeParse(key).success;
}
