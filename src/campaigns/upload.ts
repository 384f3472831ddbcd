import { Readable, Transform, type TransformCallback } from 'node:stream';
import { parse } from 'csv-parse';

// Reading a recipient upload as it streams in: CSV (a header row with `email` and the variable
// names) or NDJSON (one JSON object a line). Rows come out one by one with their line numbers;
// nothing holds the list, and the bytes and each line are bounded.

export type UploadFormat = 'csv' | 'ndjson';

export interface UploadLimits {
  /** The whole upload, in bytes. */
  maxBytes: number;
  /** One line (one CSV record), in bytes. */
  maxLineBytes: number;
}

/** One row as read: its fields, or why it could not be read. `line` counts from 1 (a CSV's header is line 1). */
export type RawRow = { line: number; fields: Record<string, unknown> } | { line: number; error: string };

/** Why an upload is refused whole (and nothing of it is kept). */
export class UploadError extends Error {
  constructor(
    readonly kind: 'too-large' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** Counts the bytes going through and stops the stream past the bound. */
function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new UploadError('too-large', `the upload exceeds ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
}

/** The content type of an upload, or undefined when it is neither CSV nor NDJSON. */
export function uploadFormat(contentType: string | undefined): UploadFormat | undefined {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  if (type === 'text/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') return 'ndjson';
  return undefined;
}

/**
 * The rows of an upload, in order. A row that cannot be read is yielded with its error; a body
 * over the byte bound, a CSV without a usable header, or CSV that cannot be read past some line
 * (a quote never closed, a record over the line bound) throws an UploadError.
 * `requiredColumns`: what a CSV header must name besides `email`.
 */
export async function* readUpload(
  body: ReadableStream<Uint8Array> | null,
  format: UploadFormat,
  limits: UploadLimits,
  requiredColumns: string[] = [],
): AsyncGenerator<RawRow> {
  if (!body) return;
  const source = Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]);
  const bytes = byteLimit(limits.maxBytes);
  // An error of the source (the client went away) or of the bound ends the reading.
  source.once('error', (err) => bytes.destroy(err));
  source.pipe(bytes);
  try {
    if (format === 'csv') yield* csvRows(bytes, limits, requiredColumns);
    else yield* ndjsonRows(bytes, limits);
  } finally {
    source.destroy();
    bytes.destroy();
  }
}

async function* csvRows(input: Readable, limits: UploadLimits, requiredColumns: string[]): AsyncGenerator<RawRow> {
  const skipped: RawRow[] = [];
  let fatal: UploadError | undefined;
  let header = false;
  let drift = 0;
  const parser = parse({
    bom: true,
    info: true,
    // CRLF and LF alike, even mixed in one file.
    record_delimiter: ['\r\n', '\n'],
    skip_empty_lines: true,
    // A stray quote inside an unquoted field is kept as a character, not a broken record.
    relax_quotes: true,
    max_record_size: limits.maxLineBytes,
    skip_records_with_error: true,
    columns: (names: string[]) => {
      header = true;
      const columns = names.map((n) => (n.trim().toLowerCase() === 'email' ? 'email' : n.trim()));
      const missing = ['email', ...requiredColumns].filter((c) => !columns.includes(c));
      if (missing.length)
        throw new UploadError(
          'invalid',
          `the CSV header (line 1) lacks ${missing.map((c) => (c === 'email' ? 'the email column' : `the column ${c} (the templates use {{${c}}})`)).join(', ')}`,
        );
      const repeated = columns.find((c, i) => columns.indexOf(c) !== i);
      if (repeated) throw new UploadError('invalid', `the CSV header (line 1) names ${repeated} twice`);
      return columns;
    },
  });
  parser.on('skip', (err: Error & { code?: string; lines?: number }) => {
    const line = (err.lines ?? 0) - drift;
    // After these csv-parse cannot find the next record: the rest of the file is unreadable.
    if (err.code === 'CSV_QUOTE_NOT_CLOSED' || err.code === 'CSV_MAX_RECORD_SIZE') {
      const why =
        err.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is never closed' : `a record is longer than ${limits.maxLineBytes} bytes`;
      fatal ??= new UploadError('invalid', `line ${line}: ${why}; the rest of the CSV cannot be read`);
      parser.destroy(fatal);
      return;
    }
    const reason =
      err.code === 'CSV_RECORD_INCONSISTENT_COLUMNS'
        ? 'not as many fields as the header has columns'
        : err.message.split(/ at line| on line/)[0];
    skipped.push({ line, error: reason });
  });
  input.once('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield* skipped.splice(0);
      // info.lines is the record's last line; a quoted field may span several, and csv-parse
      // counts a CRLF inside quotes as two lines: both are taken back to the file's own lines.
      let breaks = 0;
      for (const value of Object.values(record)) {
        breaks += value.match(/\r\n|\r|\n/g)?.length ?? 0;
        drift += value.match(/\r\n/g)?.length ?? 0;
      }
      yield { line: info.lines - drift - breaks, fields: record };
    }
  } catch (err) {
    // csv-parse wraps what the columns function throws.
    const cause = err instanceof UploadError ? err : (err as { cause?: unknown }).cause;
    if (cause instanceof UploadError) throw cause;
    if (fatal) throw fatal;
    throw err;
  }
  if (fatal) throw fatal;
  yield* skipped.splice(0);
  if (!header) throw new UploadError('invalid', 'the CSV is empty: it needs a header row with an email column');
}

async function* ndjsonRows(input: Readable, limits: UploadLimits): AsyncGenerator<RawRow> {
  for await (const { line, text } of lines(input, limits.maxLineBytes)) {
    if (text === undefined) {
      yield { line, error: `longer than ${limits.maxLineBytes} bytes` };
      continue;
    }
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line, error: 'not valid JSON' };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      yield { line, error: 'must be a JSON object { "email", ...variables }' };
    else yield { line, fields: value as Record<string, unknown> };
  }
}

/** Physical lines (LF or CRLF), numbered; a line over the bound comes back without its text, never held whole. */
async function* lines(input: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<{ line: number; text?: string }> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 1;
  const take = () => {
    const text = tooLong ? undefined : Buffer.concat(parts, size).toString('utf8').replace(/\r$/, '');
    const out = { line: line++, text };
    parts = [];
    size = 0;
    tooLong = false;
    return out;
  };
  for await (const chunk of input) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (!tooLong) {
        if (size + piece.length > maxLineBytes) {
          tooLong = true;
          parts = [];
          size = 0;
        } else if (piece.length > 0) {
          parts.push(piece);
          size += piece.length;
        }
      }
      if (newline === -1) break;
      yield take();
      start = newline + 1;
    }
  }
  if (size > 0 || tooLong) yield take();
}
