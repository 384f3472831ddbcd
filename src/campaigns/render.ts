import type { EmailMessage } from '../shared';
import { compileTemplates, RenderError, type CampaignTemplates, type CompiledCampaign } from './template';
import { listUnsubscribeHeaders, type UnsubscribeLinks } from './unsubscribe';

// Campaign emails carry no body of their own: the send path renders each one from its
// campaign's templates and its recipient's variables, right before building the message.

/** The personalization of a campaign's email: its campaign and its recipient's variables. */
export interface Personalization {
  campaignId: string;
  variables: Record<string, string>;
}

/** Compiled templates per campaign, compiled once per process (a campaign's templates never change). */
export function createTemplateCache(load: (campaignId: string) => Promise<CampaignTemplates | undefined>, maxCampaigns = 256) {
  const cache = new Map<string, CompiledCampaign>();
  return async function compiled(campaignId: string): Promise<CompiledCampaign> {
    const hit = cache.get(campaignId);
    if (hit) return hit;
    const templates = await load(campaignId);
    if (!templates) throw new RenderError(`campaign ${campaignId} not found`);
    const fresh = compileTemplates(templates);
    if (cache.size >= maxCampaigns) cache.delete(cache.keys().next().value!);
    cache.set(campaignId, fresh);
    return fresh;
  };
}

export type TemplateCache = ReturnType<typeof createTemplateCache>;

/**
 * The message as it is sent: a campaign's email gets its subject, text and html rendered for
 * its recipient, and (when the operator configured the links) its one-click unsubscribe headers;
 * any other email is returned as it is. Throws a RenderError when the templates cannot be
 * rendered (the send path turns it into a failure that is not retried).
 */
export function createPersonalizer(templates: TemplateCache, unsubscribe?: UnsubscribeLinks) {
  return async function personalize<T extends EmailMessage>(email: T & { id: string; personalization?: Personalization }): Promise<T> {
    const p = email.personalization;
    if (!p) return email;
    const address = email.content.to[0]?.address;
    if (!address) throw new RenderError('a campaign email without its recipient');
    const rendered = (await templates(p.campaignId)).render(address, p.variables);
    const headers = unsubscribe ? { ...email.content.headers, ...listUnsubscribeHeaders(unsubscribe, email.id) } : email.content.headers;
    return { ...email, subject: rendered.subject, content: { ...email.content, headers, text: rendered.text, html: rendered.html } };
  };
}
