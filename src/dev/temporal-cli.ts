import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { findBinary, findOnPath, goInstall, heraldBinDir } from './binary-cache';

// The Temporal CLI is not on npm. Herald uses, in this order: TEMPORAL_CLI, a `temporal` on
// PATH, one in its own cache, or fills the cache once: first with the release the Temporal SDK
// itself downloads (needs the internet), then by building it with `go install` (a few
// minutes; needs Go and its module proxy). Later tags than v1.5.1 carry `replace` directives
// and cannot be built that way; the older ones are fallbacks.
export const TEMPORAL_CLI_VERSIONS = ['v1.5.1', 'v1.4.1', 'v1.3.0'];

/** Where the CLI is cached (shared with the server binaries). */
export const temporalCliCacheDir = heraldBinDir;

/** One way of filling the cache: resolves to the path of a working `temporal`, or throws why not. */
export type CliSource = { name: string; fetch(target: string, log: (msg: string) => void): Promise<string> };

export const sdkDownload: CliSource = {
  name: 'download by the Temporal SDK',
  async fetch(target, log) {
    log('herald: no Temporal CLI found; downloading it the way the Temporal SDK does (temporal.download)...');
    // @temporalio/testing is a development dependency: an install without it skips this step.
    let testing: typeof import('@temporalio/testing');
    try {
      testing = await import('@temporalio/testing');
    } catch {
      throw new Error('@temporalio/testing is not installed');
    }
    // The SDK downloads the CLI only to start a dev server with it: start one, stop it, keep the file.
    const downloadDir = `${target}.download`;
    mkdirSync(downloadDir, { recursive: true });
    try {
      const env = await testing.TestWorkflowEnvironment.createLocal({
        server: { executable: { type: 'cached-download', downloadDir }, ui: false },
      });
      await env.teardown();
      const [file] = readdirSync(downloadDir).filter((f) => f.startsWith('temporal') && !f.endsWith('.downloading'));
      if (!file) throw new Error(`the SDK left no executable in ${downloadDir}`);
      renameSync(path.join(downloadDir, file), target);
      return target;
    } finally {
      rmSync(downloadDir, { recursive: true, force: true });
    }
  },
};

export const goInstallSource: CliSource = {
  name: 'go install',
  async fetch(target, log) {
    if (!findOnPath('go')) throw new Error('go is not installed (not found on PATH)');
    const errors: string[] = [];
    for (const version of TEMPORAL_CLI_VERSIONS) {
      log(
        `herald: building github.com/temporalio/cli/cmd/temporal@${version} into ${path.dirname(target)} (first run only, a few minutes)...`,
      );
      try {
        const built = await goInstall(`github.com/temporalio/cli/cmd/temporal@${version}`, path.basename(target));
        log(`herald: Temporal CLI ${version} built at ${built}`);
        return built;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(errors.join('; '));
  },
};

export const DEFAULT_CLI_SOURCES: readonly CliSource[] = [sdkDownload, goInstallSource];

export async function resolveTemporalCli(
  explicit: string | undefined,
  log: (msg: string) => void = (m) => console.error(m),
  sources: readonly CliSource[] = DEFAULT_CLI_SOURCES,
): Promise<string> {
  const found = findBinary('temporal', explicit, 'TEMPORAL_CLI');
  if (found) return found;

  const target = path.join(heraldBinDir(), 'temporal');
  mkdirSync(path.dirname(target), { recursive: true });
  const failures: string[] = [];
  for (const source of sources) {
    try {
      return await source.fetch(target, log);
    } catch (err) {
      failures.push(`  ${source.name}: ${(err as Error).message}`);
      log(`herald: ${source.name} of the Temporal CLI failed: ${(err as Error).message}`);
    }
  }
  throw new Error(
    [
      'Herald needs the Temporal CLI (`temporal`) to run a development Temporal server, and could not find, download or build it:',
      ...failures,
      'Do one of these, then start Herald again:',
      '  - install the Temporal CLI so that `temporal` is on PATH (https://docs.temporal.io/cli#install,',
      '    e.g. `brew install temporal`, or `curl -sSf https://temporal.download/cli.sh | sh`);',
      '  - or set TEMPORAL_CLI to the path of a `temporal` binary;',
      `  - or install Go 1.25 or later (https://go.dev/dl/) with access to its module proxy: Herald then builds the CLI into ${path.dirname(target)};`,
      '  - or set TEMPORAL_ADDRESS to a Temporal server you already run.',
    ].join('\n'),
  );
}
