/** Email ids are UUIDs; anything else cannot name an email (answered 404, not looked up). */
export function isEmailId(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
