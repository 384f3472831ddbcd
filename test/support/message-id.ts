/** The Message-ID (without angle brackets) in the header block of a raw message, if any. */
export function messageIdOf(raw: string): string | undefined {
  const headerEnd = raw.search(/\r?\n\r?\n/);
  const head = headerEnd >= 0 ? raw.slice(0, headerEnd) : raw;
  return /^message-id:\s*<([^>\r\n]+)>/im.exec(head)?.[1];
}
