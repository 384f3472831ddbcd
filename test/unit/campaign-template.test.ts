import { analyzeTemplates, checkVariables, compileTemplates, RenderError, TemplateError, variablesOf } from '../../src/campaigns/template';

// Campaign templates: plain text and {{name}} only, HTML escaped, subjects that stay one header.

describe('what a template may use', () => {
  test('names the variables of every field, {{email}} aside, and those of the subject', () => {
    const spec = analyzeTemplates({
      subject: 'Hello {{first}}',
      text: 'Dear {{first}} {{last}}, {{email}}',
      html: '<p>{{amount}}</p>{{! a comment }}',
    });
    expect(spec).toEqual({ variables: ['amount', 'first', 'last'], subjectVariables: ['first'] });
  });

  test.each([
    ['a helper', '{{upper name}}'],
    ['a block', '{{#if vip}}Hi{{/if}}'],
    ['a partial', '{{> footer}}'],
    ['a path', '{{user.name}}'],
    ['this', '{{this.name}}'],
    ['a parent path', '{{../name}}'],
    ['data', '{{@index}}'],
    ['a literal', '{{"text"}}'],
    ['a hash', '{{name x=1}}'],
  ])('refuses %s', (_what, source) => {
    expect(() => variablesOf('text', source)).toThrow(TemplateError);
  });

  test('refuses unescaped output in html, allows it in text (which is never escaped)', () => {
    expect(() => variablesOf('html', '<p>{{{bio}}}</p>')).toThrow(/unescaped/);
    expect(() => variablesOf('html', '<p>{{& bio}}</p>')).toThrow(/unescaped/);
    expect(variablesOf('text', '{{{bio}}}')).toEqual(['bio']);
  });

  test('refuses a syntax error, naming the field', () => {
    try {
      analyzeTemplates({ subject: 'Hi', html: '<p>{{name</p>' });
      throw new Error('not refused');
    } catch (err) {
      expect(err).toBeInstanceOf(TemplateError);
      expect((err as TemplateError).field).toBe('html');
    }
  });

  test('refuses names that would reach Object.prototype', () => {
    expect(() => variablesOf('text', '{{constructor}}')).toThrow(TemplateError);
    expect(() => variablesOf('text', '{{__proto__}}')).toThrow(TemplateError);
  });

  test('a subject template with CR or LF is refused', () => {
    expect(() => analyzeTemplates({ subject: 'Hi\r\nBcc: x@example.org', text: 'x' })).toThrow(/control characters/);
  });

  test('with declared variables, a typo is caught at creation', () => {
    expect(analyzeTemplates({ subject: 'Hi {{first}}', text: '{{first}}' }, ['first', 'last']).variables).toEqual(['first']);
    expect(() => analyzeTemplates({ subject: 'Hi {{frist}}', text: '{{first}}' }, ['first'])).toThrow(/unknown variable \{\{frist\}\}/);
    expect(() => analyzeTemplates({ subject: 'Hi', text: '{{email}}' }, [])).not.toThrow();
  });
});

describe("a recipient's variables", () => {
  const spec = analyzeTemplates({ subject: 'Hi {{first}}', text: '{{first}} {{amount}}' });

  test('each variable the templates use must be there; numbers and booleans become text; extra fields are dropped', () => {
    expect(checkVariables(spec, { first: 'Ann', amount: 12.5, other: 'x' })).toEqual({ variables: { first: 'Ann', amount: '12.5' } });
    expect(checkVariables(spec, { first: 'Ann' })).toEqual({ error: expect.stringMatching(/^amount: missing/) });
    expect(checkVariables(spec, { first: 'Ann', amount: { x: 1 } })).toEqual({ error: expect.stringMatching(/^amount: must be/) });
  });

  test('a value used in the subject may not carry CR, LF or other control characters; one used in the text may', () => {
    expect(checkVariables(spec, { first: 'Ann\r\nBcc: evil@example.org', amount: 1 })).toEqual({
      error: expect.stringMatching(/^first: used in the subject/),
    });
    expect(checkVariables(spec, { first: 'Ann', amount: '1\n2' })).toEqual({ variables: { first: 'Ann', amount: '1\n2' } });
  });

  test('a value is bounded', () => {
    expect(checkVariables(spec, { first: 'x'.repeat(1001), amount: 1 })).toEqual({ error: expect.stringMatching(/longer than 1000/) });
  });
});

describe('rendering', () => {
  const compiled = compileTemplates({ subject: 'Hello {{first}}', text: 'Dear {{first}} <{{email}}>', html: '<p>Hello {{first}}</p>' });

  test('html escapes what it inserts; text and subject do not', () => {
    const out = compiled.render('ann@example.org', { first: `<b>Ann & "Bo"</b>` });
    expect(out.html).toBe('<p>Hello &lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;</p>');
    expect(out.text).toBe('Dear <b>Ann & "Bo"</b> <ann@example.org>');
    expect(out.subject).toBe('Hello <b>Ann & "Bo"</b>');
  });

  test('a variable missing at send time is an error, not an empty string (strict)', () => {
    expect(() => compiled.render('ann@example.org', {})).toThrow(RenderError);
  });

  test('a rendered subject with control characters or over 998 characters is refused', () => {
    expect(() => compiled.subject('ann@example.org', { first: 'A\nB' })).toThrow(/control characters/);
    expect(() => compiled.subject('ann@example.org', { first: 'x'.repeat(1000) })).toThrow(/longer than 998/);
  });

  test('nothing on the prototype is reachable', () => {
    const proto = compileTemplates({ subject: 'x', text: '[{{toStringX}}]' });
    expect(() => proto.render('a@example.org', {})).toThrow(RenderError);
  });
});
