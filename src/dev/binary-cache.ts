import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The Go programs Herald runs (the Temporal CLI, server and sql tool) are not on npm. Each is
// found the same way: an explicit path, then PATH, then Herald's own cache, which is filled
// once (by a download or by `go install`).

/** `$XDG_CACHE_HOME/herald/bin`, else `~/.cache/herald/bin`. */
export function heraldBinDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'herald', 'bin');
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The explicit path (which must exist), else `name` on PATH, else `name` in the cache.
 * `envName` only words the error.
 */
export function findBinary(name: string, explicit: string | undefined, envName: string): string | undefined {
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`${envName}=${explicit} is not an executable file`);
    return explicit;
  }
  const cached = path.join(heraldBinDir(), name);
  return findOnPath(name) ?? (isExecutable(cached) ? cached : undefined);
}

/**
 * `go install module/cmd/x@version` into the cache, renamed to `name` there (Go names a binary
 * after its folder: `server`, `sql`, which say nothing in a shared bin folder). Builds into a
 * temporary folder first so a failed build never leaves a half-written binary under `name`.
 */
export async function goInstall(packageAtVersion: string, name: string): Promise<string> {
  const binDir = heraldBinDir();
  mkdirSync(binDir, { recursive: true });
  const gobin = mkdtempSync(path.join(binDir, '.go-install-'));
  try {
    await run('go', ['install', packageAtVersion], {
      env: { ...process.env, GOBIN: gobin },
      maxBuffer: 64 * 1024 * 1024,
    });
    const built = readdirSync(gobin);
    if (built.length !== 1) throw new Error(`go install ${packageAtVersion} produced ${built.length} files`);
    const target = path.join(binDir, name);
    renameSync(path.join(gobin, built[0]), target);
    return target;
  } catch (err) {
    throw new Error(`go install ${packageAtVersion} failed: ${describeRunError(err)}`, { cause: err });
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** The last lines of a failed command's stderr, or why it did not run at all. */
export function describeRunError(err: unknown): string {
  const e = err as { code?: string; stderr?: string; message?: string; path?: string };
  if (e.code === 'ENOENT') return `${e.path ?? 'the command'} is not installed (not found on PATH)`;
  return (e.stderr || e.message || String(err)).trim().split('\n').slice(-3).join(' | ');
}
