import { readUpload, uploadFormat, UploadError, type RawRow, type UploadFormat } from '../../src/campaigns/upload';

// Reading uploads as they stream: rows with their line numbers, bad rows reported, not fatal;
// bounds on the whole and on each line; the list never held.

const limits = { maxBytes: 1024 * 1024, maxLineBytes: 200 };

/** A body that arrives in small chunks, split anywhere (even inside a character). */
function body(text: string | Buffer, chunk = 7): ReadableStream<Uint8Array> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(new Uint8Array(bytes.subarray(at, at + chunk)));
      at += chunk;
    },
  });
}

async function rows(text: string | Buffer, format: UploadFormat, required: string[] = [], l = limits): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const row of readUpload(body(text), format, l, required)) out.push(row);
  return out.sort((a, b) => a.line - b.line);
}

describe('CSV', () => {
  test('a header with email and the variables; each row with its line; CRLF, LF, BOM, quotes and multi-byte characters', async () => {
    const csv = '\uFEFFEmail,first\r\nann@example.org,Ann\nbob@example.org,"Bob, ""the"" builder"\n\nchloé@example.org,Chloé\n';
    expect(await rows(csv, 'csv', ['first'])).toEqual([
      { line: 2, fields: { email: 'ann@example.org', first: 'Ann' } },
      { line: 3, fields: { email: 'bob@example.org', first: 'Bob, "the" builder' } },
      { line: 5, fields: { email: 'chloé@example.org', first: 'Chloé' } },
    ]);
  });

  test('a row with too few or too many fields is reported with its line, and the rows after it are read', async () => {
    const csv = 'email,first\na@example.org,A\nb@example.org\nc@example.org,C,extra\nd@example.org,D\n';
    expect(await rows(csv, 'csv', ['first'])).toEqual([
      { line: 2, fields: { email: 'a@example.org', first: 'A' } },
      { line: 3, error: 'not as many fields as the header has columns' },
      { line: 4, error: 'not as many fields as the header has columns' },
      { line: 5, fields: { email: 'd@example.org', first: 'D' } },
    ]);
  });

  test('a record whose quoted field spans lines is numbered by its first line', async () => {
    const csv = 'email,note\na@example.org,"one\r\ntwo\nthree"\nb@example.org,B\n';
    expect(await rows(csv, 'csv', ['note'])).toEqual([
      { line: 2, fields: { email: 'a@example.org', note: 'one\r\ntwo\nthree' } },
      { line: 5, fields: { email: 'b@example.org', note: 'B' } },
    ]);
  });

  test('a stray quote inside a field is kept as a character', async () => {
    expect(await rows('email,first\na@example.org,5" screen\n', 'csv', ['first'])).toEqual([
      { line: 2, fields: { email: 'a@example.org', first: '5" screen' } },
    ]);
  });

  test('a header without email, without a variable the templates use, or naming a column twice refuses the upload', async () => {
    await expect(rows('address,first\nx@example.org,X\n', 'csv', ['first'])).rejects.toThrow(/lacks the email column/);
    await expect(rows('email,last\nx@example.org,X\n', 'csv', ['first'])).rejects.toThrow(/lacks the column first/);
    await expect(rows('email,first,first\nx@example.org,X,Y\n', 'csv', ['first'])).rejects.toThrow(/names first twice/);
    await expect(rows('', 'csv')).rejects.toThrow(/empty/);
  });

  test('a quote never closed, or a record over the line bound, refuses the upload with the line', async () => {
    await expect(rows('email,first\na@example.org,A\nb@example.org,"B\nc@example.org,C\n', 'csv', ['first'])).rejects.toThrow(
      /line \d+: a quoted field is never closed/,
    );
    await expect(rows(`email,first\na@example.org,${'x'.repeat(300)}\nb@example.org,B\n`, 'csv', ['first'])).rejects.toThrow(
      /line 2: a record is longer than 200 bytes/,
    );
  });

  test('the upload is bounded in bytes, whatever its rows', async () => {
    const big = 'email\n' + 'a@example.org\n'.repeat(1000);
    const error = await rows(big, 'csv', [], { maxBytes: 5000, maxLineBytes: 200 }).catch((e) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error.kind).toBe('too-large');
  });
});

describe('NDJSON', () => {
  test('one object a line, with its line; blank lines skipped; bad lines reported and not fatal', async () => {
    const text = [
      '{"email":"a@example.org","first":"A"}',
      '',
      'not json',
      '[1,2]',
      '{"email":"b@example.org","n":3}\r',
      '{"email":"c@example.org"}',
    ].join('\n');
    expect(await rows(text, 'ndjson')).toEqual([
      { line: 1, fields: { email: 'a@example.org', first: 'A' } },
      { line: 3, error: 'not valid JSON' },
      { line: 4, error: 'must be a JSON object { "email", ...variables }' },
      { line: 5, fields: { email: 'b@example.org', n: 3 } },
      { line: 6, fields: { email: 'c@example.org' } },
    ]);
  });

  test('a line over the bound is reported without being held, and the next line is read', async () => {
    const text = `{"email":"a@example.org","x":"${'y'.repeat(5000)}"}\n{"email":"b@example.org"}\n`;
    expect(await rows(text, 'ndjson')).toEqual([
      { line: 1, error: 'longer than 200 bytes' },
      { line: 2, fields: { email: 'b@example.org' } },
    ]);
  });
});

test('content types', () => {
  expect(uploadFormat('text/csv; charset=utf-8')).toBe('csv');
  expect(uploadFormat('application/x-ndjson')).toBe('ndjson');
  expect(uploadFormat('application/json')).toBeUndefined();
  expect(uploadFormat(undefined)).toBeUndefined();
});
