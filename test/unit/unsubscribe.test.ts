import { parseConfig } from '../../src/config';
import { createPersonalizer } from '../../src/campaigns/render';
import { emailIdOfUnsubscribeToken, listUnsubscribeHeaders, unsubscribeToken } from '../../src/campaigns/unsubscribe';
import type { EmailMessage } from '../../src/shared';

const SECRET = 'k'.repeat(32);
const EMAIL_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

describe('unsubscribe tokens', () => {
  test('a token names its email, and only under the secret that made it', () => {
    const token = unsubscribeToken(SECRET, EMAIL_ID);
    expect(token).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(emailIdOfUnsubscribeToken(SECRET, token)).toBe(EMAIL_ID);
    expect(emailIdOfUnsubscribeToken('j'.repeat(32), token)).toBeUndefined();
  });

  test('an altered, moved or malformed token names nothing', () => {
    const token = unsubscribeToken(SECRET, EMAIL_ID);
    const [, mac] = token.split('.');
    const other = '3f2504e0-4f89-41d3-9a0c-0305e82c3302';
    for (const bad of [
      `${other}.${mac}`, // another email's id with this one's HMAC
      `${EMAIL_ID}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`,
      `${EMAIL_ID.toUpperCase()}.${mac}`,
      `${EMAIL_ID}.${mac}=`,
      ` ${token}`,
      `${token}\n`,
      EMAIL_ID,
      '',
      '.'.repeat(80),
    ]) {
      expect([bad, emailIdOfUnsubscribeToken(SECRET, bad)]).toEqual([bad, undefined]);
    }
  });

  test('the headers: one https URL in angle brackets, and the one-click POST of RFC 8058', () => {
    expect(listUnsubscribeHeaders({ publicUrl: 'https://mail.example.com', secret: SECRET }, EMAIL_ID)).toEqual({
      'List-Unsubscribe': `<https://mail.example.com/unsubscribe/${unsubscribeToken(SECRET, EMAIL_ID)}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
  });
});

describe('configuration: PUBLIC_URL and UNSUBSCRIBE_SECRET', () => {
  test('neither: links off', () => {
    expect(parseConfig({}).unsubscribe).toBeUndefined();
    expect(parseConfig({ PUBLIC_URL: '', UNSUBSCRIBE_SECRET: '' }).unsubscribe).toBeUndefined();
  });

  test('both: the URL without its trailing slash', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://mail.example.com/herald/', UNSUBSCRIBE_SECRET: SECRET }).unsubscribe).toEqual({
      publicUrl: 'https://mail.example.com/herald',
      secret: SECRET,
    });
  });

  test('one without the other, a short secret or a URL that is not http(s) is refused at boot, by name', () => {
    expect(() => parseConfig({ PUBLIC_URL: 'https://mail.example.com' })).toThrow(/PUBLIC_URL and UNSUBSCRIBE_SECRET go together/);
    expect(() => parseConfig({ UNSUBSCRIBE_SECRET: SECRET })).toThrow(/go together/);
    expect(() => parseConfig({ PUBLIC_URL: 'https://mail.example.com', UNSUBSCRIBE_SECRET: 'short' })).toThrow(
      /UNSUBSCRIBE_SECRET: must be at least 32/,
    );
    for (const url of ['mail.example.com', 'ftp://mail.example.com', 'https://mail.example.com/?a=1', 'https://u:p@mail.example.com']) {
      expect(() => parseConfig({ PUBLIC_URL: url, UNSUBSCRIBE_SECRET: SECRET })).toThrow(/PUBLIC_URL: must be an http/);
    }
  });
});

describe('the personalizer writes the headers into campaign emails only', () => {
  const email = (
    campaign: boolean,
  ): EmailMessage & { id: string; personalization?: { campaignId: string; variables: Record<string, string> } } => ({
    id: EMAIL_ID,
    from: { address: 'news@example.com' },
    subject: 'stored subject',
    messageId: '<m@example.com>',
    content: { to: [{ address: 'ann@example.org' }], cc: [], bcc: [], replyTo: [], text: 'stored', headers: { 'X-Kept': '1' } },
    attachments: [],
    ...(campaign ? { personalization: { campaignId: 'c1', variables: { first: 'Ann' } } } : {}),
  });
  const templates = async () => ({
    render: (_address: string, v: Record<string, string>) => ({ subject: `Hi ${v.first}`, text: 'Hello' }),
  });
  const links = { publicUrl: 'https://mail.example.com', secret: SECRET };

  test('a campaign email gets them beside its own headers; with the links off it gets none', async () => {
    const on = await createPersonalizer(templates as never, links)(email(true));
    expect(on.content.headers).toEqual({ 'X-Kept': '1', ...listUnsubscribeHeaders(links, EMAIL_ID) });
    expect(on.subject).toBe('Hi Ann');
    const off = await createPersonalizer(templates as never)(email(true));
    expect(off.content.headers).toEqual({ 'X-Kept': '1' });
  });

  test('an email of the API or SMTP submission is sent as it is', async () => {
    const plain = email(false);
    expect(await createPersonalizer(templates as never, links)(plain)).toBe(plain);
  });
});
