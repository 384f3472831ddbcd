import fc from 'fast-check';
import {
  attachmentTypeReason,
  base64DecodedBytes,
  boundedKeywordList,
  customHeaderProblems,
  filenameReason,
  headerUnsafeReason,
  isBase64,
  jsonShapeReason,
  JSON_LIMITS,
  normalizeAddress,
  normalizeDomain,
  SEARCH_ATTRIBUTE_LIMITS,
  sendAtReason,
  toStorable,
  truncate,
  unstorableReason,
  utf8Length,
} from '../../src/shared';

// The input rules of src/shared, on their own: what they accept, what they refuse, and that each
// stays linear on the largest input a request can carry.

describe('text', () => {
  test.each(['\u0000', 'a\ud800', '\udc00b', 'x\ud800\ud800'])('%j cannot be stored', (s) => expect(unstorableReason(s)).toBeDefined());
  test.each(['', 'plain', 'emoji 😀', 'tab\tand newline\n', '\u2028'])('%j can be stored', (s) =>
    expect(unstorableReason(s)).toBeUndefined(),
  );
  test.each(['\r', '\n', '\u0085', '\u000b', '\u000c', '\u001b', '\u007f', '\u009b', '\u2028', '\u2029', '\u0000'])(
    '%j is refused in a header',
    (s) => expect(headerUnsafeReason(`a${s}b`)).toMatch(/^must not contain U\+/),
  );
  test('tab, non-ASCII and emoji are fine in a header', () =>
    expect(headerUnsafeReason('Caf\u00e9\tcr\u00e8me 😀 \u05e9\u05dc\u05d5\u05dd')).toBeUndefined());
  test('toStorable always gives storable text, and leaves storable text alone', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        (s) => unstorableReason(toStorable(s)) === undefined && (unstorableReason(s) !== undefined || toStorable(s) === s),
      ),
    );
  });
  test('utf8Length is Buffer.byteLength for well-formed text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => utf8Length(s) === Buffer.byteLength(s)));
  });
  test('truncate never splits a surrogate pair', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.integer({ min: 4, max: 50 }),
        (s, max) => truncate(s, max).length <= max && unstorableReason(truncate(s, max)) === undefined,
      ),
    );
  });
  test.each(['.', '..', 'a/b', 'a\\b', 'in\u202efdp.exe', 'a\u200b.txt', ' a.txt', 'a\r\n.txt'])('file name %j is refused', (n) =>
    expect(filenameReason(n)).toBeDefined(),
  );
  test.each(['report.pdf', '.profile', 'r\u00e9sum\u00e9.doc', '\u05d3\u05d5\u05d7.pdf'])('file name %j is fine', (n) =>
    expect(filenameReason(n)).toBeUndefined(),
  );
});

describe('attachment content types', () => {
  test.each(['application/pdf', 'text/plain', 'message/rfc822', 'application/vnd.ms-excel', 'image/svg+xml'])('%s is fine', (t) =>
    expect(attachmentTypeReason(t)).toBeUndefined(),
  );
  test.each([
    'text',
    'a/b/c',
    'multipart/mixed',
    'Multipart/Alternative',
    'text/plain; charset=utf-8',
    'text/plain\r\nX: y',
    '/plain',
    `text/${'x'.repeat(128)}`,
  ])('%j is refused', (t) => expect(attachmentTypeReason(t)).toBeDefined());
});

describe('base64', () => {
  test.each(['', 'YQ==', 'YWI=', 'YWJj', '++//'])('%j is base64', (s) => expect(isBase64(s)).toBe(true));
  test.each(['Y', 'YQ=', 'Y===', 'YQ==YQ==', '=YWJ', 'YW J', 'YWJ\n', '-_-_', '****'])('%j is not', (s) => expect(isBase64(s)).toBe(false));
  test('agrees with Buffer on what it accepts, and on the decoded size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const s = Buffer.from(bytes).toString('base64');
        return isBase64(s) && base64DecodedBytes(s) === bytes.length;
      }),
    );
  });
  test('a 20 MB string is checked without a regex over it (a backtracking one overflows the stack)', () => {
    const s = Buffer.alloc(15 * 1024 * 1024, 1).toString('base64');
    expect(isBase64(s)).toBe(true);
    expect(isBase64(`${s.slice(0, -4)}*AAA`)).toBe(false);
  });
});

describe('addresses', () => {
  test.each([
    ['Alice@Example.ORG', 'alice@example.org'],
    ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
    ["o'brien@example.org", "o'brien@example.org"],
    ['a@b\u00fccher.example', 'a@xn--bcher-kva.example'],
    ['a@xn--bcher-kva.example', 'a@xn--bcher-kva.example'],
    ['a@\u4f8b\u3048.jp', 'a@xn--r8jz45g.jp'],
    ['a@example.xn--p1ai', 'a@example.xn--p1ai'],
    ['x@1.example', 'x@1.example'],
  ])('%s is accepted as %s', (input, normalized) => expect(normalizeAddress(input)).toEqual({ ok: true, value: normalized }));
  test.each([
    'a..b@example.org',
    '.a@example.org',
    'a.@example.org',
    `${'a'.repeat(65)}@example.org`,
    'a@example.123',
    'a@1.2.3.4',
    'a@[1.2.3.4]',
    'a@localhost',
    'a@-x.org',
    'a@x-.org',
    'a@x_y.org',
    'a@example.org.',
    'a@xn--a.org',
    'a\u200b@example.org',
    'a@ex\u00adample.org',
    'a@ex\u202eample.org',
    '"a b"@example.org',
    'jos\u00e9@example.org',
    'a@b@example.org',
    'a @example.org',
  ])('%j is refused', (input) => expect(normalizeAddress(input).ok).toBe(false));
  test('normalizing is idempotent', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (a) => {
        const once = normalizeAddress(a);
        return !once.ok || JSON.stringify(normalizeAddress(once.value)) === JSON.stringify(once);
      }),
    );
  });
  test('a normalized address is ASCII, storable and header-safe', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const r = normalizeAddress(`${s}@example.org`);
        return !r.ok || (/^[\x21-\x7e]+$/.test(r.value) && r.value.length <= 254);
      }),
    );
  });
  test('a domain filter takes the same form as stored recipients', () =>
    expect(normalizeDomain('B\u00fccher.Example')).toEqual({ ok: true, value: 'xn--bcher-kva.example' }));
  test('a 14 MB address is refused by its length, before any pattern runs over it', () => {
    expect(normalizeAddress(`${'a'.repeat(14 * 1024 * 1024)}@example.org`)).toEqual({
      ok: false,
      reason: 'must be at most 254 characters',
    });
  });
});

describe('custom headers', () => {
  test.each([
    'Received',
    'DKIM-Signature',
    'ARC-Seal',
    'Authentication-Results',
    'Received-SPF',
    'Resent-From',
    'Content-Type',
    'Return-Path',
    'message-id',
  ])('%s is reserved', (name) =>
    expect(customHeaderProblems({ [name]: 'x' })).toEqual([{ name, reason: expect.stringContaining('cannot be given') }]),
  );
  test('custom headers, in bounds, are fine', () =>
    expect(customHeaderProblems({ 'X-Order': '1234', 'List-Unsubscribe': '<mailto:u@example.org>', 'In-Reply-To': '<a@b>' })).toEqual([]));
  test('one name twice in two cases is refused', () => expect(customHeaderProblems({ 'X-A': '1', 'x-a': '2' })).toHaveLength(1));
  test('51 headers are refused as a whole', () =>
    expect(customHeaderProblems(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-${i}`, 'v'])))).toEqual([
      { reason: 'at most 50 custom headers' },
    ]));
});

describe('dates', () => {
  const now = Date.parse('2030-06-01T00:00:00Z');
  test.each([
    ['0000-01-01T00:00:00Z', 'past'],
    ['2030-05-30T23:59:59Z', 'past'],
    ['2031-06-03T00:00:00Z', 'ahead'],
    ['9999-12-31T23:59:59Z', 'ahead'],
    ['soon', 'ISO'],
  ])('sendAt %s is refused (%s)', (iso, why) => expect(sendAtReason(iso, now)).toContain(why));
  test.each(['2030-05-31T01:00:00Z', '2030-06-01T00:00:00+02:00', '2031-06-01T00:00:00Z'])('sendAt %s is fine', (iso) =>
    expect(sendAtReason(iso, now)).toBeUndefined(),
  );
});

describe('search attributes', () => {
  test('a keyword list always fits its budget, keeps what it can in order, and says how many it left out', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 120 }), { maxLength: 400 }), (values) => {
        const bounded = boundedKeywordList(values);
        const distinct = [...new Set(values)].sort();
        expect(utf8Length(JSON.stringify(bounded))).toBeLessThanOrEqual(SEARCH_ATTRIBUTE_LIMITS.listBudgetBytes);
        const marker = /^\(\+(\d+) more\)$/.exec(bounded.at(-1) ?? '');
        const kept = marker ? bounded.slice(0, -1) : bounded;
        expect(kept).toEqual(distinct.slice(0, kept.length));
        expect(kept.length + (marker ? Number(marker[1]) : 0)).toBe(distinct.length);
      }),
    );
  });
  test('a short list is left as it is', () =>
    expect(boundedKeywordList(['b.example', 'a.example', 'b.example'])).toEqual(['a.example', 'b.example']));
});

describe('the JSON shape bound', () => {
  test.each([
    ['deep nesting', `${'['.repeat(JSON_LIMITS.depth + 1)}${']'.repeat(JSON_LIMITS.depth + 1)}`],
    [
      'too many values',
      `[${Array(JSON_LIMITS.nodes + 1)
        .fill(0)
        .join(',')}]`,
    ],
  ])('%s is refused before parsing', (_what, text) => expect(jsonShapeReason(text)).toBeDefined());
  test('brackets and commas inside strings do not count', () => {
    expect(jsonShapeReason(JSON.stringify({ s: `${'[,'.repeat(50_000)}\\"` }))).toBeUndefined();
  });
  test('every JSON a normal email makes passes', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 8 }), (text) => jsonShapeReason(text) === undefined || text.length > 20_000));
  });
});
