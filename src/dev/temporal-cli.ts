import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The Temporal CLI is not on npm. Herald uses, in this order: TEMPORAL_CLI, a `temporal` on
// PATH, one in its own cache, or builds one there with `go install` (a few minutes, once).
// Later tags than v1.5.1 carry `replace` directives and cannot be built that way; the older
// ones are fallbacks.
export const TEMPORAL_CLI_VERSIONS = ['v1.5.1', 'v1.4.1', 'v1.3.0'];

export function temporalCliCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'herald', 'bin');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export async function resolveTemporalCli(
  explicit: string | undefined,
  log: (msg: string) => void = (m) => console.error(m),
): Promise<string> {
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI=${explicit} is not an executable file`);
    return explicit;
  }
  const found = onPath('temporal');
  if (found) return found;
  const cacheDir = temporalCliCacheDir();
  const cached = path.join(cacheDir, 'temporal');
  if (isExecutable(cached)) return cached;

  mkdirSync(cacheDir, { recursive: true });
  const errors: string[] = [];
  for (const version of TEMPORAL_CLI_VERSIONS) {
    log(`herald: no Temporal CLI found; building github.com/temporalio/cli/cmd/temporal@${version} into ${cacheDir} (first run only, a few minutes)...`);
    try {
      await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${version}`], {
        env: { ...process.env, GOBIN: cacheDir },
        maxBuffer: 64 * 1024 * 1024,
      });
      if (isExecutable(cached)) {
        log(`herald: Temporal CLI ${version} built at ${cached}`);
        return cached;
      }
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      errors.push(`${version}: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
  }
  throw new Error(
    `Could not find or build the Temporal CLI. Install Go and retry, or set TEMPORAL_CLI.\n${errors.join('\n')}`,
  );
}
