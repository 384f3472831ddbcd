import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { goInstallSource, resolveTemporalCli, type CliSource } from '../../src/dev/temporal-cli';

// The CLI's fallbacks, without the internet and without building Go for minutes: the SDK's
// download is made to fail, and `go` is a fake on PATH that "builds" a script.

const failingDownload: CliSource = {
  name: 'download by the Temporal SDK',
  fetch: async () => {
    throw new Error('simulated: temporal.download unreachable');
  },
};

const saved = { PATH: process.env.PATH, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
let root: string;
let binDir: string;
let messages: string[];
const log = (m: string) => messages.push(m);

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'herald-cli-test-'));
  binDir = path.join(root, 'path');
  mkdirSync(binDir);
  process.env.PATH = binDir; // nothing else: no real `temporal`, no real `go`
  process.env.XDG_CACHE_HOME = path.join(root, 'cache');
  messages = [];
});
afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(root, { recursive: true, force: true });
});

/** A fake `go` (a Node script, so it needs nothing on PATH) that records its arguments. */
function fakeGo(behaviour: 'builds' | 'fails') {
  const go = path.join(binDir, 'go');
  const body =
    behaviour === 'builds'
      ? `fs.writeFileSync(path.join(process.env.GOBIN, 'temporal'), '#!/bin/sh\\necho fake temporal\\n', { mode: 0o755 });`
      : `process.stderr.write('go: github.com/temporalio/cli@v: module lookup disabled\\n'); process.exit(1);`;
  writeFileSync(
    go,
    `#!${process.execPath}\nconst fs = require('fs'), path = require('path');\nfs.appendFileSync(${JSON.stringify(path.join(root, 'go-calls'))}, process.argv.slice(2).join(' ') + '\\n');\n${body}\n`,
  );
  chmodSync(go, 0o755);
}
const goCalls = () => (existsSync(path.join(root, 'go-calls')) ? readFileSync(path.join(root, 'go-calls'), 'utf8').trim().split('\n') : []);

test('a failed download falls through to go install, which fills the cache', async () => {
  fakeGo('builds');
  const cli = await resolveTemporalCli(undefined, log, [failingDownload, goInstallSource]);
  expect(cli).toBe(path.join(root, 'cache', 'herald', 'bin', 'temporal'));
  expect(readFileSync(cli, 'utf8')).toContain('fake temporal');
  expect(goCalls()).toEqual(['install github.com/temporalio/cli/cmd/temporal@v1.5.1']);
  expect(messages.join('\n')).toMatch(/download by the Temporal SDK of the Temporal CLI failed: simulated/);

  // The next start finds it in the cache and neither downloads nor builds.
  const again = await resolveTemporalCli(
    undefined,
    log,
    [failingDownload, goInstallSource].map((s) => ({ ...s, fetch: () => Promise.reject(new Error(`${s.name} must not run`)) })),
  );
  expect(again).toBe(cli);
});

test('when go install fails too, the error says what to install', async () => {
  fakeGo('fails');
  const error = await resolveTemporalCli(undefined, log, [failingDownload, goInstallSource]).catch((e: Error) => e);
  expect(error).toBeInstanceOf(Error);
  const message = (error as Error).message;
  expect(message).toMatch(/download by the Temporal SDK: simulated/);
  expect(message).toMatch(/go install: go install github.com\/temporalio\/cli\/cmd\/temporal@v1.5.1 failed: go: .*module lookup disabled/);
  expect(message).toMatch(/install the Temporal CLI so that `temporal` is on PATH/);
  expect(message).toMatch(/set TEMPORAL_CLI/);
  expect(message).toMatch(/install Go/);
  expect(message).toMatch(/TEMPORAL_ADDRESS/);
  // Every fallback version was tried; nothing half-built was left in the cache.
  expect(goCalls()).toHaveLength(3);
  expect(existsSync(path.join(root, 'cache', 'herald', 'bin', 'temporal'))).toBe(false);
});

test('without Go at all, the error says so', async () => {
  const error = (await resolveTemporalCli(undefined, log, [failingDownload, goInstallSource]).catch((e: Error) => e)) as Error;
  expect(error.message).toMatch(/go is not installed/);
});

test('TEMPORAL_CLI wins, and must be an executable', async () => {
  const cli = path.join(root, 'my-temporal');
  writeFileSync(cli, '#!/bin/sh\n', { mode: 0o755 });
  await expect(resolveTemporalCli(cli, log, [])).resolves.toBe(cli);
  await expect(resolveTemporalCli(path.join(root, 'missing'), log, [])).rejects.toThrow(/TEMPORAL_CLI=.*missing is not an executable file/);
});

test('a temporal on PATH comes before the cache', async () => {
  const onPath = path.join(binDir, 'temporal');
  writeFileSync(onPath, '#!/bin/sh\n', { mode: 0o755 });
  await expect(resolveTemporalCli(undefined, log, [])).resolves.toBe(onPath);
});
