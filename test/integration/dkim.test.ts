import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { createTenantStore } from '../../src/db/tenants';
import { createHarness, validEmail, type Harness } from '../support/harness';

// DKIM: the operator gives a tenant's sending domain a key (herald dkim set), the worker signs
// that domain's mail with it, and the signature verifies against the published record
// (mailauth, with the TXT record the CLI printed as the only DNS). The key never shows up in the
// workflow's history, the API's answers or the timeline. Also: herald tenant update --gateways.

let h: Harness;
let domain: string;
beforeAll(async () => {
  h = await createHarness();
  domain = `${randomUUID().slice(0, 8)}.herald.test`;
  await createTenantStore(h.sql).update(h.tenantId, { sendingDomains: [domain] });
});
afterAll(async () => {
  await h.close();
});

const herald = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['dist/bin/herald.js', ...args],
      { env: { ...process.env, DATABASE_URL: process.env.HERALD_TEST_DATABASE_URL } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });

function resolverFor(record: { name: string; value: string }) {
  return async (name: string, type: string) => {
    if (type === 'TXT' && name === record.name) return [[record.value]];
    throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  };
}

test('herald dkim set: the mail of that domain is signed, and the signature verifies', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'herald-dkim-')), 'key.pem');
  writeFileSync(file, pem, { mode: 0o600 });

  const set = await herald('dkim', 'set', '--tenant', h.tenantId, '--domain', domain, '--selector', 's2026', '--private-key-file', file);
  expect(set.code).toBe(0);
  const [, name, value] = /^(\S+)\. IN TXT "(.+)"$/m.exec(set.stdout)!;
  expect(name).toBe(`s2026._domainkey.${domain}`);
  expect(value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
  expect(set.stdout + set.stderr).not.toContain('PRIVATE KEY');
  expect((await herald('dkim', 'list', '--tenant', h.tenantId)).stdout).toMatch(
    new RegExp(`${domain.replace(/\./g, '\\.')}\\s+selector s2026`),
  );

  const res = await h.post(
    validEmail({ from: `news@${domain}`, to: ['reader@example.org'], subject: 'Signed', text: 'Signed by Herald.' }),
  );
  expect(res.status).toBe(202);
  const email = await h.waitForStatus(((await res.json()) as any).id, ['sent']);
  const [received] = h.smtp.byMessageId(email.messageId);
  expect(received.raw.toString()).toMatch(
    new RegExp(`^DKIM-Signature: v=1; a=rsa-sha256;[^]*?\\bd=${domain.replace(/\./g, '\\.')}; q=dns/txt; s=s2026;`, 'm'),
  );

  const verified = await dkimVerify(received.raw, { resolver: resolverFor({ name, value }) });
  expect(verified.results).toHaveLength(1);
  expect(verified.results[0]).toMatchObject({ signingDomain: domain, selector: 's2026', status: { result: 'pass' } });
  // The check can fail: a changed body does not verify (its body hash differs: mailauth says neutral).
  const tampered = Buffer.from(received.raw.toString().replace('Signed by Herald.', 'Signed by someone.'));
  expect((await dkimVerify(tampered, { resolver: resolverFor({ name, value }) })).results[0].status.result).not.toBe('pass');

  // The key is nowhere but in its table: not in the workflow's history, the API or the timeline.
  const secret = pem.split('\n')[5];
  const history = await h.client.workflow.getHandle(email.workflowId).fetchHistory();
  expect(JSON.stringify(history)).not.toContain(secret);
  expect(JSON.stringify(email)).not.toContain(secret);
  expect(JSON.stringify(await (await h.request(`/v1/emails/${email.id}/events`)).json())).not.toContain(secret);

  // Other domains go unsigned; a removed key signs no more.
  expect((await herald('dkim', 'remove', '--tenant', h.tenantId, '--domain', domain)).code).toBe(0);
  const after = await h.post(validEmail({ from: `news@${domain}`, to: ['reader@example.org'] }));
  const unsigned = await h.waitForStatus(((await after.json()) as any).id, ['sent']);
  expect(h.smtp.byMessageId(unsigned.messageId)[0].raw.toString()).not.toMatch(/^DKIM-Signature:/m);
});

test('herald dkim set refuses a key that is not RSA PEM, a domain the tenant does not send from, a bad selector', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-dkim-'));
  const junk = path.join(dir, 'junk.pem');
  writeFileSync(junk, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
  const ed = path.join(dir, 'ed.pem');
  writeFileSync(ed, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const rsa = path.join(dir, 'rsa.pem');
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const set = (...args: string[]) => herald('dkim', 'set', '--tenant', h.tenantId, ...args);
  expect(await set('--domain', domain, '--selector', 's1', '--private-key-file', junk)).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('not an RSA private key'),
  });
  expect(await set('--domain', domain, '--selector', 's1', '--private-key-file', ed)).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('not an RSA private key'),
  });
  expect(await set('--domain', 'elsewhere.example', '--selector', 's1', '--private-key-file', rsa)).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('not one of tenant'),
  });
  expect(await set('--domain', domain, '--selector', 'bad selector', '--private-key-file', rsa)).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('not a DKIM selector'),
  });
  expect((await set('--domain', domain)).code).toBe(2);
  expect(JSON.stringify(await h.sql`select domain from dkim_keys where tenant_id = ${h.tenantId}`)).toBe('[]');
});

test("herald tenant update --gateways sets the tenant's own gateways, in order; --all-gateways clears them", async () => {
  const updated = await herald('tenant', 'update', h.tenantId, '--gateways', 'ses,backup');
  expect(updated.code).toBe(0);
  expect(updated.stdout).toContain('gateways: ses > backup');
  expect((await createTenantStore(h.sql).get(h.tenantId))!.gateways).toEqual(['ses', 'backup']);
  expect((await herald('tenant', 'update', h.tenantId, '--gateways', 'Bad Name')).code).toBe(1);
  expect((await herald('tenant', 'update', h.tenantId, '--gateways', 'a', '--all-gateways')).code).toBe(2);
  const cleared = await herald('tenant', 'update', h.tenantId, '--all-gateways');
  expect(cleared.stdout).toContain('gateways: all, by priority');
  expect((await createTenantStore(h.sql).get(h.tenantId))!.gateways).toEqual([]);
});
