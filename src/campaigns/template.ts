import Handlebars from 'handlebars';

// A campaign's subject, text and html are Handlebars templates restricted to plain text and
// `{{name}}` variables: no helpers, blocks, partials, paths or literals. What a template may use
// is checked once, on its syntax tree, when the campaign is created; each recipient must then give
// every variable its templates use, so a typo in a variable name stops the campaign's first
// upload (or its creation, when `variables` is declared), never a send.
//
// Why Handlebars: maintained, the `{{name}}` syntax, HTML-escaping by default (`{{x}}` escapes
// & < > " ' ` =), a parser whose syntax tree can be checked before anything is compiled, and
// templates compiled once per campaign into plain functions.

export type TemplateField = 'subject' | 'text' | 'html';

export interface CampaignTemplates {
  subject: string;
  text?: string | null;
  html?: string | null;
}

export interface RenderedMessage {
  subject: string;
  text?: string;
  html?: string;
}

/** `{{email}}` is the recipient's address: every template may use it, no upload gives it. */
export const ADDRESS_VARIABLE = 'email';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** What a subject may not contain once rendered: it is a header (header injection). */
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/;
/** A recipient's variable value, at most (characters). */
export const MAX_VARIABLE_LENGTH = 1000;
const MAX_SUBJECT_LENGTH = 998;

export class TemplateError extends Error {
  constructor(
    readonly field: TemplateField | 'variables',
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** A rendered message that cannot be sent (never expected: recipients are checked at upload). */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

export function isVariableName(name: string): boolean {
  return VARIABLE_NAME.test(name) && !(name in Object.prototype);
}

interface Node {
  type: string;
  path?: { type: string; parts?: string[]; original?: string; data?: boolean; depth?: number };
  params?: unknown[];
  hash?: unknown;
  escaped?: boolean;
}

/** The variables one template uses; throws a TemplateError for anything but text and `{{name}}`. */
export function variablesOf(field: TemplateField, source: string): string[] {
  let body: Node[];
  try {
    body = (Handlebars.parse(source) as unknown as { body: Node[] }).body;
  } catch (err) {
    throw new TemplateError(field, `not a valid template: ${String((err as Error).message).split('\n')[0]}`);
  }
  const names = new Set<string>();
  for (const node of body) {
    if (node.type === 'ContentStatement' || node.type === 'CommentStatement') continue;
    const path = node.path;
    const simple =
      node.type === 'MustacheStatement' &&
      path?.type === 'PathExpression' &&
      !path.data &&
      path.depth === 0 &&
      path.parts?.length === 1 &&
      path.original === path.parts[0] &&
      (node.params?.length ?? 0) === 0 &&
      !node.hash;
    if (!simple) {
      const what =
        node.type === 'MustacheStatement'
          ? `{{${path?.original ?? '...'}${node.params?.length ? ' ...' : ''}}}`
          : node.type.replace(/Statement$/, '').toLowerCase();
      throw new TemplateError(field, `only {{name}} variables may be used; found ${what}`);
    }
    const name = path!.parts![0];
    if (!isVariableName(name))
      throw new TemplateError(field, `{{${name}}} is not a usable variable name (letters, digits and _, not starting with a digit)`);
    // Unescaped output ({{{x}}}, {{& x}}) would put a recipient's data into the html as markup.
    if (field === 'html' && node.escaped === false) throw new TemplateError(field, `{{{${name}}}} inserts unescaped HTML; use {{${name}}}`);
    names.add(name);
  }
  return [...names];
}

export interface TemplateVariables {
  /** Every variable the templates use, besides {{email}}, sorted: what each recipient must give. */
  variables: string[];
  /** Those the subject uses: their values may not contain CR, LF or other control characters. */
  subjectVariables: string[];
}

/**
 * Checks a campaign's templates and names the variables they use. With `declared`, a variable
 * the templates use that is not declared is refused (a typo caught at creation).
 */
export function analyzeTemplates(templates: CampaignTemplates, declared?: string[]): TemplateVariables {
  if (CONTROL_CHARACTERS.test(templates.subject))
    throw new TemplateError('subject', 'the subject must not contain CR, LF or other control characters');
  const subject = variablesOf('subject', templates.subject);
  const all = new Set(subject);
  for (const field of ['text', 'html'] as const) {
    const source = templates[field];
    if (typeof source === 'string') for (const name of variablesOf(field, source)) all.add(name);
  }
  all.delete(ADDRESS_VARIABLE);
  if (declared) {
    for (const name of declared) if (!isVariableName(name)) throw new TemplateError('variables', `${name} is not a usable variable name`);
    const known = new Set([...declared, ADDRESS_VARIABLE]);
    for (const field of ['subject', 'text', 'html'] as const) {
      const source = templates[field];
      if (typeof source !== 'string') continue;
      const unknown = variablesOf(field, source).filter((n) => !known.has(n));
      if (unknown.length)
        throw new TemplateError(
          field,
          `unknown variable ${unknown.map((n) => `{{${n}}}`).join(', ')}: not in variables (${declared.join(', ') || 'none'})`,
        );
    }
  }
  return { variables: [...all].sort(), subjectVariables: subject.filter((n) => n !== ADDRESS_VARIABLE).sort() };
}

/** One recipient's variable values, checked against what the templates use. */
export function checkVariables(
  spec: TemplateVariables,
  fields: Record<string, unknown>,
): { variables: Record<string, string> } | { error: string } {
  const variables: Record<string, string> = {};
  const inSubject = new Set(spec.subjectVariables);
  for (const name of spec.variables) {
    const value = Object.prototype.hasOwnProperty.call(fields, name) ? fields[name] : undefined;
    if (value === undefined || value === null) return { error: `${name}: missing (the templates use {{${name}}})` };
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      return { error: `${name}: must be a string, number or boolean` };
    const text = String(value);
    if (text.length > MAX_VARIABLE_LENGTH) return { error: `${name}: longer than ${MAX_VARIABLE_LENGTH} characters` };
    if (inSubject.has(name) && CONTROL_CHARACTERS.test(text))
      return { error: `${name}: used in the subject, must not contain CR, LF or other control characters` };
    variables[name] = text;
  }
  return { variables };
}

export interface CompiledCampaign {
  /** One recipient's message: subject, text and html. */
  render(address: string, variables: Record<string, string>): RenderedMessage;
  /** Its subject alone (checked at upload, shown in listings). */
  subject(address: string, variables: Record<string, string>): string;
}

// An environment of its own: nothing registered on the global Handlebars reaches campaigns.
const handlebars = Handlebars.create();

/** Compiles a campaign's templates once; the result renders each recipient's message. */
export function compileTemplates(templates: CampaignTemplates): CompiledCampaign {
  analyzeTemplates(templates);
  // strict: a variable missing from the data throws instead of rendering as nothing.
  const compile = (source: string, escape: boolean) =>
    handlebars.compile(source, { strict: true, knownHelpersOnly: true, noEscape: !escape });
  const subjectTemplate = compile(templates.subject, false);
  const text = typeof templates.text === 'string' ? compile(templates.text, false) : undefined;
  const html = typeof templates.html === 'string' ? compile(templates.html, true) : undefined;
  // No prototype: a variable name can only ever read the recipient's own values.
  const dataOf = (address: string, variables: Record<string, string>) =>
    Object.assign(Object.create(null) as Record<string, string>, variables, { [ADDRESS_VARIABLE]: address });
  const run = <T>(address: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new RenderError(`the templates cannot be rendered for ${address}: ${(err as Error).message}`);
    }
  };
  const subject = (address: string, variables: Record<string, string>) => {
    const rendered = run(address, () => subjectTemplate(dataOf(address, variables)));
    if (CONTROL_CHARACTERS.test(rendered)) throw new RenderError(`the subject rendered for ${address} contains control characters`);
    if (rendered.length > MAX_SUBJECT_LENGTH)
      throw new RenderError(`the subject rendered for ${address} is longer than ${MAX_SUBJECT_LENGTH} characters`);
    return rendered;
  };
  return {
    subject,
    render(address, variables) {
      const data = dataOf(address, variables);
      return { subject: subject(address, variables), ...run(address, () => ({ text: text?.(data), html: html?.(data) })) };
    },
  };
}
