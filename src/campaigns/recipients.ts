import { normalizeAddress } from '../shared';
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
  if (fields.email === undefined || fields.email === '') return { error: 'email: missing' };
  // The address rule of every intake (src/shared/address.ts): lower-cased, the domain in ASCII.
  const checked_ =
    typeof fields.email === 'string' ? normalizeAddress(fields.email.trim()) : { ok: false as const, reason: 'must be a string' };
  if (!checked_.ok) return { error: `email: ${checked_.reason}` };
  const address = checked_.value;
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
