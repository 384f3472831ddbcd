// The address rule of the API, in the one place campaigns reach it (repoint this import when the
// rule moves into src/shared).
import { validAddress } from '../api/schemas/email';
import { checkVariables, RenderError, type CompiledCampaign, type TemplateVariables } from './template';

export interface Recipient {
  address: string;
  variables: Record<string, string>;
}

/** One uploaded row as a recipient: the address by the API's rule, the variables the templates use, a subject that renders. */
export function recipientOf(
  fields: Record<string, unknown>,
  spec: TemplateVariables,
  subjectOf: CompiledCampaign['subject'],
): Recipient | { error: string } {
  const address = validAddress(typeof fields.email === 'string' ? fields.email.trim() : fields.email);
  if (!address)
    return { error: fields.email === undefined || fields.email === '' ? 'email: missing' : 'email: must be a valid email address' };
  const checked = checkVariables(spec, fields);
  if ('error' in checked) return checked;
  try {
    subjectOf(address, checked.variables);
  } catch (err) {
    if (err instanceof RenderError) return { error: `subject: ${err.message}` };
    throw err;
  }
  return { address, variables: checked.variables };
}
