import { existsSync } from 'node:fs';
import path from 'node:path';

// The repository's root, found from here whether this file runs from test/support (jest, the
// fault suite) or compiled into dist-bench/test/support (the benchmark): the first folder up
// that holds package.json.

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);

/** The compiled entry points (api.js, worker.js, migrate.js) of a Herald build: this checkout's by default. */
export function distBin(heraldRoot: string = REPO_ROOT): string {
  return path.join(heraldRoot, 'dist', 'bin');
}
