import { createHash, randomBytes } from 'node:crypto';

// API keys: `hk_<key id>_<secret>`. The prefix makes a leaked key easy to recognise (and to scan
// for); the secret is 256 random bits, so a plain SHA-256 is enough to store it (no password
// hashing needed for a secret nobody chose). The key id is public: it names the key in lists and
// revocations.

const KEY = /^hk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  id: string;
  /** The whole key: shown once, never stored. */
  key: string;
  hash: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateKey(): NewKey {
  const id = `hk_${randomBytes(6).toString('hex')}`;
  const key = `${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: hashKey(key) };
}

/** Whether a string has the shape of a Herald key (checked before any lookup). */
export function looksLikeKey(value: string): boolean {
  return KEY.test(value);
}
