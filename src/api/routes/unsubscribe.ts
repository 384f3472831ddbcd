import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { Problem } from '../problem';
import { createRouter, limitBody } from '../router';
import { problem } from '../schemas/responses';
import { emailIdOfUnsubscribeToken } from '../../campaigns/unsubscribe';

// One-click unsubscribe (RFC 8058): the URL of a campaign email's List-Unsubscribe header. Mail
// providers POST to it when the recipient clicks "unsubscribe"; that POST suppresses the
// recipient for the email's tenant. A GET (a person who opened the link, or a scanner that
// fetches every link) only shows a button that POSTs: fetching a link must never unsubscribe.
// No API key: the token (the email id and its HMAC) is the credential.

/** What a mail provider POSTs is `List-Unsubscribe=One-Click`; nothing larger is read. */
const BODY_BYTES = 4 * 1024;
const TokenParam = z.object({ token: z.string().max(200).openapi({ description: 'From the List-Unsubscribe URL' }) });
const html = (description: string) => ({ content: { 'text/html': { schema: z.string() } }, description });
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
const CONFIRM = page(
  'Unsubscribe',
  '<p>Stop receiving these emails?</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>',
);
const DONE = page('Unsubscribed', '<p>You will not receive these emails any more.</p>');

export function unsubscribeRoutes({ suppressions, unsubscribeSecret }: ApiDeps) {
  const notFound = () => new Problem(404, 'not-found', 'No such unsubscribe link');
  /** The email a token names, if the token is ours (and unsubscribe links are on). */
  const emailOf = (token: string) => {
    const emailId = unsubscribeSecret ? emailIdOfUnsubscribeToken(unsubscribeSecret, token) : undefined;
    if (!emailId) throw notFound();
    return emailId;
  };

  const confirm = createRoute({
    method: 'get',
    path: '/{token}',
    summary: 'The unsubscribe link opened in a browser: a button that unsubscribes (nothing happens on GET)',
    request: { params: TokenParam },
    responses: {
      200: html('A page with one button'),
      400: problem('validation-error: a token too long'),
      404: problem('not-found: no such link'),
    },
  });
  const unsubscribe = createRoute({
    method: 'post',
    path: '/{token}',
    summary: "One-click unsubscribe (RFC 8058): the email's recipient goes on its tenant's suppression list (source unsubscribe)",
    middleware: limitBody(BODY_BYTES),
    request: { params: TokenParam },
    responses: {
      200: html('Unsubscribed (also when the address was already on the list)'),
      400: problem('validation-error: a token too long'),
      404: problem('not-found: no such link'),
      413: problem('payload-too-large: a body over 4 KiB'),
    },
  });

  return createRouter()
    .openapi(confirm, (c) => {
      emailOf(c.req.valid('param').token);
      return c.html(CONFIRM, 200, PAGE_HEADERS);
    })
    .openapi(unsubscribe, async (c) => {
      await suppressions.unsubscribe(emailOf(c.req.valid('param').token));
      return c.html(DONE, 200, PAGE_HEADERS);
    });
}
